import { IDBFactory, IDBObjectStore } from 'fake-indexeddb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { type StorageOptions, StoragePlugin } from '../../src/plugins/storage/index.js';
import { SyncPlugin } from '../../src/plugins/sync/index.js';
import { TestLockManager } from '../support/lock-manager.js';
import { registryPerTest, until } from '../sync/harness.js';
import { expectCode, fastIterations, quietLogger, snapshot, withTimeout } from './fixtures.js';

// Session 17: what a run that fell back to localStorage (IndexedDB failed to open) wrote is merged
// into IndexedDB at the next start whose IndexedDB opens: before, it stayed in localStorage,
// unseen — the operations queued during that run were never sent.

const fixture = registryPerTest();
let local: MemoryStorage;

beforeEach(() => {
  // Installed before localforage loads: its localStorage driver checks for one when it loads.
  local = new MemoryStorage();
  vi.stubGlobal('localStorage', local);
});
afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

/** A Storage in memory; `failRemove(key)` true makes removeItem throw there (a crash part-way). */
class MemoryStorage {
  readonly items = new Map<string, string>();
  failRemove: (key: string) => boolean = () => false;
  get length(): number {
    return this.items.size;
  }
  key(index: number): string | null {
    return [...this.items.keys()][index] ?? null;
  }
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, String(value));
  }
  removeItem(key: string): void {
    if (this.failRemove(key)) throw new Error(`crashed before removing ${key}`);
    this.items.delete(key);
  }
  clear(): void {
    this.items.clear();
  }
  /** The keys of database `name` on the localstorage driver. */
  records(name = 'fluxy'): string[] {
    return [...this.items.keys()].filter((key) => key.startsWith(`${name}/records/`));
  }
}

/** The fallback database's keys and stored texts. */
const fallbackRecords = () => local.records().map((key) => [key, local.getItem(key)]);

/** An IndexedDB whose open() fails, as a damaged profile's does (a transient UnknownError). */
const failingIndexedDB = {
  open: () => {
    const request = { error: new DOMException('Internal error opening backing store', 'UnknownError') } as {
      error: DOMException;
      onerror?: () => void;
    };
    setTimeout(() => request.onerror?.(), 0);
    return request;
  },
} as unknown as IDBFactory;

/**
 * Runs `start` as in a browser: without `process.versions.node`, a default driver that cannot
 * open IndexedDB falls back to localStorage, not to the file driver.
 */
async function asInABrowser<T>(start: () => Promise<T>): Promise<T> {
  const node = Object.getOwnPropertyDescriptor(process.versions, 'node') as PropertyDescriptor;
  Object.defineProperty(process.versions, 'node', { value: undefined, configurable: true });
  try {
    return await start();
  } finally {
    Object.defineProperty(process.versions, 'node', node);
  }
}

async function session(storageOptions: StorageOptions, online: boolean) {
  const logger = quietLogger();
  const app = fixture.app(logger);
  const storage = app.register(new StoragePlugin(storageOptions));
  const connectivity = app.register(new ConnectivityPlugin());
  const sync = app.register(
    new SyncPlugin({ baseUrl: fixture.server.url, retry: { baseDelayMs: 10, maxDelayMs: 50 } }),
  );
  connectivity.setOnline(online);
  await asInABrowser(() => app.ready());
  return { app, storage, connectivity, sync, logger };
}

async function queue(sync: SyncPlugin, titles: string[]): Promise<string[]> {
  const ids = [];
  for (const title of titles) ids.push((await sync.queue('POST', '/api/notes', { body: { title } })).id);
  return ids;
}

/** The operations the server received, by Idempotency-Key, in order (retries would repeat one). */
const received = () => fixture.server.received.map((request) => request.key);

const encryptions = [
  ['unencrypted', {}],
  ['encrypted', { secret: 'the secret', iterations: fastIterations }],
] as const;

describe('operations queued during a run that fell back to localStorage', () => {
  for (const [label, encryption] of encryptions) {
    it(`${label}: are sent at the next start on IndexedDB, after the older ones, in order, once`, async () => {
      const indexedDB = new IDBFactory();
      const first = await session({ ...encryption, indexedDB }, false);
      const before = await queue(first.sync, ['one', 'two']);
      await first.app.dispose();

      const fallback = await session({ ...encryption, indexedDB: failingIndexedDB }, false);
      expect(fallback.storage.driver).toBe('localstorage');
      const during = await queue(fallback.sync, ['three', 'four']);
      expect(fallback.sync.pendingCount.value).toBe(2); // it sees only its own
      await fallback.app.dispose();
      expect(local.records().length).toBeGreaterThan(2);
      expect(local.getItem('fluxy:fallback:fluxy')).toBe('1'); // the fallback's marker

      const next = await session({ ...encryption, indexedDB }, true);
      expect(next.storage.driver).toBe('indexeddb');
      expect(next.storage.lost.value).toBeNull(); // the merge is no wipe
      await until(() => next.sync.pendingCount.value === 0, 'the queue sent');
      expect(received()).toStrictEqual([...before, ...during]);
      expect(fixture.server.applied.map((applied) => applied.key)).toStrictEqual([...before, ...during]);
      expect(local.records()).toStrictEqual([]); // removed from localStorage
      expect(local.getItem('fluxy:fallback:fluxy')).toBeNull();
      expect(next.logger.warn).not.toHaveBeenCalled();
      await next.app.dispose();

      // Nothing is merged, nor sent, again.
      const last = await session({ ...encryption, indexedDB }, true);
      expect(last.sync.pendingCount.value).toBe(0);
      await last.sync.flush();
      expect(received()).toStrictEqual([...before, ...during]);
    });
  }

  it('a new operation queued after the merge is sent after the merged ones', async () => {
    const indexedDB = new IDBFactory();
    const fallback = await session({ indexedDB: failingIndexedDB }, false);
    const during = await queue(fallback.sync, ['one', 'two']);
    await fallback.app.dispose();
    const next = await session({ indexedDB }, false);
    expect(next.sync.pendingCount.value).toBe(2);
    const [after] = await queue(next.sync, ['three']);
    next.connectivity.setOnline(true);
    await until(() => next.sync.pendingCount.value === 0, 'the queue sent');
    expect(received()).toStrictEqual([...during, after]);
  });
});

describe('a crash in the middle of the merge', () => {
  it('before its IndexedDB transaction commits: nothing copied, localStorage intact; the next start merges', async () => {
    const indexedDB = new IDBFactory();
    const fallback = await session({ indexedDB: failingIndexedDB }, false);
    const during = await queue(fallback.sync, ['one', 'two']);
    await fallback.app.dispose();
    const stored = fallbackRecords();

    // (On IndexedDB itself, so that the test also holds for the built package: npm run test:dist.)
    const put = IDBObjectStore.prototype.put;
    let copies = 0;
    vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementation(function (
      this: IDBObjectStore,
      value: unknown,
      key?: IDBValidKey,
    ) {
      if (String(key).startsWith('sync/p/') && copies++ === 1) throw new Error('the tab crashed');
      return put.call(this, value, key);
    });
    const app = fixture.app(quietLogger());
    app.register(new StoragePlugin({ indexedDB }));
    const error = await expectCode(app.ready(), 'plugin/init-failed');
    expect(error.cause).toMatchObject({ code: 'storage/unavailable' });
    expect(copies).toBe(2); // the first copy was made in the transaction, which did not commit
    vi.restoreAllMocks();
    await app.dispose();
    expect(fallbackRecords()).toStrictEqual(stored);

    const next = await session({ indexedDB }, true);
    await until(() => next.sync.pendingCount.value === 0, 'the queue sent');
    expect(received()).toStrictEqual(during);
    expect(local.records()).toStrictEqual([]);
  });

  it('after the copy, part-way through the removal from localStorage: the rerun copies nothing twice', async () => {
    const indexedDB = new IDBFactory();
    const fallback = await session({ indexedDB: failingIndexedDB }, false);
    const during = await queue(fallback.sync, ['one', 'two', 'three']);
    await fallback.app.dispose();

    // The "crash": the second operation's record cannot be removed; the open fails, nothing runs.
    local.failRemove = (key) => key === `fluxy/records/sync/p/${during[1]}`;
    const app = fixture.app(quietLogger());
    app.register(new StoragePlugin({ indexedDB }));
    app.register(new ConnectivityPlugin()).setOnline(true);
    const sync = app.register(new SyncPlugin({ baseUrl: fixture.server.url }));
    await expectCode(
      asInABrowser(() => app.ready()),
      'plugin/init-failed',
    );
    expect(sync.pendingCount.value).toBe(0);
    await app.dispose();
    expect(local.records()).toContain(`fluxy/records/sync/p/${during[1]}`);
    expect(local.records()).not.toContain(`fluxy/records/sync/p/${during[0]}`);
    expect(received()).toStrictEqual([]);

    local.failRemove = () => false;
    const next = await session({ indexedDB }, true);
    expect(next.sync.pendingCount.value).toBe(3);
    await until(() => next.sync.pendingCount.value === 0, 'the queue sent');
    expect(received()).toStrictEqual(during);
    expect(local.records()).toStrictEqual([]);
  });
});

describe('two tabs starting at once on IndexedDB', () => {
  it('with Web Locks: they merge one after the other; every operation is sent once, in order', async () => {
    vi.stubGlobal('navigator', { locks: new TestLockManager() });
    const indexedDB = new IDBFactory();
    const fallback = await session({ indexedDB: failingIndexedDB }, false);
    const during = await queue(fallback.sync, ['one', 'two', 'three']);
    await fallback.app.dispose();

    const [a, b] = await Promise.all([session({ indexedDB }, true), session({ indexedDB }, true)]);
    await until(
      () => a.sync.pendingCount.value === 0 && b.sync.pendingCount.value === 0,
      'both queues empty',
    );
    expect(received()).toStrictEqual(during);
    expect(local.records()).toStrictEqual([]);
  });

  it('without Web Locks: a record one tab merged, then sent and removed, is not copied again by the other', async () => {
    const encrypted = { secret: 'the secret', iterations: fastIterations };
    const indexedDB = new IDBFactory();
    await (await session({ ...encrypted, indexedDB }, false)).app.dispose(); // its encryption metadata
    const fallback = await session({ ...encrypted, indexedDB: failingIndexedDB }, false);
    const [sent, kept] = await queue(fallback.sync, ['one', 'two']);
    await fallback.app.dispose();

    // The tab that seals a record for IndexedDB first (the merge seals the fallback's records
    // again: see below) waits there until the other one has merged everything and removed the
    // first operation, as its Sync does once the server answered. (Held in WebCrypto itself, so
    // that the test also holds for the built package: npm run test:dist.)
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const subtle = globalThis.crypto.subtle;
    const encrypt = subtle.encrypt.bind(subtle);
    let calls = 0;
    vi.spyOn(subtle, 'encrypt').mockImplementation(async (...args: Parameters<SubtleCrypto['encrypt']>) => {
      if (calls++ === 0) await gate;
      return encrypt(...args);
    });
    const start = () => {
      const app = fixture.app(quietLogger());
      const storage = app.register(new StoragePlugin({ ...encrypted, indexedDB }));
      return { storage, ready: app.ready() };
    };
    const [one, other] = [start(), start()];
    const fast = await withTimeout(
      Promise.race([one.ready.then(() => one), other.ready.then(() => other)]),
      'a tab ready',
    );
    const slow = fast === one ? other : one;
    await fast.storage.remove(`sync/p/${sent}`);
    open();
    await withTimeout(slow.ready, 'the other tab ready');
    expect(await slow.storage.keys()).toStrictEqual([`sync/p/${kept}`]);
    expect(await fast.storage.keys()).toStrictEqual([`sync/p/${kept}`]);
    expect(calls).toBe(3); // the slow tab sealed the first record only (the fast one, both)
    expect(local.records()).toStrictEqual([]);
  });
});

/** A StoragePlugin on a new app, ready (as in a browser). */
async function openStorage(options: StorageOptions) {
  const logger = quietLogger();
  const app = fixture.app(logger);
  const storage = app.register(new StoragePlugin(options));
  await asInABrowser(() => app.ready());
  return { app, storage, logger };
}

describe('what is merged', () => {
  it('a key in both keeps IndexedDB’s value; the generation is IndexedDB’s: no loss reported', async () => {
    const indexedDB = new IDBFactory();
    const first = await openStorage({ indexedDB });
    await first.storage.commit([
      { key: 'both', value: 'from IndexedDB' },
      { key: 'idb', value: 1 },
    ]);
    await first.app.dispose();
    const fallback = await openStorage({ indexedDB: failingIndexedDB });
    expect(fallback.storage.driver).toBe('localstorage');
    await fallback.storage.commit([
      { key: 'both', value: 'from the fallback' },
      { key: 'fallback', value: { nested: [1, 'two'] } },
    ]);
    await fallback.app.dispose();

    const next = await openStorage({ indexedDB });
    expect(next.storage.lost.value).toBeNull();
    expect(await snapshot(next.storage)).toStrictEqual({
      both: 'from IndexedDB',
      fallback: { nested: [1, 'two'] },
      idb: 1,
    });
    expect(local.records()).toStrictEqual([]);
    await next.app.dispose();
    // The generation hint still names IndexedDB's database: the next start reports nothing either.
    const last = await openStorage({ indexedDB });
    expect(last.storage.lost.value).toBeNull();
  });

  it('IndexedDB wiped between runs: the loss is still reported, and the fallback’s records are merged', async () => {
    const first = await openStorage({ indexedDB: new IDBFactory() });
    await first.storage.set('lost', 1);
    await first.app.dispose();
    const fallback = await openStorage({ indexedDB: failingIndexedDB });
    await fallback.storage.set('kept', 2);
    await fallback.app.dispose();

    const wiped = new IDBFactory(); // the same hint in localStorage, an empty IndexedDB
    const next = await openStorage({ indexedDB: wiped });
    expect(next.storage.lost.value).toMatchObject({ when: 'between-runs' });
    expect(await snapshot(next.storage)).toStrictEqual({ kept: 2 });
  });

  it('with driver "indexeddb" too (an app that set it after a fallback)', async () => {
    const fallback = await openStorage({ indexedDB: failingIndexedDB });
    await fallback.storage.set('k', 'v');
    await fallback.app.dispose();
    const next = await openStorage({ driver: 'indexeddb', indexedDB: new IDBFactory() });
    expect(await snapshot(next.storage)).toStrictEqual({ k: 'v' });
    expect(local.records()).toStrictEqual([]);
  });

  it('not a database of driver "localstorage" configured by the app: only a fallback’s', async () => {
    const configured = await openStorage({ driver: 'localstorage' });
    await configured.storage.set('k', 'v');
    await configured.app.dispose();
    const before = fallbackRecords();
    const next = await openStorage({ indexedDB: new IDBFactory() });
    expect(await next.storage.keys()).toStrictEqual([]);
    expect(fallbackRecords()).toStrictEqual(before);
  });

  it('an encrypted fallback with another secret, or opened without one: left in localStorage, with a warning', async () => {
    const fallback = await openStorage({
      indexedDB: failingIndexedDB,
      secret: 'one',
      iterations: fastIterations,
    });
    await fallback.storage.set('k', 'v');
    await fallback.app.dispose();
    const before = fallbackRecords();

    // (Each on a new IndexedDB, as on another device: no generation hint of the one before.)
    const plain = await openStorage({ indexedDB: new IDBFactory() });
    expect(await plain.storage.keys()).toStrictEqual([]);
    expect(plain.logger.warn).toHaveBeenCalledTimes(1);
    local.removeItem('fluxy:generation:fluxy');
    const other = await openStorage({
      indexedDB: new IDBFactory(),
      secret: 'two',
      iterations: fastIterations,
    });
    expect(await other.storage.keys()).toStrictEqual([]);
    expect(other.logger.warn).toHaveBeenCalledTimes(1);
    expect(fallbackRecords()).toStrictEqual(before);
    local.removeItem('fluxy:generation:fluxy');

    const right = await openStorage({
      indexedDB: new IDBFactory(),
      secret: 'one',
      iterations: fastIterations,
    });
    expect(await snapshot(right.storage)).toStrictEqual({ k: 'v' });
    expect(right.logger.warn).not.toHaveBeenCalled();
  });

  it('a record altered in localStorage is copied as it is, and refused when read, as it was', async () => {
    const encrypted = { secret: 'pw', iterations: fastIterations };
    const fallback = await openStorage({ ...encrypted, indexedDB: failingIndexedDB });
    await fallback.storage.commit([
      { key: 'good', value: 1 },
      { key: 'bad', value: 2 },
    ]);
    await fallback.app.dispose();
    const bad = 'fluxy/records/bad';
    const record = JSON.parse(JSON.parse(local.getItem(bad) as string) as string) as { ct: string };
    // One character changed for another (swapping two could swap two equal ones: a flaky test).
    record.ct = `${record.ct[0] === 'A' ? 'B' : 'A'}${record.ct.slice(1)}`;
    local.setItem(bad, JSON.stringify(JSON.stringify(record)));

    const next = await openStorage({ ...encrypted, indexedDB: new IDBFactory() });
    expect(await next.storage.get('good')).toBe(1);
    await expectCode(next.storage.get('bad'), 'storage/tampered');
  });
});

/**
 * Web Locks with the shared mode and `ifAvailable` (TestLockManager has neither): enough for
 * the fallback's lock and the merge's.
 */
class SharedLocks {
  readonly #held = new Map<string, { mode: string; count: number }>();
  readonly #waiting: Array<() => boolean> = [];
  request(
    name: string,
    options: { mode?: 'shared' | 'exclusive'; ifAvailable?: boolean },
    callback: (lock: unknown) => Promise<unknown>,
  ): Promise<unknown> {
    const mode = options.mode ?? 'exclusive';
    return new Promise((resolve, reject) => {
      const tryGrant = (): boolean => {
        const held = this.#held.get(name);
        if (held && (held.mode === 'exclusive' || mode === 'exclusive')) return false;
        this.#held.set(name, { mode, count: (held?.count ?? 0) + 1 });
        Promise.resolve(callback({ name, mode }))
          .then(resolve, reject)
          .finally(() => {
            const now = this.#held.get(name) as { mode: string; count: number };
            if (--now.count === 0) this.#held.delete(name);
            for (const waiting of this.#waiting.splice(0)) if (!waiting()) this.#waiting.push(waiting);
          });
        return true;
      };
      if (tryGrant()) return;
      if (options.ifAvailable) Promise.resolve(callback(null)).then(resolve, reject);
      else this.#waiting.push(tryGrant);
    });
  }
}

describe('a tab still running on the fallback (Web Locks)', () => {
  it('is left alone: its records are merged at a start after it closed', async () => {
    vi.stubGlobal('navigator', { locks: new SharedLocks() });
    const fallback = await openStorage({ indexedDB: failingIndexedDB });
    await fallback.storage.set('k', 'v');
    const indexedDB = new IDBFactory();
    const other = await openStorage({ indexedDB });
    expect(await other.storage.keys()).toStrictEqual([]);
    expect(other.logger.warn).toHaveBeenCalledTimes(1);
    await fallback.storage.set('later', 'w'); // still works, still there
    expect(await fallback.storage.keys()).toStrictEqual(['k', 'later']);
    await fallback.app.dispose();
    await other.app.dispose();

    const next = await openStorage({ indexedDB });
    expect(await snapshot(next.storage)).toStrictEqual({ k: 'v', later: 'w' });
    expect(local.records()).toStrictEqual([]);
  });
});
