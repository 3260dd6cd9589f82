// A review of fluxy/collections (session 19): what a new user tried. Each finding failed before
// its fix.
import { describe, expect, it } from 'vitest';
import { isFluxyError } from '../../src/core/errors.js';
import { Collection } from '../../src/plugins/collections/index.js';

describe('review s19: bad constructor arguments', () => {
  it('refuses a BigInt or a cyclic name, url, pullIntervalMs or conflict with collections/invalid-options', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const [name, options] of [
      [10n, { url: '/notes' }],
      [cyclic, { url: '/notes' }],
      ['notes', { url: 10n }],
      ['notes', { url: cyclic }],
      ['notes', { url: '/notes', pullIntervalMs: 10n }],
      ['notes', { url: '/notes', pullIntervalMs: 0n }],
      ['notes', { url: '/notes', conflict: 1n }],
      ['notes', { url: '/notes', key: cyclic }],
      ['notes', { url: '/notes', compare: 10n }],
    ] as const) {
      let thrown: unknown;
      try {
        new Collection(name as never, options as never);
      } catch (error) {
        thrown = error;
      }
      expect(isFluxyError(thrown) && thrown.code, String(Object.keys(options))).toBe(
        'collections/invalid-options',
      );
      // (The development build says what was given.)
      expect((thrown as Error).message).toMatch(/\(got (bigint|object)\)/);
    }
  });
});
