import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { createApp } from '../../src/core/app.js';
import { type KeyValueStore, type StorageOptions, StoragePlugin } from '../../src/plugins/storage/index.js';
import { expectCode, fastIterations, quietLogger, storagePerTest, tempDirsPerTest } from './fixtures.js';

const openStorage = storagePerTest();
const tempDir = tempDirsPerTest();

describe('StoragePlugin through the registry', () => {
  it('works before an explicit ready(), from the plugin and from a namespace', async () => {
    const app = createApp({ logger: quietLogger() });
    const storage = app.register(new StoragePlugin({ driver: 'memory' }));
    const outbox = storage.namespace('sync');
    expect(storage.driver).toBeUndefined();
    await outbox.set('op/1', { method: 'POST' });
    expect(storage.driver).toBe('memory');
    expect(await storage.keys()).toStrictEqual(['sync/op/1']);
    expect(app.use('storage')).toBe(storage);
    expectTypeOf(app.use('storage')).toEqualTypeOf<StoragePlugin>();
    expectTypeOf(storage).toMatchTypeOf<KeyValueStore>();
    expectTypeOf(outbox).toEqualTypeOf<KeyValueStore>();
    await app.dispose();
  });

  it.each([
    ['memory', { driver: 'memory' }],
    ['memory, encrypted', { driver: 'memory', secret: 'pw', iterations: fastIterations }],
    ['indexeddb', { indexedDB: new IDBFactory() }],
    ['indexeddb, encrypted', { indexedDB: new IDBFactory(), secret: 'pw', iterations: fastIterations }],
  ] as const)(
    'answers a read called before ready() with the writes called before it (%s)',
    async (_label, options) => {
      const app = createApp({ logger: quietLogger() });
      const storage = app.register(new StoragePlugin(options));
      const notes = storage.namespace('notes');
      const writes = [storage.set('k', 'v'), notes.set('n', 1)];
      expect(await storage.get('k')).toBe('v');
      expect(await notes.keys()).toStrictEqual(['n']);
      await Promise.all(writes);
      await app.dispose();
    },
  );

  it('fails ready() on a wrong secret with storage/wrong-secret, writing nothing', async () => {
    const dir = await tempDir();
    const { app, storage } = await openStorage({
      driver: 'file',
      dir,
      secret: 'right',
      iterations: fastIterations,
    });
    await storage.set('k', 'v');
    await app.dispose();
    const { readdir, readFile, stat } = await import('node:fs/promises');
    const folder = `${dir}/fluxy`;
    const listing = async () =>
      Promise.all(
        (await readdir(folder)).sort().map(async (file) => {
          const path = `${folder}/${file}`;
          return [file, await readFile(path, 'utf8'), (await stat(path)).mtimeMs];
        }),
      );
    const before = await listing();

    const second = createApp({ logger: quietLogger() });
    const wrong = second.register(
      new StoragePlugin({ driver: 'file', dir, secret: 'wrong', iterations: fastIterations }),
    );
    const error = await expectCode(second.ready(), 'plugin/init-failed');
    expect(error.cause).toMatchObject({ code: 'storage/wrong-secret' });
    expect(error.message).toMatch(/secret/);
    await expectCode(wrong.set('k', 'overwrite'), 'storage/wrong-secret');
    await expectCode(wrong.get('k'), 'storage/wrong-secret');
    expect(await listing()).toStrictEqual(before);
    await second.dispose();

    const { storage: right } = await openStorage({ driver: 'file', dir, secret: 'right' });
    expect(await right.get('k')).toBe('v');
  });

  it('refuses to open an encrypted database without a secret', async () => {
    const dir = await tempDir();
    const { app } = await openStorage({ driver: 'file', dir, secret: 'pw', iterations: fastIterations });
    await app.dispose();
    const error = await expectCode(openStorage({ driver: 'file', dir }), 'plugin/init-failed');
    expect(error.cause).toMatchObject({ code: 'storage/wrong-secret' });
  });

  it('uses the default of 600,000 PBKDF2 iterations', async () => {
    const factory = new IDBFactory();
    const { storage } = await openStorage({ indexedDB: factory, secret: 'default cost' });
    await storage.set('k', 1);
    // Read the metadata record straight from IndexedDB.
    const metadata = await new Promise<string>((resolve) => {
      const open = factory.open('fluxy');
      open.onsuccess = () => {
        const request = open.result.transaction('records').objectStore('records').get('\u0000fluxy:meta');
        request.onsuccess = () => {
          open.result.close();
          resolve(request.result as string);
        };
      };
    });
    expect(JSON.parse(metadata)).toMatchObject({ kdf: 'pbkdf2-sha256', iterations: 600_000 });
  }, 30_000);

  it('reads with one engine what the other wrote, through the plugin', async () => {
    const dir = await tempDir();
    const common = { driver: 'file', dir, secret: 'pw', iterations: fastIterations } as const;
    const { app, storage } = await openStorage({ ...common, engine: 'crypto-js' });
    await storage.set('k', { from: 'crypto-js' });
    await app.dispose();
    const { storage: web } = await openStorage({ ...common, engine: 'webcrypto' });
    expect(await web.get('k')).toStrictEqual({ from: 'crypto-js' });
  });

  it('gives one salt to a new encrypted database opened twice at once (no Web Locks), so each reads the other', async () => {
    for (const engine of ['webcrypto', 'crypto-js'] as const) {
      const indexedDB = new IDBFactory();
      const options = { indexedDB, secret: 'pw', iterations: fastIterations } as const;
      const [a, b] = await Promise.all([
        openStorage({ ...options, engine }),
        openStorage({ ...options, engine: 'webcrypto' }),
      ]);
      await a.storage.set('from-a', 1);
      await b.storage.set('from-b', 2);
      expect(await a.storage.get('from-b')).toBe(2);
      expect(await b.storage.get('from-a')).toBe(1);
    }
  });

  it('stores and reads back a large encrypted value (8 MB)', async () => {
    const { storage } = await openStorage({ driver: 'memory', secret: 'pw', iterations: fastIterations });
    const big = 'x'.repeat(8_000_000);
    await storage.set('big', big);
    expect(await storage.get('big')).toBe(big);
  });

  it('lets several plugins share one database through namespaces', async () => {
    const { storage } = await openStorage({ driver: 'memory' });
    const sync = storage.namespace('sync');
    const settings = storage.namespace('settings');
    await sync.set('op/1', 1);
    await settings.set('theme', 'dark');
    await sync.clear();
    expect(await settings.keys()).toStrictEqual(['theme']);
    expect(await sync.keys()).toStrictEqual([]);
  });
});

describe('StoragePlugin and dispose()', () => {
  // Calls made before app.dispose() are the app's writes: dispose waits for them instead of
  // refusing them (app/disposed) or closing the database under them (storage/unavailable).
  it.each([
    ['unencrypted', {}],
    ['encrypted', { secret: 'pw', iterations: fastIterations }],
  ])('commits the writes called before dispose() (%s)', async (_label, options) => {
    const indexedDB = new IDBFactory();
    const app = createApp({ logger: quietLogger() });
    const storage = app.register(new StoragePlugin({ indexedDB, ...options }));
    await app.ready();
    const writes = [
      storage.set('a', 1),
      storage.namespace('n').set('b', 2),
      storage.commit([{ key: 'c', value: 3 }]),
    ];
    const disposed = app.dispose();
    await Promise.all(writes);
    await disposed;
    await expectCode(storage.set('late', 1), 'app/disposed');
    const { storage: reopened } = await openStorage({ indexedDB, ...options });
    expect(await reopened.keys()).toStrictEqual(['a', 'c', 'n/b']);
  });

  it.each([
    ['indexeddb', { indexedDB: new IDBFactory() }],
    ['indexeddb, encrypted', { indexedDB: new IDBFactory(), secret: 'pw', iterations: fastIterations }],
    ['memory', { driver: 'memory' }],
    ['memory, encrypted', { driver: 'memory', secret: 'pw', iterations: fastIterations }],
  ] as const)(
    'answers the reads called before dispose(), with the writes called before them (%s)',
    async (_label, options) => {
      const app = createApp({ logger: quietLogger() });
      const storage = app.register(new StoragePlugin(options));
      await app.ready();
      const write = storage.set('a', 1);
      const read = storage.get('a');
      const listing = storage.namespace('n').keys();
      const disposed = app.dispose();
      expect(await read).toBe(1);
      expect(await listing).toStrictEqual([]);
      await write;
      await disposed;
    },
  );

  it('throws app/disposed from on() once the app is disposed, as its other methods reject', async () => {
    const app = createApp({ logger: quietLogger() });
    const storage = app.register(new StoragePlugin({ driver: 'memory' }));
    const off = storage.on('storageLost', () => {});
    await app.ready();
    await app.dispose();
    await expectCode(() => storage.on('storageLost', () => {}), 'app/disposed');
    await expectCode(storage.get('k'), 'app/disposed');
    off(); // unsubscribing a handler added before still works
  });

  it('lets a write that is being encrypted when dispose() starts finish before the database closes', async () => {
    const indexedDB = new IDBFactory();
    const options = { indexedDB, secret: 'pw', iterations: fastIterations };
    const app = createApp({ logger: quietLogger() });
    const storage = app.register(new StoragePlugin(options));
    await app.ready();
    const write = storage.set('big', 'x'.repeat(2_000_000));
    await new Promise((resolve) => setTimeout(resolve, 0));
    const disposed = app.dispose();
    await write;
    await disposed;
    const { storage: reopened } = await openStorage(options);
    expect((await reopened.get<string>('big'))?.length).toBe(2_000_000);
  });
});

describe('StoragePlugin options', () => {
  const bad: Array<[string, unknown, string]> = [
    ['options not an object', 'fluxy', 'invalid-argument'],
    ['options null', null, 'invalid-argument'],
    ['an array', [], 'invalid-argument'],
    ['a Map', new Map([['driver', 'memory']]), 'invalid-argument'],
    ['a Date', new Date(), 'invalid-argument'],
    ['an unknown option', { secrt: 'typo' }, 'invalid-argument'],
    ['an empty name', { name: '' }, 'invalid-argument'],
    ['a blank name', { name: '   ' }, 'invalid-argument'],
    ['a non-string name', { name: 5 }, 'invalid-argument'],
    ['an empty dir', { dir: '' }, 'invalid-argument'],
    ['a zero quota', { quota: 0 }, 'invalid-argument'],
    ['a fractional quota', { quota: 1.5 }, 'invalid-argument'],
    ['an unknown engine', { engine: 'openssl' }, 'invalid-argument'],
    ['a non-factory indexedDB', { indexedDB: {} }, 'invalid-argument'],
    ['iterations without a secret', { iterations: 100_000 }, 'invalid-argument'],
    ['an unknown driver', { driver: 'websql' }, 'storage/unknown-driver'],
    ['a non-string driver', { driver: 1 }, 'storage/unknown-driver'],
    ['an empty secret', { secret: '' }, 'storage/invalid-secret'],
    ['a non-string secret', { secret: 12345678 }, 'storage/invalid-secret'],
    ['a secret with a lone surrogate', { secret: 'pw\uD800' }, 'storage/invalid-secret'],
    ['iterations below the floor', { secret: 'pw', iterations: 9_999 }, 'storage/invalid-secret'],
    ['fractional iterations', { secret: 'pw', iterations: 10_000.5 }, 'storage/invalid-secret'],
    ['string iterations', { secret: 'pw', iterations: '600000' }, 'storage/invalid-secret'],
    ['a 16-byte key', { key: new Uint8Array(16) }, 'storage/invalid-secret'],
    ['a 64-byte key', { key: new Uint8Array(64) }, 'storage/invalid-secret'],
    ['a key as a string', { key: 'x'.repeat(32) }, 'storage/invalid-secret'],
    ['a key as an array', { key: Array.from({ length: 32 }, () => 1) }, 'storage/invalid-secret'],
    ['both secret and key', { secret: 'pw', key: new Uint8Array(32) }, 'storage/invalid-secret'],
  ];
  it.each(bad)('refuses %s', async (_label, options, code) => {
    await expectCode(() => new StoragePlugin(options as StorageOptions), code);
  });

  it('refuses dir with a driver other than file (it would be silently ignored)', async () => {
    for (const driver of ['memory', 'indexeddb', 'localstorage'] as const) {
      await expectCode(() => new StoragePlugin({ driver, dir: './data' }), 'invalid-argument');
    }
    expect(() => new StoragePlugin({ driver: 'file', dir: './data' })).not.toThrow();
    expect(() => new StoragePlugin({ dir: './data' })).not.toThrow(); // used when file is chosen
  });

  it('refuses quota, indexedDB and engine where they would be silently ignored', async () => {
    const instance = { ready() {}, getItem() {}, setItem() {}, removeItem() {}, keys() {}, clear() {} };
    const misplaced: StorageOptions[] = [
      { driver: 'indexeddb', quota: 1000 },
      { driver: 'localstorage', quota: 1000 },
      { driver: instance as never, quota: 1000 },
      { driver: instance as never, dir: './data' },
      { driver: 'memory', indexedDB: new IDBFactory() },
      { driver: 'file', indexedDB: new IDBFactory() },
      { driver: instance as never, indexedDB: new IDBFactory() },
      { engine: 'webcrypto' },
      { driver: 'memory', engine: 'crypto-js' },
    ];
    for (const options of misplaced) {
      const error = await expectCode(() => new StoragePlugin(options), 'invalid-argument');
      expect(error.message).toMatch(/applies only|only applies/);
    }
    const accepted: StorageOptions[] = [
      { driver: 'memory', quota: 1000 },
      { driver: 'file', quota: 1000 },
      { quota: 1000 }, // used when memory or file is chosen
      { driver: 'indexeddb', indexedDB: new IDBFactory() },
      { indexedDB: new IDBFactory() }, // used when indexeddb is chosen
      { secret: 'pw', engine: 'webcrypto' },
      { key: new Uint8Array(32), engine: 'crypto-js' },
    ];
    for (const options of accepted) expect(() => new StoragePlugin(options)).not.toThrow();
  });

  it('accepts the documented options, and copies the raw key', async () => {
    const key = new Uint8Array(32).fill(9);
    const { storage } = await openStorage({
      driver: 'memory',
      key,
      name: 'x',
      quota: 1000,
      engine: 'crypto-js',
    });
    key.fill(0);
    await storage.set('k', 1);
    expect(storage.encrypted).toBe(true);
    expect(await storage.get('k')).toBe(1);
  });
});
