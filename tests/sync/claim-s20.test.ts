// Session 20: a `failed` outcome handler may claim the refusal it settled (FailedOutcome.claim):
// the operation then leaves the outbox without being reported — no `failed` event, never in
// failedCount, failed() or lastError, not counted as failed by flush() — in the tab that sends and
// in the others; not claimed, it is failed as before. Through the public API.
import { effect } from '@preact/signals-core';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import { type FailedOutcome, SyncPlugin } from '../../src/plugins/sync/index.js';
import { TestLockManager } from '../support/lock-manager.js';
import { registryPerTest, until, withTimeout } from './harness.js';

const fixture = registryPerTest();

/** A tab on `disk` (offline until the test goes online); tabs of one disk share `locks`. */
function tab(disk: IDBFactory, locks = new TestLockManager()) {
  const app = fixture.app();
  app.register(new StoragePlugin({ indexedDB: disk, name: 'claims' }));
  const connectivity = app.register(new ConnectivityPlugin());
  connectivity.setOnline(false);
  const sync = app.register(
    new SyncPlugin({ baseUrl: fixture.server.url, retry: { baseDelayMs: 1, maxDelayMs: 2 }, locks }),
  );
  // What a UI could show of failures.
  const seen = { failed: 0, maxFailedCount: 0, lastError: 0 };
  sync.on('failed', () => seen.failed++);
  effect(() => {
    seen.maxFailedCount = Math.max(seen.maxFailedCount, sync.failedCount.value);
    if (sync.lastError.value) seen.lastError++;
  });
  return { app, connectivity, sync, seen };
}

const titleOf = (operation: unknown) => (operation as { body: { title: string } }).body.title;
const note = (title: string) => ({ body: { title }, kind: 'note.create' });
const keysIn = async (app: { use(name: 'storage'): StoragePlugin }, prefix: string) =>
  (await app.use('storage').keys(prefix)).length;

describe('sync.handle(kind, { failed }): claim()', () => {
  it('a claimed refusal is never reported, in the sending tab or another; the next op goes on', async () => {
    const disk = new IDBFactory();
    const locks = new TestLockManager();
    const sender = tab(disk, locks);
    const other = tab(disk, locks);
    const handled: FailedOutcome[] = [];
    sender.sync.handle('note.create', {
      failed: (outcome) => {
        handled.push(outcome);
        if (outcome.error.status === 422) outcome.claim();
      },
    });
    await sender.app.ready();
    await other.app.ready();
    fixture.server.script({ status: 422 });
    const claimed = await sender.sync.queue('POST', '/api/notes', note('claimed'));
    await sender.sync.queue('POST', '/api/notes', note('sent'));
    sender.connectivity.setOnline(true);
    const summary = await sender.sync.flush();
    await until(
      () => sender.sync.pendingCount.value === 0 && other.sync.pendingCount.value === 0,
      'both tabs',
    );
    expect(handled.map(({ operation }) => operation.id)).toEqual([claimed.id]);
    expect(summary).toMatchObject({ failed: 0 });
    for (const { sync, seen } of [sender, other]) {
      expect(seen).toEqual({ failed: 0, maxFailedCount: 0, lastError: 0 });
      expect(await sync.failed()).toEqual([]);
    }
    expect(fixture.server.applied.map((request) => request.key)).toHaveLength(1);
    // Gone from storage with its outcome.
    expect(await keysIn(sender.app, 'f/')).toBe(0);
    expect(await keysIn(sender.app, 'o/')).toBe(0);
  });

  it('not claimed (or claimed by a handler that then threw, or too late): failed as before, its event after its handlers', async () => {
    const disk = new IDBFactory();
    const { app, connectivity, sync, seen } = tab(disk);
    const order: string[] = [];
    let late: (() => void) | undefined;
    sync.handle('note.create', {
      failed: ({ operation, claim }) => {
        order.push(`handler ${titleOf(operation)}`);
        if (titleOf(operation) === 'throws') {
          claim();
          throw new Error('after its claim');
        }
        late = claim;
      },
    });
    sync.on('failed', ({ operation }) => order.push(`event ${titleOf(operation)}`));
    await app.ready();
    fixture.server.script({ status: 422 }, { status: 422 });
    await sync.queue('POST', '/api/notes', note('throws'));
    await sync.queue('POST', '/api/notes', note('plain'));
    connectivity.setOnline(true);
    expect(await sync.flush()).toMatchObject({ failed: 2 });
    late?.(); // after its handler returned: nothing
    expect(order).toEqual(['handler throws', 'event throws', 'handler plain', 'event plain']);
    expect(sync.failedCount.value).toBe(2);
    expect(seen.failed).toBe(2);
    expect((await sync.failed()).length).toBe(2);
  });

  it('an outcome delivered later (no handler when it came, or after a restart) leaves the failed list once claimed', async () => {
    const disk = new IDBFactory();
    const first = tab(disk);
    await first.app.ready();
    fixture.server.script({ status: 422 });
    const op = await first.sync.queue('POST', '/api/notes', note('later'));
    first.connectivity.setOnline(true);
    expect(await first.sync.flush()).toMatchObject({ failed: 1 });
    expect(first.sync.failedCount.value).toBe(1); // no handler here: failed as usual
    await first.app.dispose();
    const again = tab(disk);
    again.sync.handle('note.create', { failed: ({ claim }) => claim() });
    await again.app.ready();
    again.connectivity.setOnline(true);
    await withTimeout(
      until(() => again.sync.failedCount.value === 0, 'the stored outcome to be claimed'),
      'claimed after the restart',
    );
    expect(await again.sync.failed()).toEqual([]);
    expect(await keysIn(again.app, `f/${op.id}`)).toBe(0);
    expect(await keysIn(again.app, 'o/')).toBe(0);
  });

  it('a claiming handler may queue the change again: it is sent after the ops already queued', async () => {
    const disk = new IDBFactory();
    const { app, connectivity, sync, seen } = tab(disk);
    sync.handle('note.create', {
      failed: async ({ operation, claim }) => {
        await sync.queue('POST', '/api/notes', { body: { title: 'again' } });
        if (operation.id) claim();
      },
    });
    await app.ready();
    fixture.server.script({ status: 422 });
    await sync.queue('POST', '/api/notes', note('first'));
    await sync.queue('POST', '/api/notes', { body: { title: 'second' } });
    connectivity.setOnline(true);
    await sync.flush();
    await until(() => sync.pendingCount.value === 0 && !sync.isSyncing.value, 'the outbox to drain');
    expect(fixture.server.applied.map((request) => (request.body as { title: string }).title)).toEqual([
      'second',
      'again',
    ]);
    expect(seen).toEqual({ failed: 0, maxFailedCount: 0, lastError: 0 });
  });
});
