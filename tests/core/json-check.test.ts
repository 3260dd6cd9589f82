import { describe, expect, it } from 'vitest';
import { checkJson } from '../../src/core/input-checks.js';

/** The path and problem checkJson refuses `value` with, or undefined when it passes. */
function refusal(value: unknown, strict: boolean, maxDepth = 255): string | undefined {
  try {
    checkJson(value, { maxDepth, strict }, (path, problem) => {
      throw new Error(`$${path} ${problem}`);
    });
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

function holey(): unknown[] {
  const value: unknown[] = [1];
  value[2] = 3;
  return value;
}

describe('checkJson: the path of what is refused (built only on refusal)', () => {
  it.each([
    [{ list: [1, { deep: 10n }] }, false, '$.list[1].deep is a BigInt'],
    [[0, [1, 2, Number.NaN]], false, '$[1][2] is NaN'],
    [{ a: { b: [undefined] } }, false, '$.a.b[0] is undefined'],
    [[1, () => 1], false, '$[1] is a function'],
    [{ a: [{ m: new Map() }] }, false, '$.a[0].m is a Map'],
    [{ a: { b: holey() } }, true, '$.a.b[1] is a hole'],
    [{ a: { b: holey() } }, false, '$.a.b[1] is a hole'],
    [{ a: { '\uD800': 1 } }, true, '$.a.\uD800 has a key with a lone UTF-16 surrogate'],
    [{ a: ['ok', 'x\uDC00'] }, true, '$.a[1] contains a lone UTF-16 surrogate'],
    [{ when: { toJSON: () => 1n } }, false, '$.when is a BigInt'],
  ])('(case %#, strict %s) → %s', (value, strict, expected) => {
    expect(refusal(value, strict)).toContain(expected);
  });

  it('a cycle is named where it closes, and siblings after a passed subtree have their own path', () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = { back: cyclic };
    expect(refusal({ first: { fine: [1, 2] }, second: cyclic }, false)).toContain(
      '$.second.self.back is a circular reference',
    );
    // The same object twice (not a cycle) passes.
    const shared = { x: 1 };
    expect(refusal({ a: shared, b: [shared, shared] }, true)).toBeUndefined();
  });

  it('depth: refused at the first level past the limit, with its path', () => {
    expect(refusal({ a: { b: { c: {} } } }, false, 2)).toContain('$.a.b.c nests deeper than 2 levels');
    expect(refusal({ a: { b: {} } }, false, 2)).toBeUndefined();
  });

  it('lone surrogates: refused only in strict mode; a proper pair passes', () => {
    expect(refusal({ s: '\uD800' }, false)).toBeUndefined();
    expect(refusal({ s: '\uD83D\uDE00 ok' }, true)).toBeUndefined();
    expect(refusal({ s: 'a\uD83D' }, true)).toContain('$.s contains a lone UTF-16 surrogate');
  });
});

describe('checkJson: what it returns', () => {
  const refuse = (path: string, problem: string): never => {
    throw new Error(`$${path} ${problem}`);
  };

  it('strict: a copy with each toJSON() replaced by what its one call returned; loose: the value itself', () => {
    let calls = 0;
    const value = JSON.parse('{"__proto__":{"n":1},"list":[1,"two"]}') as Record<string, unknown>;
    value.when = {
      toJSON: (key: string) => {
        calls++;
        return `at ${key}`;
      },
    };
    const copy = checkJson(value, { maxDepth: 64, strict: true }, refuse);
    expect(calls).toBe(1);
    expect(copy).not.toBe(value);
    expect(JSON.stringify(copy)).toBe('{"__proto__":{"n":1},"list":[1,"two"],"when":"at when"}');
    expect(calls).toBe(1);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(checkJson(value, { maxDepth: 64, strict: false }, refuse)).toBe(value);
  });

  it("strict: what toJSON() returns takes the value's level (a Date at the limit passes)", () => {
    let deep: unknown = new Date(0);
    for (let level = 0; level < 2; level++) deep = { a: deep };
    expect(JSON.stringify(checkJson(deep, { maxDepth: 2, strict: true }, refuse))).toBe(
      '{"a":{"a":"1970-01-01T00:00:00.000Z"}}',
    );
    expect(() => checkJson({ a: deep }, { maxDepth: 2, strict: true }, refuse)).toThrow(
      'nests deeper than 2 levels',
    );
  });
});
