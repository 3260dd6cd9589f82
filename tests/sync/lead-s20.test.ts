import { effect } from '@preact/signals-core';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import { type FetchFunction, SyncPlugin } from '../../src/plugins/sync/index.js';
import { TestLockManager } from '../support/lock-manager.js';
import { registryPerTest, until } from './harness.js';

// Audit 20, H3: the browser cleared the site's data while two tabs were open. The tab that led
// the outbox must not keep the lock (nor show its dead state in the others): a reloaded tab, on
// a fresh database, leads and sends what it queues.
const fixture = registryPerTest();

/** A tab: its own app on the shared disk (IndexedDB), locks and BroadcastChannel name. */
async function tab(indexedDB: IDBFactory, locks: TestLockManager, name: string, fetch?: FetchFunction) {
  const app = fixture.app();
  const storage = app.register(new StoragePlugin({ indexedDB, name }));
  app.register(new ConnectivityPlugin());
  const sync = app.register(
    new SyncPlugin({
      baseUrl: fixture.server.url,
      locks,
      retry: { baseDelayMs: 10, maxDelayMs: 50 },
      ...(fetch ? { fetch } : {}),
    }),
  );
  await app.ready();
  return { app, storage, sync };
}

function wipe(indexedDB: IDBFactory, name: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
  });
}

describe('site data cleared under two open tabs (audit 20 H3)', () => {
  it('the dead leader lets go of the lock and goes quiet: the reloaded tab leads and sends', async () => {
    const indexedDB = new IDBFactory();
    const locks = new TestLockManager();
    const name = `lead-s20-${Math.random().toString(36).slice(2)}`;
    const dead = await tab(indexedDB, locks, name);
    const reloaded = await tab(indexedDB, locks, name);
    expect(locks.grants).toBe(1); // the first tab leads
    await wipe(indexedDB, name);
    await until(() => dead.sync.lastError.value?.code === 'sync/storage-lost', 'the leader sees the loss');
    await until(() => reloaded.storage.lost.value !== null, 'the other tab sees it');
    // The other tab reloads: a new app on a fresh database; the dead tab stays open.
    await reloaded.app.dispose();
    const fresh = await tab(indexedDB, locks, name);
    const deadShows: unknown[] = [];
    const stop = effect(() => {
      deadShows.push(dead.sync.pendingCount.value, dead.sync.isSyncing.value);
    });
    expect(fresh.storage.lost.value).toBeNull();
    const op = await fresh.sync.queue('POST', '/api/notes', { body: { title: 'after the wipe' } });
    await until(
      () => fresh.sync.pendingCount.value === 0 && fresh.sync.status.value === 'idle',
      'the reloaded tab sends its change',
    );
    expect(fixture.server.applied.map((applied) => applied.key)).toStrictEqual([op.id]);
    // It shows its own state, not the dead tab's error.
    expect(fresh.sync.lastError.value).toBeNull();
    // The dead tab still says what happened to it, and nothing of the live tab's queue.
    expect(dead.sync.lastError.value?.code).toBe('sync/storage-lost');
    expect(dead.sync.status.value).toBe('error');
    stop();
    expect(deadShows.every((shown) => shown === 0 || shown === false)).toBe(true);
  });

  it('a tab that mirrored the leader while it was sending shows its own loss, not "syncing"', async () => {
    const indexedDB = new IDBFactory();
    const locks = new TestLockManager();
    const name = `lead-s20-${Math.random().toString(36).slice(2)}`;
    // The leader's request hangs (until the app is disposed): it shows, and shares, 'syncing'.
    const hangs: FetchFunction = (_input, init) =>
      new Promise((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason));
      });
    const leader = await tab(indexedDB, locks, name, hangs);
    const follower = await tab(indexedDB, locks, name, hangs);
    await follower.sync.queue('POST', '/api/notes', { body: { title: 'in flight' } });
    await until(
      () => follower.sync.status.value === 'syncing',
      "the follower mirrors the leader's 'syncing'",
    );
    await wipe(indexedDB, name);
    await until(
      () => follower.sync.lastError.value?.code === 'sync/storage-lost',
      'the follower sees the loss',
    );
    await until(() => leader.storage.lost.value !== null, 'the leader sees it');
    expect(follower.sync.isSyncing.value).toBe(false);
    expect(follower.sync.status.value).toBe('error');
    expect(follower.sync.pendingCount.value).toBe(0);
  });
});
