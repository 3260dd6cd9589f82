// The shared suite on a localforage instance given as `driver`: an app running Fluxy on a
// localforage driver of its own (here one defined with `localforage.defineDriver`, keeping its
// records in a Map per database, as a SQLite driver on Capacitor would keep them in a table).
import localforage from 'localforage';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/index.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import { expectCode, storagePerTest, withTimeout } from './fixtures.js';
import { describeStoreContract } from './store-contract.js';

const databases = new Map<string, Map<string, unknown>>();
const calls: string[] = [];
/** While set, setItem stops inside the driver (after calling `reached`) until `release` settles. */
let held: { reached(): void; release: Promise<void> } | undefined;

const mapDriver: LocalForageDriver = {
  _driver: 'testMapDriver',
  _support: true,
  _initStorage(options) {
    const name = `${options.name}/${options.storeName}`;
    if (!databases.has(name)) databases.set(name, new Map());
    (this as unknown as { _dbInfo: unknown })._dbInfo = { records: databases.get(name) };
    return Promise.resolve();
  },
  async getItem<T>(this: unknown, key: string) {
    calls.push('getItem');
    return (records(this).get(key) ?? null) as T | null;
  },
  async setItem<T>(this: unknown, key: string, value: T) {
    calls.push('setItem');
    if (held) {
      held.reached();
      await held.release;
    }
    records(this).set(key, value);
    return value;
  },
  async removeItem(this: unknown, key: string) {
    records(this).delete(key);
  },
  async clear(this: unknown) {
    records(this).clear();
  },
  async keys(this: unknown) {
    return [...records(this).keys()];
  },
  async length(this: unknown) {
    return records(this).size;
  },
  async key(this: unknown, index: number) {
    return [...records(this).keys()][index] as string;
  },
  async iterate() {
    throw new Error('not used by Fluxy');
  },
};

function records(instance: unknown): Map<string, unknown> {
  return (instance as { _dbInfo: { records: Map<string, unknown> } })._dbInfo.records;
}

await localforage.defineDriver(mapDriver);
let database = 0;

const openStorage = storagePerTest();

describeStoreContract(
  [
    {
      driver: 'localforage',
      persistent: true,
      setup: async () => ({
        driver: localforage.createInstance({ name: `app-${++database}`, driver: 'testMapDriver' }),
      }),
    },
  ],
  openStorage,
);

describe('driver: a localforage instance', () => {
  it("stores through the instance's driver", async () => {
    const instance = localforage.createInstance({ name: 'through', driver: 'testMapDriver' });
    const app = createApp();
    const storage = new StoragePlugin({ driver: instance });
    app.register(storage);
    await app.ready();
    calls.length = 0;
    await storage.set('a', { n: 1 });
    expect(calls).toContain('setItem');
    expect(await instance.keys()).toContain('a');
    expect(await storage.get('a')).toEqual({ n: 1 });
    await app.dispose();
  });

  it('answers a read with the writes called before it, without waiting for one called after it', async () => {
    const instance = localforage.createInstance({ name: 'held', driver: 'testMapDriver' });
    const { storage } = await openStorage({ driver: instance });
    await storage.set('k', 'old');
    let release = () => {};
    const inDriver = new Promise<void>((reached) => {
      held = { reached, release: new Promise((resolve) => (release = resolve)) };
    });
    const before = storage.get('k');
    const write = storage.set('k', 'new'); // held inside the driver until released
    const after = storage.get('k');
    let afterSettled = false;
    void after.finally(() => (afterSettled = true));
    try {
      await withTimeout(inDriver, 'the write reaching the driver');
      expect(await withTimeout(before, 'the read called before the write')).toBe('old');
      expect(afterSettled).toBe(false);
    } finally {
      held = undefined;
      release();
    }
    await write;
    expect(await after).toBe('new');
  });

  it('refuses an object that is not a localforage instance, with storage/unknown-driver', () => {
    expectCode(() => new StoragePlugin({ driver: { getItem() {} } as never }), 'storage/unknown-driver');
    expectCode(() => new StoragePlugin({ driver: null as never }), 'storage/unknown-driver');
  });
});
