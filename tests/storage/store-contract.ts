import { beforeEach, describe, expect, it } from 'vitest';
import type { StorageOptions, StoragePlugin } from '../../src/plugins/storage/index.js';
import { expectCode, fastIterations, snapshot } from './fixtures.js';

/** Every test runs plain and encrypted. */
export const modes = [
  { mode: 'plain', extra: {} },
  { mode: 'encrypted', extra: { secret: 'correct horse battery staple', iterations: fastIterations } },
] as const;

/** A driver the shared suite runs on. */
export interface DriverCase {
  readonly driver: string;
  readonly persistent: boolean;
  setup(): Promise<StorageOptions>;
}

/**
 * The one suite every driver passes: each operation, bad input, call order, restart.
 * @param openStorage - from `storagePerTest()` of the calling test file
 */
export function describeStoreContract(
  driverCases: readonly DriverCase[],
  openStorage: (options: StorageOptions) => Promise<{ storage: StoragePlugin }>,
): void {
  const cases = driverCases.flatMap((driverCase) => modes.map((mode) => ({ ...driverCase, ...mode })));
  describe.each(cases)('KeyValueStore on $driver ($mode)', ({ driver, setup, extra, persistent, mode }) => {
    let options: StorageOptions;
    let storage: StoragePlugin;

    beforeEach(async () => {
      options = { ...(await setup()), ...extra };
      ({ storage } = await openStorage(options));
    });

    it('reports its driver and whether it encrypts', () => {
      expect(storage.driver).toBe(driver);
      expect(storage.encrypted).toBe(mode === 'encrypted');
    });

    it('returns undefined for a missing key', async () => {
      expect(await storage.get('missing')).toBeUndefined();
    });

    it('round-trips JSON values as copies', async () => {
      const values: Record<string, unknown> = {
        object: { title: 'Ünïcødé 😀', tags: ['a', 'b'], nested: { n: 1.5, ok: true, none: null } },
        array: [1, 'two', { three: 3 }],
        string: '',
        zero: 0,
        no: false,
        nothing: null,
        big: 'x'.repeat(10_000),
      };
      for (const [key, value] of Object.entries(values)) await storage.set(key, value);
      for (const [key, value] of Object.entries(values)) expect(await storage.get(key)).toStrictEqual(value);
      const object = values.object as { tags: string[] };
      object.tags.push('changed after set');
      expect(await storage.get('object')).not.toStrictEqual(values.object);
    });

    it('overwrites, removes, and ignores removing an absent key', async () => {
      await storage.set('k', 1);
      await storage.set('k', 2);
      expect(await storage.get('k')).toBe(2);
      await storage.remove('k');
      expect(await storage.get('k')).toBeUndefined();
      await storage.remove('k');
      expect(await storage.keys()).toStrictEqual([]);
    });

    it('stores what toJSON returns (a Date as its ISO string)', async () => {
      const at = new Date('2026-12-01T10:00:00.000Z');
      await storage.set('when', { at, custom: { toJSON: () => ({ plain: [1, 'two'] }) } });
      expect(await storage.get('when')).toStrictEqual({
        at: at.toISOString(),
        custom: { plain: [1, 'two'] },
      });
    });

    it('keeps call order for concurrent writes to one key', async () => {
      await Promise.all(Array.from({ length: 20 }, (_, i) => storage.set('counter', i)));
      expect(await storage.get('counter')).toBe(19);
    });

    // Read-your-writes: a read called after a write sees it even when the write was not awaited
    // (what IndexedDB gives a readonly transaction opened after a readwrite one). Each write is
    // called without await; several at once make some wait behind a group commit in progress.
    describe('reads see the writes called before them, not awaited', () => {
      let writes: Promise<unknown>[];
      beforeEach(async () => {
        await storage.set('k', 'old');
        await storage.namespace('notes').set('n', 'old');
        writes = [];
      });
      const write = (promise: Promise<unknown>) => writes.push(promise);

      it('set, then get and keys', async () => {
        write(storage.set('k', 'new'));
        write(storage.set('added', 1));
        write(storage.set('k', 'newest'));
        expect(await storage.get('k')).toBe('newest');
        write(storage.set('later', 2));
        expect(await storage.keys()).toStrictEqual(['added', 'k', 'later', 'notes/n']);
        await Promise.all(writes);
      });

      it('remove and commit, then get and keys', async () => {
        write(storage.remove('k'));
        expect(await storage.get('k')).toBeUndefined();
        write(
          storage.commit([
            { key: 'c', value: 'committed' },
            { key: 'notes/n', remove: true },
          ]),
        );
        expect(await storage.keys()).toStrictEqual(['c']);
        expect(await storage.get('c')).toBe('committed');
        await Promise.all(writes);
      });

      it('clear, then keys and get (the plugin and a namespace)', async () => {
        write(storage.namespace('notes').clear());
        expect(await storage.keys()).toStrictEqual(['k']);
        write(storage.clear());
        expect(await storage.get('k')).toBeUndefined();
        expect(await storage.keys()).toStrictEqual([]);
        await Promise.all(writes);
      });

      it('through namespace views, and between a view and the plugin', async () => {
        const notes = storage.namespace('notes');
        write(notes.set('n', 'new'));
        write(notes.set('m', 'added'));
        expect(await notes.get('n')).toBe('new');
        expect(await notes.keys()).toStrictEqual(['m', 'n']);
        write(storage.set('notes/n', 'from the plugin'));
        expect(await notes.get('n')).toBe('from the plugin');
        write(notes.remove('m'));
        expect(await storage.keys('notes/')).toStrictEqual(['notes/n']);
        write(notes.namespace('deep').set('x', 1));
        expect(await storage.namespace('notes').namespace('deep').keys()).toStrictEqual(['x']);
        await Promise.all(writes);
      });
    });

    it('lists keys sorted by UTF-16 code units, filtered by prefix', async () => {
      // Code-unit order puts U+1F600 (a surrogate pair, 0xD83D…) before U+FF5A; code-point order would not.
      const inserted = ['b', 'ｚ', 'a/b', 'B', '😀', 'a', 'é', 'a0', 'a/a'];
      for (const key of inserted) await storage.set(key, key);
      expect(await storage.keys()).toStrictEqual(['B', 'a', 'a/a', 'a/b', 'a0', 'b', 'é', '😀', 'ｚ']);
      expect(await storage.keys('a/')).toStrictEqual(['a/a', 'a/b']);
      expect(await storage.keys('zzz')).toStrictEqual([]);
    });

    it('clears by prefix, then everything, and stays usable', async () => {
      for (const key of ['x/1', 'x/2', 'y/1']) await storage.set(key, key);
      await storage.clear('x/');
      expect(await storage.keys()).toStrictEqual(['y/1']);
      await storage.clear();
      expect(await storage.keys()).toStrictEqual([]);
      await storage.set('after', 'clear');
      expect(await storage.get('after')).toBe('clear');
    });

    it('gives namespaces their own keys, nested views included', async () => {
      const a = storage.namespace('a');
      const ab = storage.namespace('ab');
      const nested = a.namespace('b');
      await storage.set('a', 'root');
      await a.set('x', 'in a');
      await ab.set('x', 'in ab');
      await nested.set('y', 'in a/b');
      expect(await a.get('x')).toBe('in a');
      expect(await ab.get('x')).toBe('in ab');
      expect(await a.keys()).toStrictEqual(['b/y', 'x']);
      expect(await ab.keys()).toStrictEqual(['x']);
      expect(await nested.keys()).toStrictEqual(['y']);
      expect(await storage.keys()).toStrictEqual(['a', 'a/b/y', 'a/x', 'ab/x']);
      await a.clear();
      expect(await storage.keys()).toStrictEqual(['a', 'ab/x']);
      await ab.remove('x');
      expect(await storage.keys()).toStrictEqual(['a']);
    });

    it('refuses invalid keys and namespaces with storage/invalid-key, changing nothing', async () => {
      await storage.set('keep', { v: 1 });
      const before = await snapshot(storage);
      for (const key of ['', 42, null, undefined, '\u0000fluxy:meta', '\u0000x', 'lone \uD800 surrogate']) {
        await expectCode(storage.set(key as string, 'x'), 'storage/invalid-key');
        await expectCode(storage.get(key as string), 'storage/invalid-key');
        await expectCode(storage.remove(key as string), 'storage/invalid-key');
      }
      await expectCode(storage.keys(7 as unknown as string), 'storage/invalid-key');
      await expectCode(storage.clear('\u0000' as string), 'storage/invalid-key');
      for (const name of ['', 'a/b', 5, '\u0000']) {
        await expectCode(() => storage.namespace(name as string), 'storage/invalid-key');
      }
      await expectCode(storage.namespace('ns').set('', 1), 'storage/invalid-key');
      expect(await snapshot(storage)).toStrictEqual(before);
    });

    it('refuses values JSON cannot keep with storage/not-serializable, changing nothing', async () => {
      await storage.set('target', 'original');
      const cyclic: Record<string, unknown> = { name: 'loop' };
      cyclic.self = cyclic;
      const bad: unknown[] = [
        undefined,
        10n,
        () => 1,
        Symbol('s'),
        cyclic,
        { deep: { bigint: 1n } },
        { fn() {} },
        [1, undefined],
        // biome-ignore lint/suspicious/noSparseArray: a hole reads as undefined and would come back as null
        [1, , 3],
        [Symbol('in array')],
        Number.NaN,
        { inf: Number.POSITIVE_INFINITY },
        new Map([[1, 2]]),
        new Set([1]),
        { [Symbol('key')]: 1 },
        { toJSON: () => undefined },
        { nested: { toJSON: () => () => 1 } },
        { toJSON: () => 10n },
        {
          get broken() {
            throw new Error('getter failed');
          },
        },
      ];
      for (const value of bad) await expectCode(storage.set('target', value), 'storage/not-serializable');
      await expectCode(storage.namespace('n').set('target', 1n), 'storage/not-serializable');
      expect(await snapshot(storage)).toStrictEqual({ target: 'original' });
    });

    // Only drivers that persist can be reopened (memory forgets by design).
    if (persistent)
      it('finds all data again after a restart', async () => {
        const values = Object.fromEntries(
          Array.from({ length: 30 }, (_, i) => [`item/${i}`, { i, text: `#${i}` }]),
        );
        for (const [key, value] of Object.entries(values)) await storage.set(key, value);
        await storage.namespace('other').set('k', 'v');
        const { storage: reopened } = await openStorage(options);
        expect(await reopened.keys('item/')).toStrictEqual(Object.keys(values).sort());
        for (const [key, value] of Object.entries(values))
          expect(await reopened.get(key)).toStrictEqual(value);
        expect(await reopened.namespace('other').get('k')).toBe('v');
      });
  });
}
