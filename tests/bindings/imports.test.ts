import { describe, expect, it } from 'vitest';

describe('binding entries', () => {
  it('import without a DOM (SSR, Node): no document, window or navigator is touched', async () => {
    expect(typeof globalThis.document).toBe('undefined');
    const dom = await import('../../src/bindings/dom/index.js');
    const react = await import('../../src/bindings/react/index.js');
    expect(Object.keys(dom).sort()).toStrictEqual([
      'bindAll',
      'bindAttr',
      'bindClass',
      'bindText',
      'toStore',
    ]);
    expect(Object.keys(react).sort()).toStrictEqual(['useController', 'useSignalValue']);
  });

  it('toStore works without a DOM', async () => {
    const { toStore } = await import('../../src/bindings/dom/index.js');
    const { flux } = await import('../../src/core/signals.js');
    const seen: number[] = [];
    const count = flux(1);
    toStore(count).subscribe((value) => seen.push(value));
    count.value = 2;
    expect(seen).toStrictEqual([1, 2]);
  });
});
