import { readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../src/core/app.js';
import { encodeFileName } from '../../src/plugins/storage/drivers/file-names.js';
import { type StorageLoss, type StorageOptions, StoragePlugin } from '../../src/plugins/storage/index.js';
import { withTimeout } from '../sync/harness.js';
import { expectCode, fastIterations, quietLogger, tempDirsPerTest } from './fixtures.js';

// Issue 17, "storage that disappears": a database wiped between runs or under the running app is
// reported (storage.lost, 'storageLost'), and nothing of it is used again.
const tempDir = tempDirsPerTest();
const apps: Array<ReturnType<typeof createApp>> = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.dispose()));
  vi.unstubAllGlobals();
});

/** A `localStorage` for Node (the IndexedDB driver keeps its generation hint there). */
class MemoryLocalStorage {
  readonly #items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.#items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.#items.set(key, String(value));
  }
  removeItem(key: string): void {
    this.#items.delete(key);
  }
}

/** Opens a storage plugin; `losses` records every 'storageLost' heard from before `ready()`. */
async function open(options: StorageOptions) {
  const app = createApp({ logger: quietLogger() });
  apps.push(app);
  const storage = app.register(new StoragePlugin(options));
  const losses: StorageLoss[] = [];
  storage.on('storageLost', (loss) => losses.push(loss));
  await app.ready();
  return { app, storage, losses };
}

function nextLoss(storage: StoragePlugin): Promise<StorageLoss> {
  return withTimeout(
    new Promise<StorageLoss>((resolve) => {
      const off = storage.on('storageLost', (loss) => {
        off();
        resolve(loss);
      });
    }),
    'the storageLost event',
  );
}

function deleteDatabase(factory: IDBFactory, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = factory.deleteDatabase(name);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
  });
}

const folderOf = (dir: string) => join(dir, encodeFileName('fluxy'));

describe('a database wiped between runs (file driver)', () => {
  it('a first run reports nothing; nor does a second run on the same folder', async () => {
    const dir = await tempDir();
    const first = await open({ driver: 'file', dir });
    expect(first.losses).toStrictEqual([]);
    expect(first.storage.lost.value).toBeNull();
    await first.storage.set('a', 1);
    await first.app.dispose();
    const second = await open({ driver: 'file', dir });
    expect(second.losses).toStrictEqual([]);
    expect(second.storage.lost.value).toBeNull();
    expect(await second.storage.get('a')).toBe(1);
  });

  it('the folder removed: storageLost at ready, and an empty database', async () => {
    const dir = await tempDir();
    const first = await open({ driver: 'file', dir });
    await first.storage.set('a', 1);
    await first.app.dispose();
    await rm(folderOf(dir), { recursive: true });

    const second = await open({ driver: 'file', dir });
    expect(second.losses).toMatchObject([{ when: 'between-runs' }]);
    expect(second.storage.lost.value).toMatchObject({ when: 'between-runs' });
    expect(await second.storage.keys()).toStrictEqual([]);
    // Reported once: the run after that finds the database it was told about.
    await second.storage.set('b', 2);
    await second.app.dispose();
    const third = await open({ driver: 'file', dir });
    expect(third.losses).toStrictEqual([]);
    expect(await third.storage.get('b')).toBe(2);
  });

  it('half wiped (its generation gone, some records left): reported, and the leftovers are deleted', async () => {
    const dir = await tempDir();
    const first = await open({ driver: 'file', dir, secret: 'pw', iterations: fastIterations });
    await first.storage.set('a', 1);
    await first.storage.set('b', 2);
    await first.app.dispose();
    const folder = folderOf(dir);
    for (const entry of await readdir(folder)) {
      if (entry.includes(encodeFileName('\u0000fluxy:generation')) || entry.includes(encodeFileName('a')))
        await rm(join(folder, entry));
    }

    // Even the encryption metadata of the lost generation goes: a new secret opens the new one.
    const second = await open({ driver: 'file', dir, secret: 'another', iterations: fastIterations });
    expect(second.losses).toMatchObject([{ when: 'between-runs' }]);
    expect(await second.storage.keys()).toStrictEqual([]);
  });

  it('the whole data folder moved away and back while the app ran: unavailable for a while, not lost', async () => {
    const dir = await tempDir();
    const { storage, losses } = await open({ driver: 'file', dir });
    await storage.set('a', 1);
    await rename(dir, `${dir}.away`);
    await expectCode(storage.get('a'), 'storage/unavailable');
    await rename(`${dir}.away`, dir);
    expect(await storage.get('a')).toBe(1);
    expect(losses).toStrictEqual([]);
    expect(storage.lost.value).toBeNull();
  });
});

describe('a database wiped under the running app (file driver)', () => {
  it('its folder removed: the next operation fails with storage/lost and storageLost is emitted', async () => {
    const dir = await tempDir();
    const { storage } = await open({ driver: 'file', dir });
    await storage.set('a', 1);
    const lost = nextLoss(storage);
    await rm(folderOf(dir), { recursive: true });

    await expectCode(storage.get('a'), 'storage/lost');
    expect(await lost).toMatchObject({ when: 'while-running' });
    expect(storage.lost.value).toMatchObject({ when: 'while-running' });
    // Every later call too — also once a folder of that name exists again.
    await rm(dir, { recursive: true });
    const recreated = await open({ driver: 'file', dir });
    await recreated.storage.set('a', 'new');
    await expectCode(storage.get('a'), 'storage/lost');
    await expectCode(storage.set('b', 1), 'storage/lost');
    await expectCode(storage.keys(), 'storage/lost');
  });

  it('records deleted with the generation, the folder kept: the next listing finds it lost', async () => {
    const dir = await tempDir();
    const { storage } = await open({ driver: 'file', dir });
    await storage.commit([
      { key: 'a', value: 1 },
      { key: 'b', value: 2 },
    ]);
    const folder = folderOf(dir);
    for (const entry of await readdir(folder)) {
      if (!entry.includes(encodeFileName('b'))) await rm(join(folder, entry));
    }
    await expectCode(storage.keys(), 'storage/lost');
    await expectCode(storage.get('b'), 'storage/lost');
    expect(storage.lost.value).toMatchObject({ when: 'while-running' });
  });
});

describe('a database wiped (IndexedDB)', () => {
  it('between runs: found through the hint in localStorage; a first run reports nothing', async () => {
    vi.stubGlobal('localStorage', new MemoryLocalStorage());
    const factory = new IDBFactory();
    const first = await open({ indexedDB: factory });
    expect(first.losses).toStrictEqual([]);
    await first.storage.set('a', 1);
    await first.app.dispose();
    await deleteDatabase(factory, 'fluxy');

    const second = await open({ indexedDB: factory });
    expect(second.losses).toMatchObject([{ when: 'between-runs' }]);
    expect(await second.storage.keys()).toStrictEqual([]);
  });

  it('deleted under the running app: storageLost at once, then every call fails with storage/lost', async () => {
    const factory = new IDBFactory();
    const { storage } = await open({ indexedDB: factory });
    await storage.set('a', 1);
    const lost = nextLoss(storage);
    await deleteDatabase(factory, 'fluxy'); // another page (or the browser) deletes it
    expect(await lost).toMatchObject({ when: 'while-running' });
    await expectCode(storage.get('a'), 'storage/lost');
    await expectCode(storage.set('a', 2), 'storage/lost');
  });
});

describe('storage.on()', () => {
  it('refuses unknown events and handlers that are not functions', async () => {
    const storage = new StoragePlugin({ driver: 'memory' });
    await expectCode(() => storage.on('nope' as 'storageLost', () => {}), 'invalid-argument');
    await expectCode(() => storage.on('storageLost', 'handler' as unknown as () => void), 'invalid-argument');
  });
});

describe('requestPersistence() and persistence()', () => {
  it('ask navigator.storage and report its answer', async () => {
    const persist = vi.fn(async () => true);
    const persisted = vi.fn(async () => false);
    vi.stubGlobal('navigator', { storage: { persist, persisted } });
    const storage = new StoragePlugin({ driver: 'memory' });
    expect(await storage.persistence()).toBe('best-effort');
    expect(await storage.requestPersistence()).toBe('persisted');
    expect(persist).toHaveBeenCalledTimes(1);
    persist.mockResolvedValueOnce(false);
    expect(await storage.requestPersistence()).toBe('best-effort');
    persist.mockRejectedValueOnce(new Error('not allowed'));
    expect(await storage.requestPersistence()).toBe('best-effort');
  });

  it("resolve 'unsupported' where navigator.storage does not exist", async () => {
    vi.stubGlobal('navigator', {});
    const storage = new StoragePlugin({ driver: 'memory' });
    expect(await storage.requestPersistence()).toBe('unsupported');
    expect(await storage.persistence()).toBe('unsupported');
  });
});
