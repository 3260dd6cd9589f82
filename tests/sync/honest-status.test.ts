import { effect } from '@preact/signals-core';
import { IDBFactory } from 'fake-indexeddb';
import { expect, it } from 'vitest';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import { type FetchFunction, SyncPlugin } from '../../src/plugins/sync/index.js';
import { registryPerTest, silentLogger, until } from './harness.js';

// "The spinner tells the truth": findings of a new-user trial, each failing before its fix.
const fixture = registryPerTest();

function bootstrap(indexedDB: IDBFactory, fetch?: FetchFunction) {
  const app = fixture.app();
  app.register(new StoragePlugin({ indexedDB }));
  const connectivity = app.register(new ConnectivityPlugin());
  const sync = app.register(
    new SyncPlugin({
      baseUrl: fixture.server.url,
      retry: { baseDelayMs: 1, maxDelayMs: 2 },
      ...(fetch && { fetch }),
    }),
  );
  return { app, connectivity, sync };
}

it('isSyncing stays false while the head only waits for its Retry-After, even when queue() and flush() run', async () => {
  const { app, sync } = bootstrap(new IDBFactory());
  await app.ready();
  fixture.server.script({ status: 503, retryAfter: '60' });
  await sync.queue('POST', '/a', { body: { n: 1 } });
  await until(() => sync.status.value === 'error');
  const seen: boolean[] = [];
  const stop = effect(() => {
    seen.push(sync.isSyncing.value);
  });
  await sync.queue('POST', '/b', { body: { n: 2 } });
  await sync.flush();
  stop();
  expect(seen.every((syncing) => !syncing)).toBe(true);
  expect(sync.status.value).toBe('error');
  expect(fixture.server.received).toHaveLength(1);
});

it('after a restart, a head waiting for its Retry-After shows status "error" with its last error, not "idle"', async () => {
  const indexedDB = new IDBFactory();
  const first = bootstrap(indexedDB);
  await first.app.ready();
  fixture.server.script({ status: 503, retryAfter: '60' });
  await first.sync.queue('POST', '/a', { body: { n: 1 } });
  await until(() => first.sync.status.value === 'error');
  await first.app.dispose();
  const second = bootstrap(indexedDB);
  const seen: string[] = [];
  const stop = effect(() => {
    seen.push(`${second.sync.isSyncing.value}/${second.sync.status.value}`);
  });
  await second.app.ready();
  await until(() => second.sync.pendingCount.value === 1);
  await until(() => second.sync.status.value === 'error');
  await second.sync.flush();
  stop();
  // Never "syncing" on the way: the restarted app sends nothing while the head waits.
  expect(seen.filter((state) => state.startsWith('true') || state.endsWith('syncing'))).toStrictEqual([]);
  expect(second.sync.lastError.value).toMatchObject({ code: 'sync/http-error', status: 503 });
  expect(second.sync.isSyncing.value).toBe(false);
  expect(fixture.server.received).toHaveLength(1);
});

/** Every `isSyncing/status` pair the app could see, and the request whose answer the test releases. */
function heldAnswer() {
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  const fetchHeld: FetchFunction = async (url, init) => {
    const response = await fetch(url, init);
    await released; // the answer has come back, but the engine sees it when the test says
    return response;
  };
  return { fetchHeld, release };
}

for (const cut of ['connectivity lost', 'pause()'] as const) {
  it(`${cut} while a request is in flight: status says 'syncing' as long as isSyncing, until the answer settles — the two never contradict`, async () => {
    const { fetchHeld, release } = heldAnswer();
    const { app, connectivity, sync } = bootstrap(new IDBFactory(), fetchHeld);
    await app.ready();
    const seen: string[] = [];
    const stop = effect(() => {
      seen.push(`${sync.isSyncing.value}/${sync.status.value}`);
    });
    await sync.queue('POST', '/a', { body: { n: 1 } });
    await fixture.server.waitForRequests(1, { label: 'the POST' });
    await until(() => sync.isSyncing.value, 'the request in flight');
    if (cut === 'pause()') sync.pause();
    else connectivity.setOnline(false);
    // Its answer can still come (and be committed): the request is still out.
    expect([sync.isSyncing.value, sync.status.value]).toStrictEqual([true, 'syncing']);
    release();
    await until(() => sync.pendingCount.value === 0 && !sync.isSyncing.value, 'the answer settled');
    stop();
    expect(sync.status.value).toBe(cut === 'pause()' ? 'paused' : 'offline');
    expect(fixture.server.applied).toHaveLength(1);
    const contradictions = seen.filter((pair) =>
      pair.startsWith('true/') ? pair !== 'true/syncing' : pair.endsWith('/syncing'),
    );
    expect(contradictions).toStrictEqual([]);
  });
}

it('after dispose, the signals keep their last values (the ops are still on disk), they do not drop to 0', async () => {
  const { app, connectivity, sync } = bootstrap(new IDBFactory());
  await app.ready();
  connectivity.setOnline(false);
  await sync.queue('POST', '/a', { body: { n: 1 } });
  await sync.queue('POST', '/b', { body: { n: 2 } });
  expect(sync.pendingCount.value).toBe(2);
  await app.dispose();
  expect(sync.pendingCount.value).toBe(2);
  expect(sync.failedCount.value).toBe(0);
  expect(sync.isSyncing.value).toBe(false);
});

it('handle() refuses handlers with neither sent nor failed, and unknown keys (a typo would drop outcomes)', async () => {
  const { app, sync } = bootstrap(new IDBFactory());
  await app.ready();
  const bad: unknown[] = [{}, { sucess() {} }, { sent: 1 }, { sent() {}, rollback() {} }, null, 'sent'];
  for (const handlers of bad) {
    expect(() => sync.handle('note.create', handlers as never)).toThrowError(
      expect.objectContaining({ code: 'invalid-argument' }),
    );
  }
});

it('an outcome waits for a handler that has its callback: a "sent" is not consumed by a handler with only failed()', async () => {
  const indexedDB = new IDBFactory();
  const first = bootstrap(indexedDB);
  const failedCalls: string[] = [];
  first.sync.handle('note.create', { failed: ({ operation }) => void failedCalls.push(operation.id) });
  await first.app.ready();
  const op = await first.sync.queue('POST', '/notes', { body: { title: 'x' }, kind: 'note.create' });
  await until(() => first.sync.pendingCount.value === 0);
  await first.app.dispose();
  const second = bootstrap(indexedDB);
  const delivered = new Promise<string>((resolve) => {
    second.sync.handle('note.create', { sent: ({ operation }) => resolve(operation.id) });
  });
  await second.app.ready();
  expect(await delivered).toBe(op.id);
  expect(failedCalls).toStrictEqual([]);
});

it('a sync.on handler that throws does not stop the others, and its error is logged', async () => {
  const errors: unknown[] = [];
  const app = fixture.app({ ...silentLogger, error: (...args: unknown[]) => void errors.push(args) });
  app.register(new StoragePlugin({ indexedDB: new IDBFactory() }));
  app.register(new ConnectivityPlugin());
  const sync = app.register(new SyncPlugin({ baseUrl: fixture.server.url }));
  const seen: string[] = [];
  sync.on('sent', () => {
    throw new Error('handler bug');
  });
  const second = new Promise<void>((resolve) =>
    sync.on('sent', () => {
      seen.push('second');
      resolve();
    }),
  );
  await sync.queue('POST', '/a', { body: {} });
  await second;
  expect(seen).toStrictEqual(['second']);
  expect(JSON.stringify(errors.map((entry) => String((entry as unknown[])[0])))).toContain('handler threw');
});
