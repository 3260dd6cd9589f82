import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import { type LockManagerLike, type SyncOptions, SyncPlugin } from '../../src/plugins/sync/index.js';
import type { OutboxStorage } from '../../src/plugins/sync/outbox.js';
import { TestLockManager } from '../support/lock-manager.js';
import { GatedStore, gate } from '../support/memory-store.js';
import { registryPerTest, until, withTimeout } from './harness.js';

// Three findings of an adversarial review of the sync engine, through the public API: the app's
// edits of the queue (clearQueue, discard, retry) called from an outcome handler or while the
// last answer's removal commits, and dispose() while that removal commits.
const fixture = registryPerTest();

const keysOf = (requests: ReadonlyArray<{ key: string | null }>) => requests.map((request) => request.key);

/** Let the event loop turn `count` times (for "this has not happened" checks). */
async function turns(count = 20): Promise<void> {
  for (let turn = 0; turn < count; turn++) await new Promise((resolve) => setImmediate(resolve));
}

/** An app on fake-indexeddb (the real storage plugin), offline until the test goes online. */
function onIndexedDB(options: SyncOptions = {}) {
  const app = fixture.app();
  app.register(new StoragePlugin({ indexedDB: new IDBFactory() }));
  const connectivity = app.register(new ConnectivityPlugin());
  connectivity.setOnline(false);
  const sync = app.register(
    new SyncPlugin({ baseUrl: fixture.server.url, retry: { baseDelayMs: 1, maxDelayMs: 2 }, ...options }),
  );
  return { app, connectivity, sync };
}

/**
 * An app whose storage plugin gives the sync plugin `store` (a GatedStore that can hold a
 * removal commit; two apps on one store and one lock manager are two tabs of one origin).
 */
function onStore(
  store: OutboxStorage,
  databaseName: string,
  locks: LockManagerLike | false = false,
  options: SyncOptions = {},
) {
  const app = fixture.app();
  app.register({ name: 'storage', databaseName, namespace: () => store });
  const connectivity = app.register(new ConnectivityPlugin());
  connectivity.setOnline(false);
  const sync = app.register(
    new SyncPlugin({
      baseUrl: fixture.server.url,
      retry: { baseDelayMs: 1, maxDelayMs: 2 },
      locks,
      ...options,
    }),
  );
  return { app, connectivity, sync };
}

const note = (title: string, kind?: string) => ({ body: { title }, ...(kind ? { kind } : {}) });

describe('edits from an outcome handler (they run inside the flush)', () => {
  // Hung before the fix: clearQueue() waited for the flush, which waited for the handler.
  it('a sent handler that awaits clearQueue(): what is left is cleared, the flush ends, dispose() ends', async () => {
    const { app, connectivity, sync } = onIndexedDB();
    const done = gate();
    let cleared: number | undefined;
    sync.handle('note.create', {
      sent: async () => {
        cleared = await sync.clearQueue();
        done.open();
      },
    });
    await app.ready();
    const first = await sync.queue('POST', '/api/notes', note('a', 'note.create'));
    await sync.queue('POST', '/api/notes', note('b'));
    await sync.queue('POST', '/api/notes', note('c', 'note.create'));
    connectivity.setOnline(true);
    await withTimeout(done.promise, 'clearQueue() inside the sent handler');
    expect(cleared).toBe(2);
    // The flush that ran the handler ends: the one it sent, nothing left.
    expect(await withTimeout(sync.flush(), 'the flush')).toMatchObject({ failed: 0, remaining: 0 });
    expect(sync.pendingCount.value).toBe(0);
    expect(await sync.pending()).toStrictEqual([]);
    expect(keysOf(fixture.server.received)).toStrictEqual([first.id]);
    await withTimeout(app.dispose(), 'dispose()');
  });

  // Hung before the fix: discard() of the op whose outcome runs waited for that op's own step.
  it('a failed handler that awaits discard() of its own operation drops the dead letter', async () => {
    const { app, connectivity, sync } = onIndexedDB();
    const done = gate();
    let discarded: boolean | undefined;
    sync.handle('note.create', {
      failed: async ({ operation }) => {
        discarded = await sync.discard(operation.id);
        done.open();
      },
    });
    await app.ready();
    fixture.server.script({ status: 422 });
    const refused = await sync.queue('POST', '/api/notes', note('a', 'note.create'));
    const next = await sync.queue('POST', '/api/notes', note('b'));
    connectivity.setOnline(true);
    await withTimeout(done.promise, 'discard() inside the failed handler');
    await until(() => sync.pendingCount.value === 0 && !sync.isSyncing.value, 'the flush ended');
    expect(discarded).toBe(true);
    expect(sync.failedCount.value).toBe(0);
    expect(keysOf(fixture.server.received)).toStrictEqual([refused.id, next.id]);
    await withTimeout(app.dispose(), 'dispose()');
  });

  // Would hang if retry() waited for the removal of the op whose handler runs (see the next describe).
  it('a failed handler that awaits retry() of its op, and a sent one that awaits retry(), do not hang', async () => {
    const { app, connectivity, sync } = onIndexedDB();
    const retried: number[] = [];
    const done = gate();
    const record = (count: number) => {
      retried.push(count);
      if (retried.length === 2) done.open();
    };
    sync.handle('note.create', {
      sent: async ({ operation }) => record(await sync.retry(operation.id)),
      failed: async ({ operation }) => record(await sync.retry(operation.id)),
    });
    await app.ready();
    fixture.server.script({ status: 422 }); // refused first; sent again (a new key generation) after the retry
    const op = await sync.queue('POST', '/api/notes', note('a', 'note.create'));
    connectivity.setOnline(true);
    await withTimeout(done.promise, 'both handlers');
    await until(() => sync.pendingCount.value === 0 && !sync.isSyncing.value, 'the flush ended');
    expect(retried).toStrictEqual([1, 0]);
    expect(sync.failedCount.value).toBe(0);
    expect(keysOf(fixture.server.received)).toStrictEqual([op.id, `${op.id}.1`]);
    await withTimeout(app.dispose(), 'dispose()');
  });

  // Passed before the fix too (sync.on handlers are not awaited by the flush): kept as coverage.
  it("a sync.on('sent') handler that awaits clearQueue() does not hang either", async () => {
    const { app, connectivity, sync } = onIndexedDB();
    const done = gate();
    let cleared: number | undefined;
    sync.on('sent', () => {
      void sync.clearQueue().then((count) => {
        cleared = count;
        done.open();
      });
    });
    await app.ready();
    const first = await sync.queue('POST', '/api/notes', note('a'));
    await sync.queue('POST', '/api/notes', note('b'));
    connectivity.setOnline(true);
    await withTimeout(done.promise, "clearQueue() from sync.on('sent')");
    expect(sync.pendingCount.value).toBe(0);
    expect(cleared).toBeLessThanOrEqual(1);
    expect(keysOf(fixture.server.applied)[0]).toBe(first.id);
    await withTimeout(app.dispose(), 'dispose()');
  });
});

describe('retry() while the last answer’s removal commits', () => {
  // With commits landing in call order (as IndexedDB's transactions do), a retry() that rewrote
  // the sent op (still the head in memory, its past retry time still stored) behind its removal
  // put the op back in storage, and the next session sent it again. retry(id) waits for the
  // removal; retry() does not (it does not wait for the head's request either): it only wakes a
  // head whose retry time is still ahead, and this one's has passed (it was sent).
  it.each([
    ['retry()', undefined],
    ['retry(id) of the op being removed', 'sent'],
  ] as const)('%s: the sent op stays removed and is not sent again', async (_label, which) => {
    const store = new GatedStore();
    store.ordered = true;
    const databaseName = `retry-${Math.random()}`;
    const { app, connectivity, sync } = onStore(store, databaseName);
    await app.ready();
    const first = await sync.queue('POST', '/api/notes', note('a'));
    const second = await sync.queue('POST', '/api/notes', note('b'));
    fixture.server.script({ status: 503 }); // the first backs off once, so its record has a retry time
    const held = gate();
    let holding = false;
    store.hold = (id) => {
      if (id !== first.id || holding) return Promise.resolve();
      holding = true;
      return held.promise;
    };
    connectivity.setOnline(true);
    await fixture.server.waitForRequests(3, { label: 'the second request while the first removal is held' });
    let settled = false;
    const retrying = sync.retry(which === 'sent' ? first.id : undefined).then((count) => {
      settled = true;
      return count;
    });
    await turns();
    expect(settled).toBe(which === undefined);
    held.open();
    expect(await withTimeout(retrying, 'retry()')).toBe(0);
    await until(() => sync.pendingCount.value === 0 && !sync.isSyncing.value, 'both sent');
    expect(await store.keys()).toStrictEqual([]);
    await app.dispose();
    const next = onStore(store, databaseName);
    next.connectivity.setOnline(true);
    await next.app.ready();
    await withTimeout(next.sync.flush(), 'the next session’s flush');
    expect(keysOf(fixture.server.received)).toStrictEqual([first.id, first.id, second.id]);
  });
});

describe('dispose() while the last answer’s removal commits', () => {
  // Before the fix dispose() gave the tab lock up at once: the other tab took over, found the op
  // still stored and sent it again.
  it('keeps the tab lock until the removal committed: the next tab does not send the op again', async () => {
    const store = new GatedStore();
    const locks = new TestLockManager();
    const databaseName = `tabs-${Math.random()}`;
    const first = onStore(store, databaseName, locks);
    const second = onStore(store, databaseName, locks);
    await first.app.ready();
    await second.app.ready();
    const reached = gate();
    const held = gate();
    let holding = false;
    store.hold = () => {
      if (holding) return Promise.resolve();
      holding = true;
      reached.open();
      return held.promise;
    };
    first.connectivity.setOnline(true);
    second.connectivity.setOnline(true);
    const op = await first.sync.queue('POST', '/api/notes', note('a'));
    await withTimeout(reached.promise, 'the removal commit of the answered op');
    let disposed = false;
    const disposing = first.app.dispose().then(() => (disposed = true));
    await turns(40);
    expect(disposed).toBe(false);
    expect(locks.grants).toBe(1);
    held.open();
    await withTimeout(disposing, 'dispose()');
    const later = await second.sync.queue('POST', '/api/notes', note('b'));
    await until(
      () => second.sync.pendingCount.value === 0 && fixture.server.applied.length === 2,
      'the next tab sent its op',
    );
    expect(locks.grants).toBe(2);
    expect(keysOf(fixture.server.received)).toStrictEqual([op.id, later.id]);
  });

  // Bounded: a storage that never commits does not hold dispose() (nor the lock) for good.
  it('ends after timeoutMs when the removal never commits (storage hangs)', async () => {
    const store = new GatedStore();
    const { app, connectivity, sync } = onStore(store, `hang-${Math.random()}`, false, { timeoutMs: 200 });
    await app.ready();
    const reached = gate();
    store.hold = () => {
      reached.open();
      return new Promise<void>(() => {});
    };
    connectivity.setOnline(true);
    await sync.queue('POST', '/api/notes', note('a'));
    await withTimeout(reached.promise, 'the removal commit of the answered op');
    await withTimeout(app.dispose(), 'dispose() with storage hung', 5000);
  });
});
