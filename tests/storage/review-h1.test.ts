import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../src/core/app.js';
import { toBase64 } from '../../src/plugins/storage/bytes.js';
import { metadataKey } from '../../src/plugins/storage/database-metadata.js';
import { FileDriver } from '../../src/plugins/storage/drivers/file-driver.js';
import { openTimeoutMs } from '../../src/plugins/storage/drivers/indexeddb-driver.js';
import { type StorageOptions, StoragePlugin } from '../../src/plugins/storage/index.js';
import { expectCode, fastIterations, quietLogger, tempDirsPerTest, withTimeout } from './fixtures.js';

// Regressions for the defects of fluxy/storage left open by session 14 (each test failed before its fix).

const tempDir = tempDirsPerTest();

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe('requestPersistence() and persistence() after dispose', () => {
  it('reject with app/disposed, as every other method does, and ask nothing', async () => {
    const persist = vi.fn(async () => true);
    const persisted = vi.fn(async () => true);
    vi.stubGlobal('navigator', { storage: { persist, persisted } });
    const app = createApp({ logger: quietLogger() });
    const storage = app.register(new StoragePlugin({ driver: 'memory' }));
    await app.ready();
    expect(await storage.persistence()).toBe('persisted');
    await app.dispose();
    await expectCode(storage.get('k'), 'app/disposed'); // as the others
    await expectCode(storage.requestPersistence(), 'app/disposed');
    await expectCode(storage.persistence(), 'app/disposed');
    expect(persist).not.toHaveBeenCalled();
    expect(persisted).toHaveBeenCalledTimes(1);
  });
});

/** A localforage instance over a Map that refuses, as localStorage does, to hold more than `limit` characters. */
function smallInstance(limit: number) {
  const records = new Map<string, unknown>();
  const size = () =>
    [...records].reduce((total, [key, value]) => total + key.length + String(value).length, 0);
  return {
    records,
    ready: async () => {},
    getItem: async <T>(key: string) => (records.get(key) ?? null) as T | null,
    setItem: async <T>(key: string, value: T) => {
      const previous = records.get(key);
      const used = size() - (previous === undefined ? 0 : key.length + String(previous).length);
      if (used + key.length + String(value).length > limit) {
        throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      }
      records.set(key, value);
      return value;
    },
    removeItem: async (key: string) => {
      records.delete(key);
    },
    keys: async () => [...records.keys()],
    clear: async () => records.clear(),
  };
}

describe('commit() over the quota on a localforage driver', () => {
  it('changes nothing, as the quota error says ("the data already stored is intact")', async () => {
    const instance = smallInstance(2000);
    const app = createApp({ logger: quietLogger() });
    const storage = app.register(new StoragePlugin({ driver: instance }));
    await app.ready();
    await storage.commit([
      { key: 'a', value: 'old a' },
      { key: 'b', value: 'old b' },
    ]);
    const before = new Map(instance.records);
    // Before the fix: a became 'new a', b was removed and c written, then d failed.
    await expectCode(
      storage.commit([
        { key: 'a', value: 'new a' },
        { key: 'b', remove: true },
        { key: 'c', value: 'new c' },
        { key: 'd', value: 'x'.repeat(3000) },
      ]),
      'storage/quota-exceeded',
    );
    expect(instance.records).toStrictEqual(before);
    expect(await storage.get('a')).toBe('old a');
    expect(await storage.get('b')).toBe('old b');
    expect(await storage.keys()).toStrictEqual(['a', 'b']);
    // A commit that fits still goes through, and a set() over the quota changes nothing either.
    await storage.commit([
      { key: 'a', value: 'new a' },
      { key: 'b', remove: true },
    ]);
    await expectCode(storage.set('a', 'y'.repeat(3000)), 'storage/quota-exceeded');
    expect(await storage.get('a')).toBe('new a');
    expect(await storage.keys()).toStrictEqual(['a']);
    await app.dispose();
  });
});

describe('an IndexedDB open that never settles (no success, error or blocked event: a Safari and Chromium fault)', () => {
  /** Init on fake timers, once the database was asked for: what ready() settled with, and ms to advance. */
  async function startOn(options: StorageOptions, factory: IDBFactory) {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let asked!: () => void;
    const opening = new Promise<void>((resolve) => {
      asked = resolve;
    });
    const open = factory.open.bind(factory);
    const indexedDB = {
      open: (name: string, version?: number) => {
        asked();
        return open(name, version);
      },
    } as IDBFactory;
    const logger = quietLogger();
    const app = createApp({ logger });
    const storage = app.register(new StoragePlugin({ ...options, indexedDB }));
    let outcome: { error: unknown } | undefined;
    const ready = app.ready().then(
      () => {
        outcome = { error: undefined };
      },
      (error: unknown) => {
        outcome = { error };
      },
    );
    await opening;
    return { app, storage, logger, outcome: () => outcome, ready };
  }

  /** A factory whose open() returns a request that never fires anything. */
  const hanging = { open: () => ({}) as IDBOpenDBRequest } as unknown as IDBFactory;

  for (const [label, options] of [
    ['driver "indexeddb"', { driver: 'indexeddb' }],
    // No fallback here: the database may hold the queue, unseen by writes to another driver.
    ['the default driver', {}],
  ] as const) {
    it(`${label}: ready() fails with storage/unavailable after ${openTimeoutMs} ms (it waited forever)`, async () => {
      // (A dir for the default driver: a fallback would go to the file driver, in Node.)
      const dir = 'driver' in options ? {} : { dir: await tempDir() };
      const { app, storage, logger, outcome, ready } = await startOn({ ...options, ...dir }, hanging);
      await vi.advanceTimersByTimeAsync(openTimeoutMs - 1);
      expect(outcome(), 'still opening').toBeUndefined();
      await vi.advanceTimersByTimeAsync(1);
      vi.useRealTimers();
      await withTimeout(ready, 'ready() to settle');
      expect(outcome()?.error).toMatchObject({
        code: 'plugin/init-failed',
        cause: { code: 'storage/unavailable' },
      });
      expect(storage.driver).toBeUndefined();
      expect(logger.warn).not.toHaveBeenCalled(); // no fallback announced
      await app.dispose();
    });
  }

  it('an open that succeeds leaves no timer behind', async () => {
    const { app, ready } = await startOn({ driver: 'indexeddb' }, new IDBFactory());
    await ready;
    expect(app.use(StoragePlugin).driver).toBe('indexeddb');
    expect(vi.getTimerCount()).toBe(0);
    await app.dispose();
  });
});

describe('altered encryption metadata', () => {
  /** A file database created with `secret`; returns its folder and a way to edit its metadata. */
  async function created(secret: string) {
    const dir = await tempDir();
    const app = createApp({ logger: quietLogger() });
    app.register(new StoragePlugin({ driver: 'file', dir, secret, iterations: fastIterations }));
    await app.ready();
    await app.dispose();
    const edit = async (change: (metadata: Record<string, unknown>) => void) => {
      const driver = await FileDriver.open({ dir, name: 'fluxy' });
      const metadata = JSON.parse((await driver.getItem(metadataKey)) as string) as Record<string, unknown>;
      change(metadata);
      await driver.setItem(metadataKey, JSON.stringify(metadata));
      await driver.close();
    };
    return { dir, edit };
  }
  async function initError(dir: string, secret: string) {
    const app = createApp({ logger: quietLogger() });
    const storage = app.register(
      new StoragePlugin({ driver: 'file', dir, secret, iterations: fastIterations }),
    );
    const error = await storage.get('x').then(
      () => undefined,
      (caught: unknown) => caught,
    );
    await app.dispose().catch(() => undefined);
    return error;
  }
  const otherSalt = toBase64(new Uint8Array(16).fill(7)); // well-formed: 16 bytes

  it('an altered salt reads as storage/tampered, with the right secret and with another (it read as wrong-secret)', async () => {
    const { dir, edit } = await created('the right secret');
    await edit((metadata) => {
      metadata.salt = otherSalt;
    });
    expect(await initError(dir, 'the right secret')).toMatchObject({ code: 'storage/tampered' });
    expect(await initError(dir, 'another secret')).toMatchObject({ code: 'storage/tampered' });
  });

  it('altered iterations (under the cap) read as storage/tampered too', async () => {
    const { dir, edit } = await created('the right secret');
    await edit((metadata) => {
      metadata.iterations = (metadata.iterations as number) + 1;
    });
    expect(await initError(dir, 'the right secret')).toMatchObject({ code: 'storage/tampered' });
  });

  it('a wrong secret on intact metadata still reads as storage/wrong-secret, and the right one opens', async () => {
    const { dir } = await created('the right secret');
    expect(await initError(dir, 'another secret')).toMatchObject({ code: 'storage/wrong-secret' });
    expect(await initError(dir, 'the right secret')).toBeUndefined();
  });

  it('a database written before (no params copy) opens as before; its altered salt still reads as wrong-secret', async () => {
    const { dir, edit } = await created('the right secret');
    await edit((metadata) => {
      delete metadata.params;
    });
    expect(await initError(dir, 'the right secret')).toBeUndefined();
    await edit((metadata) => {
      metadata.salt = otherSalt;
    });
    expect(await initError(dir, 'the right secret')).toMatchObject({ code: 'storage/wrong-secret' });
  });
});
