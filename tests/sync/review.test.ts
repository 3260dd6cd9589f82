import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import type { FetchFunction } from '../../src/plugins/sync/index.js';
import { createTestApp, FaultServer, type TestApp, type TestAppOptions } from '../../src/testing/index.js';
import { exactlyOnceInOrder, expectQuiet, silentLogger, until, withTimeout } from './harness.js';

// A new user's review of fluxy/sync through its public entries (fluxy/testing's FaultServer and
// createTestApp): each test in the first group failed before its fix.

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function startServer(batch?: string): Promise<FaultServer> {
  const server = await FaultServer.start(batch === undefined ? {} : { batch });
  closers.push(() => server.close());
  return server;
}

async function testApp(options: TestAppOptions): Promise<TestApp> {
  const t = await createTestApp({ app: { logger: silentLogger }, ...options });
  closers.push(() => t.dispose());
  return t;
}

const appliedKeys = (server: FaultServer) => server.applied.map((entry) => entry.key);
const receivedKeys = (server: FaultServer) => server.received.map((entry) => entry.key);

describe('sync review: fixed', () => {
  it('on() and handle() after dispose throw app/disposed (the handler could never run), as storage.on() does', async () => {
    const t = await testApp({});
    await t.dispose();
    expect(() => t.sync.on('sent', () => {})).toThrow(expect.objectContaining({ code: 'app/disposed' }));
    expect(() => t.sync.handle('note.create', { sent() {} })).toThrow(
      expect.objectContaining({ code: 'app/disposed' }),
    );
  });

  it('pause() and resume() after dispose throw app/disposed, as the other methods do (they were silent)', async () => {
    const t = await testApp({});
    t.sync.pause();
    t.sync.resume();
    await t.dispose();
    expect(() => t.sync.pause()).toThrow(expect.objectContaining({ code: 'app/disposed' }));
    expect(() => t.sync.resume()).toThrow(expect.objectContaining({ code: 'app/disposed' }));
  });

  it('two instances on one database without Web Locks (two tabs of a plain-http page) do not echo their state to each other forever', async () => {
    const server = await startServer();
    const storage = { driver: 'indexeddb' as const, indexedDB: new IDBFactory(), name: 'lan' };
    const first = await testApp({ sync: { baseUrl: server.url }, storage });
    const second = await testApp({ sync: { baseUrl: server.url }, storage });
    expect([first.sync.coordination, second.sync.coordination]).toStrictEqual(['none', 'none']);
    const observer = new BroadcastChannel('fluxy-sync:lan:sync');
    closers.push(async () => observer.close());
    let messages = 0;
    observer.onmessage = () => messages++;
    const op = await first.sync.queue('POST', '/notes', { body: { n: 1 } });
    await first.settled();
    await second.settled();
    // Quiet now: nothing to tell. Before the fix each 'state' message made the other instance
    // publish and share its own: ~200,000 messages a second, for good. An echo that never ends
    // has no event to await (its absence is what is tested), so this is a bounded window of
    // listening: 200 ms saw tens of thousands of messages before the fix.
    await expectQuiet('BroadcastChannel messages once both instances settled', () => messages, {
      windowMs: 200,
      max: 5,
    });
    expect(appliedKeys(server)).toStrictEqual([op.id]);
  });

  it('discard() of the head in flight that is answered 503 Retry-After: 0 resolves true and the op is never sent again', async () => {
    const server = await startServer();
    server.script({ delayMs: 150, next: { status: 503, retryAfter: '0' } });
    const t = await testApp({ sync: { baseUrl: server.url } });
    const head = await t.sync.queue('POST', '/notes', { body: { n: 1 } });
    const next = await t.sync.queue('POST', '/notes', { body: { n: 2 } });
    await server.waitForRequests(1);
    expect(await t.sync.discard(head.id)).toBe(true);
    await t.settled();
    expect(receivedKeys(server)).toStrictEqual([head.id, next.id]);
    expect(appliedKeys(server)).toStrictEqual([next.id]);
    expect([t.sync.pendingCount.value, t.sync.failedCount.value, t.sync.status.value]).toStrictEqual([
      0,
      0,
      'idle',
    ]);
    expect(t.sync.lastError.value).toBeNull();
  });

  it('retry() of every failed op does not wait for the head’s request in flight on a slow server', async () => {
    const server = await startServer();
    let answer: () => void = () => {};
    const answered = new Promise<void>((resolve) => (answer = resolve));
    const slowSecond: FetchFunction = async (url, init) => {
      const response = await fetch(url, init);
      if (server.received.length === 2) await answered; // the head's answer comes when the test says
      return response;
    };
    server.script({ status: 422 });
    const t = await testApp({ sync: { baseUrl: server.url, fetch: slowSecond } });
    const refused = await t.sync.queue('POST', '/notes', { body: { n: 1 } });
    await until(() => t.sync.failedCount.value === 1, 'the first op to fail');
    const head = await t.sync.queue('POST', '/notes', { body: { n: 2 } });
    await server.waitForRequests(2);
    expect(await withTimeout(t.sync.retry(), 'retry() while the head is in flight', 2_000)).toBe(1);
    expect([t.sync.pendingCount.value, t.sync.failedCount.value]).toStrictEqual([2, 0]);
    answer();
    await t.settled();
    // The refused op comes back with a new key generation, after the head.
    expect(appliedKeys(server)).toStrictEqual([head.id, `${refused.id}.1`]);
    expect([t.sync.pendingCount.value, t.sync.failedCount.value, t.sync.status.value]).toStrictEqual([
      0,
      0,
      'idle',
    ]);
  });
});

describe('sync review: promises that held', () => {
  it('a 401 pauses on the head; ops queued during the pause wait; resume() sends all once, in order', async () => {
    const server = await startServer();
    server.script({ status: 401 });
    const t = await testApp({ sync: { baseUrl: server.url } });
    const ids = [(await t.sync.queue('POST', '/notes', { body: { n: 0 } })).id];
    await until(() => t.sync.status.value === 'paused', 'the 401 pause');
    for (let n = 1; n < 4; n++) ids.push((await t.sync.queue('POST', '/notes', { body: { n } })).id);
    expect([t.sync.isSyncing.value, t.sync.pendingCount.value, server.received.length]).toStrictEqual([
      false,
      4,
      1,
    ]);
    t.sync.resume();
    await t.settled();
    expect(exactlyOnceInOrder(appliedKeys(server), ids)).toStrictEqual([]);
  });

  it('dispose() during a flush, then a new app on the same database: each op applied once, in order', async () => {
    const server = await startServer();
    const storage = { driver: 'indexeddb' as const, indexedDB: new IDBFactory(), name: 'review' };
    server.script({ delayMs: 200 });
    const first = await testApp({ sync: { baseUrl: server.url }, storage, online: false });
    const ids: string[] = [];
    for (let n = 0; n < 5; n++) ids.push((await first.sync.queue('POST', '/notes', { body: { n } })).id);
    first.goOnline();
    await server.waitForRequests(1);
    await first.dispose();
    expect(first.sync.pendingCount.value).toBe(5);
    const second = await testApp({ sync: { baseUrl: server.url }, storage });
    await second.settled();
    await until(() => second.sync.pendingCount.value === 0, 'the reopened queue to drain');
    // The aborted head may have been applied by the slow server: resent with its key, replayed.
    expect(exactlyOnceInOrder(appliedKeys(server), ids)).toStrictEqual([]);
  });

  it('discard() tells the truth whenever it is called around the start of a send: true ⇒ never applied, false ⇒ applied once', async () => {
    for (let turns = 0; turns < 12; turns++) {
      const server = await startServer();
      const t = await createTestApp({
        app: { logger: silentLogger },
        sync: { baseUrl: server.url },
        online: false,
      });
      const op = await t.sync.queue('POST', '/notes', { body: { turns } });
      t.goOnline();
      for (let turn = 0; turn < turns; turn++) await Promise.resolve();
      const found = await t.sync.discard(op.id);
      await t.settled();
      expect({ turns, applied: appliedKeys(server) }).toStrictEqual({ turns, applied: found ? [] : [op.id] });
      expect(t.sync.pendingCount.value).toBe(0);
      await t.dispose();
    }
  });

  it.each([
    [
      'more results than ops',
      (ids: string[]) => ({ results: [...ids, 'x'].map((id) => ({ id, status: 201 })) }),
    ],
    [
      'results with other ids',
      (ids: string[]) => ({ results: ids.map((id) => ({ id: `${id}x`, status: 201 })) }),
    ],
    [
      'results out of order',
      (ids: string[]) => ({ results: [...ids].reverse().map((id) => ({ id, status: 201 })) }),
    ],
    ['a status as a string', (ids: string[]) => ({ results: ids.map((id) => ({ id, status: '201' })) })],
    ['no results', () => ({ results: [] })],
    ['results null', () => ({ results: null })],
    ['not JSON', () => 'garbage'],
  ])(
    'a batch answered with %s is sent again with the same keys: nothing lost, failed or applied twice',
    async (_, make) => {
      const server = await startServer('/batch');
      let garbled = false;
      const garbleFirstBatch: FetchFunction = async (url, init) => {
        if (garbled || !url.endsWith('/batch')) return fetch(url, init);
        garbled = true;
        const sent = JSON.parse(String(init.body)) as { ops: Array<{ id: string }> };
        await fetch(url, init); // the server applies the batch; its answer is replaced
        const answer = make(sent.ops.map((op) => op.id));
        return new Response(typeof answer === 'string' ? answer : JSON.stringify(answer), {
          status: 200,
          headers: { 'Content-Type': 'application/json' },
        });
      };
      const t = await testApp({
        sync: {
          baseUrl: server.url,
          batch: { url: '/batch', max: 3 },
          retry: { baseDelayMs: 10, maxDelayMs: 20 },
          fetch: garbleFirstBatch,
        },
        online: false,
      });
      const ids: string[] = [];
      for (let n = 0; n < 4; n++) ids.push((await t.sync.queue('POST', '/notes', { body: { n } })).id);
      t.goOnline();
      await t.settled();
      expect(exactlyOnceInOrder(appliedKeys(server), ids)).toStrictEqual([]);
      expect([t.sync.pendingCount.value, t.sync.failedCount.value]).toStrictEqual([0, 0]);
    },
  );

  it('batch max 1 sends plain requests, each once, in order', async () => {
    const server = await startServer('/batch');
    const t = await testApp({
      sync: { baseUrl: server.url, batch: { url: '/batch', max: 1 } },
      online: false,
    });
    const ids: string[] = [];
    for (let n = 0; n < 3; n++) ids.push((await t.sync.queue('POST', '/notes', { body: { n } })).id);
    t.goOnline();
    await t.settled();
    expect(server.received.map((request) => request.path)).toStrictEqual(['/notes', '/notes', '/notes']);
    expect(exactlyOnceInOrder(appliedKeys(server), ids)).toStrictEqual([]);
  });
});
