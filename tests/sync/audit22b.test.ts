// Audit 22b (A0, A5, A1): clearQueue() cuts the queue exactly at its call; a tab that does not
// send asks the one that does to discard or clear (it alone knows what is on the wire); a baseUrl
// with a query or a fragment is refused. Real FaultServer on 127.0.0.1, fake-indexeddb; "two
// tabs" are two apps on one fake-indexeddb factory sharing one test Web Locks manager.
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import { type App, createApp } from '../../src/core/app.js';
import { FluxyError } from '../../src/core/errors.js';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import { type SyncOptions, SyncPlugin } from '../../src/plugins/sync/index.js';
import { FaultServer } from '../../src/testing/index.js';
import { webLocks } from '../support/lock-manager.js';
import { silentLogger, until, withTimeout } from './harness.js';

const apps: App[] = [];
const servers: FaultServer[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.dispose();
  for (const server of servers.splice(0)) await server.close();
});

async function startServer(): Promise<FaultServer> {
  const server = await FaultServer.start();
  servers.push(server);
  return server;
}

/** An app (a tab) on `factory`'s database; `locks`: the tabs' shared Web Locks, or false. */
function tab(factory: IDBFactory, server: FaultServer, locks: unknown, options: SyncOptions = {}) {
  const app = createApp({ logger: silentLogger });
  apps.push(app);
  app.register(new StoragePlugin({ indexedDB: factory }));
  const connectivity = app.register(new ConnectivityPlugin());
  const sync = app.register(
    new SyncPlugin({
      baseUrl: server.url,
      locks: locks as false,
      retry: { baseDelayMs: 1, maxDelayMs: 4 },
      ...options,
    }),
  );
  const sent: string[] = [];
  const discarded: string[] = [];
  sync.on('sent', ({ operation }) => sent.push(operation.id));
  sync.on('discarded', ({ ids }) => discarded.push(...ids));
  return { app, sync, connectivity, sent, discarded };
}

/** Two tabs of one database sharing Web Locks, both ready: `a` (given `options`) sends. */
async function twoTabs(server: FaultServer, options: SyncOptions = {}) {
  const factory = new IDBFactory();
  const locks = webLocks();
  const a = tab(factory, server, locks, options);
  await a.app.ready();
  const b = tab(factory, server, locks);
  await b.app.ready();
  return { a, b };
}

const urls = (ops: readonly object[]) => ops.map((op) => ('url' in op ? op.url : '?'));

describe('A0: clearQueue() removes exactly the operations queued before its call', () => {
  it('keeps (and later sends) an operation queued after the call, while the clear runs', async () => {
    const server = await startServer();
    const { app, sync, connectivity, discarded } = tab(new IDBFactory(), server, false);
    await app.ready();
    connectivity.setOnline(false);
    const old = await sync.queue('POST', '/old', { body: { user: 'alice' } });
    const clearing = sync.clearQueue(); // logout
    const next = await sync.queue('POST', '/new', { body: { user: 'bob' } }); // the next user's write
    expect(await withTimeout(clearing, 'clearQueue()')).toBe(1);
    expect(discarded).toStrictEqual([old.id]);
    expect(urls(await sync.pending())).toStrictEqual(['/new']);
    expect(sync.pendingCount.value).toBe(1);
    connectivity.setOnline(true);
    await until(() => sync.pendingCount.value === 0, 'the write queued after the clear is sent');
    expect(server.applied.map((entry) => entry.key)).toStrictEqual([next.id]);
  });

  it('waits for a Blob upload whose queue() was called before it, and removes it: never sent', async () => {
    const server = await startServer();
    const { app, sync, connectivity, discarded } = tab(new IDBFactory(), server, false);
    await app.ready();
    connectivity.setOnline(false);
    const photo = sync.queue('POST', '/photos', {
      body: new Blob([new Uint8Array(200_000)], { type: 'image/jpeg' }),
    });
    const removed = await withTimeout(sync.clearQueue(), 'clearQueue()');
    const op = await withTimeout(photo, 'queue() of the photo');
    expect(removed).toBe(1);
    expect(discarded).toStrictEqual([op.id]);
    expect(await sync.pending()).toStrictEqual([]);
    connectivity.setOnline(true);
    await sync.queue('POST', '/after', { body: 1 });
    await until(() => sync.pendingCount.value === 0, 'drained');
    expect(server.received.map((request) => request.path)).toStrictEqual(['/after']);
  });

  it('before ready(): cuts in call order among the queue() calls waiting for init', async () => {
    const server = await startServer();
    const { app, sync, connectivity } = tab(new IDBFactory(), server, false);
    connectivity.setOnline(false);
    const first = sync.queue('POST', '/before', { body: 1 });
    const clearing = sync.clearQueue();
    const second = sync.queue('POST', '/after', { body: 2 });
    await app.ready();
    await first;
    await second;
    expect(await withTimeout(clearing, 'clearQueue()')).toBe(1);
    expect(urls(await sync.pending())).toStrictEqual(['/after']);
  });
});

describe('A5: discard() and clearQueue() in a tab that does not send', () => {
  it('discard(id) of the op the sending tab has on the wire waits for it and answers false', async () => {
    const server = await startServer();
    const { a, b } = await twoTabs(server);
    expect(a.sync.coordination).toBe('web-locks');
    server.script({ delayMs: 400 }, { delayMs: 400 });
    const one = await a.sync.queue('POST', '/one', { body: 1 });
    const two = await a.sync.queue('POST', '/two', { body: 2 });
    await server.waitForRequests(1, { label: '/one on the wire' });
    expect(await withTimeout(b.sync.discard(one.id), 'discard() in the follower')).toBe(false);
    expect(a.sent).toContain(one.id);
    expect(b.discarded).toStrictEqual([]);
    const cleared = await withTimeout(b.sync.clearQueue(), 'clearQueue() in the follower');
    await until(() => !a.sync.isSyncing.value && a.sync.pendingCount.value === 0, 'a done');
    await until(() => b.sync.pendingCount.value === 0, 'b counts');
    // Every op was either applied by the server or reported discarded, never both.
    const applied = server.applied.map((entry) => entry.key);
    expect(applied).toContain(one.id);
    expect([...applied, ...b.discarded].sort()).toStrictEqual([one.id, two.id].sort());
    expect(cleared).toBe(b.discarded.length);
    expect(a.discarded).toStrictEqual([]);
  });

  it('discard(id) of a queued op not yet sent removes it in every tab, true in the asking tab only', async () => {
    const server = await startServer();
    const { a, b } = await twoTabs(server);
    a.connectivity.setOnline(false);
    const op = await b.sync.queue('POST', '/x', { body: 1 });
    await until(() => a.sync.pendingCount.value === 1, 'a sees it');
    expect(await withTimeout(b.sync.discard(op.id), 'discard()')).toBe(true);
    expect(b.discarded).toStrictEqual([op.id]);
    expect(a.discarded).toStrictEqual([]);
    await until(() => a.sync.pendingCount.value === 0 && b.sync.pendingCount.value === 0, 'counts');
    a.connectivity.setOnline(true);
    await b.sync.queue('POST', '/y', { body: 2 });
    await until(() => b.sync.pendingCount.value === 0, 'drained');
    expect(server.received.map((request) => request.path)).toStrictEqual(['/y']);
  });
});

describe('A10: retry(headId) in a tab that does not send', () => {
  it("wakes the sending tab's head from its Retry-After: it is sent now", async () => {
    const server = await startServer();
    const { a, b } = await twoTabs(server, { retry: { maxRetryAfterMs: 3_600_000 } });
    server.script({ status: 503, retryAfter: '60' });
    const head = await b.sync.queue('POST', '/head', { body: 1 });
    await until(() => a.sync.status.value === 'error', 'the head waits for its Retry-After');
    expect(await withTimeout(b.sync.retry(head.id), 'retry() in the follower')).toBe(1);
    await until(() => a.sync.pendingCount.value === 0, 'the head sent at once (not in 60 s)');
    expect(server.received.map((request) => request.path)).toStrictEqual(['/head', '/head']);
    expect(a.sent).toStrictEqual([head.id]);
  });
});

describe('A1: baseUrl with a query or a fragment', () => {
  it('is refused at construction with sync/invalid-options', () => {
    for (const baseUrl of ['http://127.0.0.1:9/api?v=1', 'http://127.0.0.1:9/api#x', '/api?key=1', '/api#']) {
      let error: unknown;
      try {
        new SyncPlugin({ baseUrl });
      } catch (caught) {
        error = caught;
      }
      expect(error, baseUrl).toBeInstanceOf(FluxyError);
      expect((error as FluxyError).code, baseUrl).toBe('sync/invalid-options');
      expect((error as FluxyError).message, baseUrl).toMatch(/query/);
    }
    expect(() => new SyncPlugin({ baseUrl: 'http://127.0.0.1:9/api/' })).not.toThrow();
  });
});
