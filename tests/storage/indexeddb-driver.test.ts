import { IDBDatabase, IDBFactory, IDBObjectStore } from 'fake-indexeddb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { IndexedDbDriver } from '../../src/plugins/storage/drivers/indexeddb-driver.js';
import { chooseDefaultDriver } from '../../src/plugins/storage/drivers/other-drivers.js';
import { isQuotaError } from '../../src/plugins/storage/errors.js';
import { expectCode, fastIterations, snapshot, storagePerTest, tempDirsPerTest } from './fixtures.js';

const openStorage = storagePerTest();
const tempDir = tempDirsPerTest();

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

function readRaw(factory: IDBFactory, name: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const open = factory.open(name);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const store = db.transaction('records', 'readonly').objectStore('records');
      const keys = store.getAllKeys();
      const values = store.getAll();
      values.onsuccess = () => {
        db.close();
        resolve(Object.fromEntries((keys.result as string[]).map((key, i) => [key, values.result[i]])));
      };
    };
  });
}

describe('the indexeddb driver', () => {
  it('is the default where globalThis.indexedDB exists', async () => {
    vi.stubGlobal('indexedDB', new IDBFactory());
    const { storage } = await openStorage({});
    expect(storage.driver).toBe('indexeddb');
    await storage.set('k', 1);
    // The record, and the database's generation (a random id written when it was created).
    expect(Object.keys(await readRaw(globalThis.indexedDB, 'fluxy')).sort()).toStrictEqual([
      '\u0000fluxy:generation',
      'k',
    ]);
  });

  it('stores one IndexedDB record per key, encrypted with a secret', async () => {
    const factory = new IDBFactory();
    const { storage } = await openStorage({
      indexedDB: factory,
      name: 'app',
      secret: 'pw',
      iterations: fastIterations,
    });
    await storage.set('message', 'the eagle lands at dawn');
    const raw = await readRaw(factory, 'app');
    expect(Object.keys(raw).sort()).toStrictEqual([
      '\u0000fluxy:binding',
      '\u0000fluxy:generation',
      '\u0000fluxy:meta',
      'message',
    ]);
    expect(JSON.stringify(raw)).not.toContain('eagle');
    expect(await storage.get('message')).toBe('the eagle lands at dawn');
  });

  it('reports a transaction aborted by QuotaExceededError as storage/quota-exceeded, earlier data intact', async () => {
    const factory = new IDBFactory();
    const { storage } = await openStorage({ driver: 'indexeddb', indexedDB: factory });
    await storage.set('kept', { n: 1 });
    const put = IDBObjectStore.prototype.put;
    vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementation(function (this: IDBObjectStore, ...args) {
      const request = put.apply(this, args);
      // What a browser does when the origin is full: the transaction aborts with a QuotaExceededError.
      (this.transaction as unknown as { _abort(name: string): void })._abort('QuotaExceededError');
      return request;
    });
    await expectCode(storage.set('new', 'x'), 'storage/quota-exceeded');
    await expectCode(storage.set('kept', { n: 2 }), 'storage/quota-exceeded');
    vi.restoreAllMocks();
    expect(await snapshot(storage)).toStrictEqual({ kept: { n: 1 } });
  });

  it('closes its connection on dispose, and later calls fail with app/disposed', async () => {
    const close = vi.spyOn(IDBDatabase.prototype, 'close');
    const { app, storage } = await openStorage({ driver: 'indexeddb', indexedDB: new IDBFactory() });
    await storage.set('k', 1);
    expect(close).not.toHaveBeenCalled();
    await app.dispose();
    expect(close).toHaveBeenCalledTimes(1);
    await expectCode(storage.get('k'), 'app/disposed');
  });

  it('falls back with a warning when IndexedDB cannot be opened and no driver was chosen', async () => {
    const broken = new IDBFactory();
    vi.spyOn(broken, 'open').mockImplementation(() => {
      throw new DOMException('The operation is insecure.', 'SecurityError');
    });
    const { storage, logger } = await openStorage({ indexedDB: broken, dir: await tempDir() });
    expect(storage.driver).toBe('file');
    // The driver and the error as details: what the production build keeps of the line.
    expect(logger.warn).toHaveBeenCalledWith(
      expect.stringContaining('IndexedDB could not be opened'),
      'file',
      expect.objectContaining({ name: 'SecurityError' }),
    );
    await storage.set('k', 'v');
    expect(await storage.get('k')).toBe('v');
  });

  it('fails init with storage/unavailable when the chosen indexeddb driver cannot open', async () => {
    const broken = new IDBFactory();
    vi.spyOn(broken, 'open').mockImplementation(() => {
      throw new DOMException(
        'A mutation operation was attempted on a database that did not allow mutations.',
        'InvalidStateError',
      );
    });
    await expectCode(openStorage({ driver: 'indexeddb', indexedDB: broken }), 'plugin/init-failed').then(
      (error) => expect(error.cause).toMatchObject({ code: 'storage/unavailable' }),
    );
  });
});

describe('the indexeddb driver reads', () => {
  it('share one readonly transaction when asked for in the same turn, each with its own value', async () => {
    const backend = await IndexedDbDriver.open(new IDBFactory(), 'db');
    await backend.setItem('a', 'one');
    await backend.setItem('b', 'two');
    const opened = vi.spyOn(IDBDatabase.prototype, 'transaction');
    expect(
      await Promise.all([backend.getItem('a'), backend.getItem('missing'), backend.getItem('b')]),
    ).toStrictEqual(['one', undefined, 'two']);
    expect(opened.mock.calls.map((call) => call[1])).toStrictEqual(['readonly']);
    // Awaited one after the other: one transaction each, as before.
    expect(await backend.getItem('a')).toBe('one');
    expect(await backend.getItem('b')).toBe('two');
    expect(opened).toHaveBeenCalledTimes(3);
    await backend.close();
  });

  it('fail together when their transaction cannot be opened (the connection closed)', async () => {
    const backend = await IndexedDbDriver.open(new IDBFactory(), 'db');
    await backend.setItem('a', 'one');
    await backend.close();
    const reads = [backend.getItem('a'), backend.getItem('b')];
    for (const read of reads) await expect(read).rejects.toMatchObject({ name: 'InvalidStateError' });
  });
});

describe('driver selection and quota detection', () => {
  it.each([
    [{ hasIndexedDB: true, isNode: false }, 'indexeddb'],
    [{ hasIndexedDB: true, isNode: true }, 'indexeddb'],
    [{ hasIndexedDB: false, isNode: true }, 'file'],
    [{ hasIndexedDB: false, isNode: false }, 'localstorage'],
  ] as const)('chooseDefaultDriver(%o) is %s', (environment, expected) => {
    expect(chooseDefaultDriver(environment)).toBe(expected);
  });

  it.each([
    [new DOMException('full', 'QuotaExceededError'), true],
    [{ name: 'NS_ERROR_DOM_QUOTA_REACHED' }, true],
    [{ name: 'AbortError', error: new DOMException('full', 'QuotaExceededError') }, true],
    [{ name: 'AbortError', error: new DOMException('aborted', 'AbortError') }, false],
    [new Error('QuotaExceededError'), false],
    [new DOMException('x', 'NotFoundError'), false],
    [null, false],
    ['QuotaExceededError', false],
  ])('isQuotaError(%o) is %s', (error, expected) => {
    expect(isQuotaError(error)).toBe(expected);
  });
});
