import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { encodeFileName } from '../../src/plugins/storage/drivers/file-names.js';
import { type StorageOptions, StoragePlugin } from '../../src/plugins/storage/index.js';
import { SyncPlugin } from '../../src/plugins/sync/index.js';
import { expectCode, tempDirsPerTest } from '../storage/fixtures.js';
import { registryPerTest, until } from './harness.js';

// Issue 17, "storage that disappears", through Sync and a real server: a queue whose database was
// wiped — between runs or under the running app — is never delivered in part.
const fixture = registryPerTest();
const tempDir = tempDirsPerTest();

async function session(storageOptions: StorageOptions, online: boolean) {
  const app = fixture.app();
  const storage = app.register(new StoragePlugin(storageOptions));
  const connectivity = app.register(new ConnectivityPlugin());
  const sync = app.register(
    new SyncPlugin({ baseUrl: fixture.server.url, retry: { baseDelayMs: 10, maxDelayMs: 50 } }),
  );
  connectivity.setOnline(online);
  await app.ready();
  return { app, storage, connectivity, sync };
}

async function queueThree(sync: SyncPlugin) {
  const ops = [];
  for (const title of ['one', 'two', 'three'])
    ops.push(await sync.queue('POST', '/api/notes', { body: { title } }));
  return ops;
}

/** Deletes the database's generation record and the record of `op` (half a wipe). */
async function halfWipe(dir: string, opId: string): Promise<void> {
  const folder = join(dir, encodeFileName('fluxy'));
  for (const entry of await readdir(folder)) {
    if (
      entry.includes(encodeFileName('\u0000fluxy:generation')) ||
      entry.includes(encodeFileName(`sync/p/${opId}`))
    )
      await rm(join(folder, entry));
  }
}

describe('a queue whose database was wiped between runs', () => {
  it('half wiped: nothing of it is sent, lastError says so, and new operations go out', async () => {
    const dir = await tempDir();
    const first = await session({ driver: 'file', dir }, false);
    const [head] = await queueThree(first.sync);
    await first.app.dispose();
    await halfWipe(dir, head?.id as string);

    const second = await session({ driver: 'file', dir }, true);
    expect(second.storage.lost.value).toMatchObject({ when: 'between-runs' });
    expect(second.sync.pendingCount.value).toBe(0);
    expect(second.sync.lastError.value?.code).toBe('sync/storage-lost');
    const next = await second.sync.queue('POST', '/api/notes', { body: { title: 'after' } });
    await until(() => second.sync.pendingCount.value === 0 && second.sync.lastError.value === null, 'sent');
    expect(fixture.server.applied.map((applied) => applied.key)).toStrictEqual([next.id]);
  });
});

describe('a queue whose database was wiped under the running app', () => {
  it('file driver, its folder removed: detected at the next rescan, nothing sent, queue() refused', async () => {
    const dir = await tempDir();
    const { sync, connectivity, storage } = await session({ driver: 'file', dir }, false);
    await queueThree(sync);
    await rm(join(dir, encodeFileName('fluxy')), { recursive: true });
    connectivity.setOnline(true); // rescans storage
    await until(() => storage.lost.value !== null, 'storage.lost');
    await until(() => sync.pendingCount.value === 0, 'the lost queue dropped');
    expect(sync.lastError.value?.code).toBe('sync/storage-lost');
    await until(() => sync.status.value === 'error', "status 'error'");
    await expectCode(sync.queue('POST', '/api/notes', { body: {} }), 'storage/lost');
    expect(await sync.pending()).toStrictEqual([]);
    expect(fixture.server.received).toStrictEqual([]);
  });

  it('file driver, half of it deleted in place: the surviving operations are not delivered', async () => {
    const dir = await tempDir();
    const { sync, connectivity, storage } = await session({ driver: 'file', dir }, false);
    const [head] = await queueThree(sync);
    await halfWipe(dir, head?.id as string);
    connectivity.setOnline(true);
    await until(() => storage.lost.value !== null, 'storage.lost');
    await until(() => sync.pendingCount.value === 0, 'the lost queue dropped');
    await sync.flush();
    expect(sync.lastError.value?.code).toBe('sync/storage-lost');
    expect(fixture.server.received).toStrictEqual([]);
  });

  it('IndexedDB deleted (another page, the browser): reported at once, nothing sent', async () => {
    const factory = new IDBFactory();
    const { sync, connectivity } = await session({ indexedDB: factory }, false);
    await queueThree(sync);
    await new Promise<void>((resolve, reject) => {
      const request = factory.deleteDatabase('fluxy');
      request.onsuccess = () => resolve();
      request.onerror = () => reject(request.error);
    });
    await until(() => sync.lastError.value?.code === 'sync/storage-lost', 'sync reports the loss');
    expect(sync.pendingCount.value).toBe(0);
    connectivity.setOnline(true);
    await sync.flush();
    await expectCode(sync.queue('POST', '/api/notes', { body: {} }), 'storage/lost');
    expect(fixture.server.received).toStrictEqual([]);
  });
});
