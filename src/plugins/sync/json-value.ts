import { FluxyError } from '../../core/errors.js';

/** A JSON value: what a body or `meta` may hold. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** How deep a body or `meta` may nest. */
export const maxJsonDepth = 64;

/**
 * Serialise `value` to JSON text, refusing what JSON would silently change or lose: BigInt,
 * functions, symbols, non-finite numbers, cycles, lone surrogates, array holes (`[1, , 3]`) and
 * `undefined` array elements (JSON would send `null`), Map/Set/typed arrays and other class
 * instances without `toJSON`, and nesting deeper than {@link maxJsonDepth}.
 * `undefined` object properties are dropped as JSON does. Throws `FluxyError(code)` naming the path.
 */
export function toJsonText(
  value: unknown,
  what: string,
  code: 'sync/invalid-body' | 'sync/invalid-options',
): string {
  const seen = new Set<object>();
  const fail = (path: string, problem: string): never => {
    throw new FluxyError(
      code,
      `${what}${path} ${problem}: ${what} must be JSON (plain objects, arrays, strings, finite numbers, booleans, null).`,
    );
  };
  const check = (item: unknown, path: string, depth: number): void => {
    if (depth > maxJsonDepth) fail(path, `nests deeper than ${maxJsonDepth} levels`);
    switch (typeof item) {
      case 'string':
        if (hasLoneSurrogate(item)) fail(path, 'contains a lone UTF-16 surrogate');
        return;
      case 'number':
        if (!Number.isFinite(item)) fail(path, `is ${item}, which JSON cannot hold`);
        return;
      case 'boolean':
        return;
      case 'bigint':
        fail(path, 'is a BigInt (convert it to a string)');
        return;
      case 'function':
        fail(path, 'is a function');
        return;
      case 'symbol':
        fail(path, 'is a symbol');
        return;
      case 'undefined':
        return;
    }
    if (item === null) return;
    const object = item as object;
    if (seen.has(object)) fail(path, 'is a circular reference');
    if (typeof (object as { toJSON?: unknown }).toJSON === 'function') {
      // Date and friends: JSON uses toJSON; check what it produces.
      seen.add(object);
      check((object as { toJSON(): unknown }).toJSON(), path, depth + 1);
      seen.delete(object);
      return;
    }
    const prototype = Object.getPrototypeOf(object);
    const isArray = Array.isArray(object);
    if (!isArray && prototype !== Object.prototype && prototype !== null) {
      fail(path, `is a ${object.constructor?.name ?? 'class instance'}, which JSON would not keep`);
    }
    seen.add(object);
    if (isArray) {
      // By index, not forEach (which skips holes): a hole would be sent as null.
      const array = object as unknown[];
      for (let index = 0; index < array.length; index++) {
        if (!(index in array))
          fail(`${path}[${index}]`, 'is a hole (an empty slot), which JSON would turn into null');
        const element = array[index];
        if (typeof element === 'undefined' || typeof element === 'function' || typeof element === 'symbol') {
          fail(`${path}[${index}]`, `is ${typeof element}, which JSON would turn into null`);
        }
        check(element, `${path}[${index}]`, depth + 1);
      }
    } else {
      if (Object.getOwnPropertySymbols(object).length > 0) fail(path, 'has symbol keys');
      for (const [key, child] of Object.entries(object)) {
        if (hasLoneSurrogate(key)) fail(`${path}.${key}`, 'has a key with a lone UTF-16 surrogate');
        check(child, `${path}.${key}`, depth + 1);
      }
    }
    seen.delete(object);
  };
  let text: string | undefined;
  try {
    check(value, '', 0);
    text = JSON.stringify(value);
  } catch (error) {
    if (error instanceof FluxyError) throw error;
    // A getter, toJSON or Proxy trap threw while reading the value.
    throw new FluxyError(
      code,
      `${what} could not be read (${error instanceof Error ? error.message : String(error)}): pass plain data.`,
      {
        cause: error,
      },
    );
  }
  if (text === undefined) fail('', 'is not a JSON value');
  return text as string;
}

/** True when `text` has a UTF-16 surrogate without its pair (not representable in UTF-8). */
export function hasLoneSurrogate(text: string): boolean {
  return /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}

/** UTF-8 byte length of a string, without allocating. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff) {
      bytes += 4;
      index++;
    } else bytes += 3;
  }
  return bytes;
}
