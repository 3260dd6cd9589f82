import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Fault, type RunningServer } from '../../examples/server/server.mjs';
import { type App, createApp } from '../../src/core/app.js';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import type { FetchFunction } from '../../src/plugins/sync/index.js';
import { SyncPlugin } from '../../src/plugins/sync/index.js';
import type { OutboxChange } from '../../src/plugins/sync/write-group.js';
import { queueFaults } from '../server/helpers.js';
import { MemoryStore } from '../support/memory-store.js';
import {
  type EngineSetup,
  exactlyOnceInOrder,
  makeEngine,
  nextEvent,
  silentLogger,
  until,
} from './harness.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startServer(): Promise<RunningServer> {
  const server = await createServer({ dataFile: null, staticDir: null });
  cleanups.push(() => server.close());
  return server;
}

/** The ops each request carried, in order: `single` for a request of its own, else the batch's keys. */
function recorder() {
  const requests: Array<{ url: string; keys: string[]; headers: Headers }> = [];
  const fetchFunction: FetchFunction = (input, init) => {
    const headers = new Headers(init.headers);
    const body =
      typeof init.body === 'string' && input.endsWith('/api/batch') ? JSON.parse(init.body) : undefined;
    const keys = body
      ? (body.ops as Array<{ id: string }>).map((op) => op.id)
      : [headers.get('Idempotency-Key') ?? ''];
    requests.push({ url: input, keys, headers });
    return fetch(input, init);
  };
  return { requests, fetch: fetchFunction };
}

/** An engine (offline until `online.value = true`) sending batches of `max` to the server. */
async function engineFor(server: RunningServer, max = 10, extra: Partial<EngineSetup> = {}) {
  const record = recorder();
  const made = makeEngine({
    baseUrl: `${server.url}/api`,
    online: false,
    batch: { url: '/batch', max },
    fetch: record.fetch,
    serverId: 'id',
    ...extra,
  });
  cleanups.push(() => made.engine.dispose());
  await made.engine.start();
  return { ...made, requests: record.requests };
}

const note = (title: string) => ({ body: { title } });
const appliedKeys = (server: RunningServer) => server.state.log.map((entry) => entry.key);

describe('batches', () => {
  it('sends up to max ops per request, each applied once and in order, with the headers option on the batch', async () => {
    const server = await startServer();
    const seen: string[] = [];
    const { engine, online, queue, requests } = await engineFor(server, 3, {
      headers: (operation) => {
        seen.push(operation.id);
        return { Authorization: 'Bearer t' };
      },
    });
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await queue('POST', '/notes', note(`n${i}`))).id);
    online.value = true;
    await until(() => engine.pendingCount.value === 0, 'the queue to drain');
    expect(requests.map((request) => request.keys)).toEqual([ids.slice(0, 3), ids.slice(3, 6), [ids[6]]]);
    expect(requests[0]?.url).toBe(`${server.url}/api/batch`);
    expect(requests[0]?.headers.get('Authorization')).toBe('Bearer t');
    expect(requests[0]?.headers.get('Idempotency-Key')).toBeNull();
    expect(seen).toEqual([ids[0], ids[3], ids[6]]);
    expect(exactlyOnceInOrder(appliedKeys(server), ids)).toEqual([]);
    expect(server.state.log.map((entry) => (entry.body as { title: string }).title)).toEqual(
      ids.map((_, i) => `n${i}`),
    );
  });

  it("removes a batch's successes from storage in one commit (all or none of them left after a crash)", async () => {
    // A memory store noting, for each commit that removes queued operations, which ones.
    class RemovalLog extends MemoryStore {
      readonly removals: string[][] = [];
      override async commit(changes: readonly OutboxChange[]): Promise<void> {
        const removed = changes.flatMap((change) =>
          'remove' in change && change.key.startsWith('p/') ? [change.key.slice(2)] : [],
        );
        if (removed.length > 0) this.removals.push(removed);
        await super.commit(changes);
      }
    }
    const server = await startServer();
    const store = new RemovalLog();
    const { engine, online, queue, requests } = await engineFor(server, 3, { store });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await queue('POST', '/notes', note(`n${i}`))).id);
    online.value = true;
    await until(() => engine.pendingCount.value === 0, 'the queue to drain');
    expect(requests.map((request) => request.keys)).toEqual([ids.slice(0, 3), ids.slice(3)]);
    expect(store.removals).toEqual([ids.slice(0, 3), ids.slice(3)]);
    expect(await store.keys('p/')).toEqual([]);
  });

  it.each([
    ['before the server applied it', ['drop-before']],
    ['after the server applied all of it', ['drop-after']],
    ['in the middle (after its second op was applied)', ['ok', 'ok', 'drop-after']],
    ['in the middle (before its second op was applied)', ['ok', 'ok', 'drop-before']],
  ] as Array<[string, Fault[]]>)(
    'a batch cut by a dropped connection %s: exactly once, in order',
    async (_, faults) => {
      const server = await startServer();
      const { engine, online, queue, requests, reportFailure } = await engineFor(server);
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) ids.push((await queue('POST', '/notes', note(`n${i}`))).id);
      await queueFaults(server, faults);
      const retry = nextEvent(engine, 'retry');
      online.value = true;
      expect((await retry).error.code).toBe('sync/network-error');
      expect(reportFailure).toHaveBeenCalled();
      await until(() => engine.pendingCount.value === 0, 'the queue to drain');
      // The retry carries the same ops with the same keys.
      expect(requests.map((request) => request.keys)).toEqual([ids, ids]);
      expect(exactlyOnceInOrder(appliedKeys(server), ids)).toEqual([]);
    },
  );

  it('a batch the server answered resets the backoff of the network failures before it', async () => {
    const server = await startServer();
    const { engine, online, queue } = await engineFor(server, 3, {
      retry: { baseDelayMs: 4, maxDelayMs: 64 },
    });
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await queue('POST', '/notes', note(`n${i}`))).id);
    // [0, 1, 2] dropped, then sent; [3, 4, 5] dropped: a first failure again, not a second.
    await queueFaults(server, ['drop-before', 'ok', 'ok', 'ok', 'ok', 'drop-before']);
    const delays: number[] = [];
    engine.events.on('retry', ({ delayMs }) => delays.push(delayMs));
    online.value = true;
    await until(() => engine.pendingCount.value === 0, 'the queue to drain');
    expect(delays).toEqual([2, 2]); // random() is 0.5: half of 4 ms for a first failure (4 for a second)
    expect(exactlyOnceInOrder(appliedKeys(server), ids)).toEqual([]);
  });

  it('a refusal in the middle: earlier ops leave, that op fails as it would alone, the rest are sent after, in order', async () => {
    const server = await startServer();
    const { engine, online, queue, requests } = await engineFor(server);
    const a = await queue('POST', '/notes', note('a'));
    const bad = await queue('PATCH', '/notes/missing', note('x')); // 404: refused
    const b = await queue('POST', '/notes', note('b'));
    const c = await queue('POST', '/notes', note('c'));
    const sent: string[] = [];
    engine.events.on('sent', ({ operation }) => sent.push(operation.id));
    const failed = nextEvent(engine, 'failed');
    online.value = true;
    const { operation, error } = await failed;
    expect(operation.id).toBe(bad.id);
    expect(error).toMatchObject({ code: 'sync/http-error', status: 404 });
    await until(() => engine.pendingCount.value === 0, 'the queue to drain');
    expect(requests.map((request) => request.keys)).toEqual([
      [a.id, bad.id, b.id, c.id],
      [b.id, c.id],
    ]);
    expect(sent).toEqual([a.id, b.id, c.id]);
    expect(engine.failedCount.value).toBe(1);
    expect(exactlyOnceInOrder(appliedKeys(server), [a.id, b.id, c.id])).toEqual([]);
  });

  it('an answer over maxResponseBytes in a batch is dropped for that op only (responseTooLarge), in a batch answer small or large', async () => {
    const server = await startServer();
    const { engine, online, queue, requests } = await engineFor(server, 3, { maxResponseBytes: 600 });
    const a = await queue('POST', '/notes', note('a'));
    // Its answer (the note, with its body) is over 600 bytes.
    const big = await queue('POST', '/notes', { body: { title: 'big', body: 'x'.repeat(700) } });
    const b = await queue('POST', '/notes', note('b'));
    const c = await queue('POST', '/notes', note('c'));
    const d = await queue('POST', '/notes', note('d'));
    const sent: Array<{ id: string; title: unknown; tooLarge: boolean }> = [];
    engine.events.on('sent', ({ operation, response, responseTooLarge }) =>
      sent.push({
        id: operation.id,
        title: (response as { title?: unknown } | undefined)?.title,
        tooLarge: responseTooLarge === true,
      }),
    );
    online.value = true;
    await until(() => engine.pendingCount.value === 0, 'the queue to drain');
    // [a, big, b]: an answer over 600 bytes; [c, d]: one under 600 bytes, whose bodies are kept.
    expect(requests.map((request) => request.keys)).toEqual([
      [a.id, big.id, b.id],
      [c.id, d.id],
    ]);
    expect(sent).toEqual([
      { id: a.id, title: 'a', tooLarge: false },
      { id: big.id, title: undefined, tooLarge: true },
      { id: b.id, title: 'b', tooLarge: false },
      { id: c.id, title: 'c', tooLarge: false },
      { id: d.id, title: 'd', tooLarge: false },
    ]);
    expect(exactlyOnceInOrder(appliedKeys(server), [a.id, big.id, b.id, c.id, d.id])).toEqual([]);
  });

  it('a 5xx in the middle: earlier ops leave, that op is retried with backoff, then it and the rest go in order', async () => {
    const server = await startServer();
    const { engine, online, queue, requests } = await engineFor(server);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await queue('POST', '/notes', note(`n${i}`))).id);
    await queueFaults(server, ['ok', 'ok', { status: 503, retryAfter: '0' }]);
    const retry = nextEvent(engine, 'retry');
    online.value = true;
    const { operation, error } = await retry;
    expect(operation).toMatchObject({ id: ids[1], attempts: 1 });
    expect(error).toMatchObject({ code: 'sync/http-error', status: 503 });
    await until(() => engine.pendingCount.value === 0, 'the queue to drain');
    expect(requests.map((request) => request.keys)).toEqual([ids, ids.slice(1)]);
    expect(exactlyOnceInOrder(appliedKeys(server), ids)).toEqual([]);
  });

  it('a 401 in the middle: earlier ops leave, the queue pauses on that op until resume()', async () => {
    const server = await startServer();
    const { engine, online, queue, requests } = await engineFor(server);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await queue('POST', '/notes', note(`n${i}`))).id);
    await queueFaults(server, ['ok', 'ok', 'ok', { status: 401 }]);
    const unauthorized = nextEvent(engine, 'unauthorized');
    online.value = true;
    const { operation, status } = await unauthorized;
    expect(operation.id).toBe(ids[2]);
    expect(status).toBe(401);
    await until(() => engine.status.value === 'paused', 'the paused status');
    expect(engine.pendingCount.value).toBe(2);
    expect(engine.isSyncing.value).toBe(false);
    expect(engine.lastError.value).toMatchObject({ code: 'sync/http-error', status: 401 });
    expect(appliedKeys(server)).toEqual(ids.slice(0, 2));
    expect(await engine.flush()).toEqual({ sent: 0, failed: 0, remaining: 2 });
    expect(requests).toHaveLength(1);
    engine.resume();
    await until(() => engine.pendingCount.value === 0, 'the queue to drain');
    expect(requests.map((request) => request.keys)).toEqual([ids, ids.slice(2)]);
    expect(exactlyOnceInOrder(appliedKeys(server), ids)).toEqual([]);
  });

  it('a batch answered as a whole with 503 or 401 is retried (or pauses) with the same keys', async () => {
    const server = await startServer();
    const { engine, online, queue, requests } = await engineFor(server);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await queue('POST', '/notes', note(`n${i}`))).id);
    await queueFaults(server, [{ status: 503, retryAfter: '0' }, { status: 401 }]);
    const retry = nextEvent(engine, 'retry');
    const unauthorized = nextEvent(engine, 'unauthorized');
    online.value = true;
    expect((await retry).operation).toMatchObject({ id: ids[0], attempts: 1 });
    expect((await unauthorized).operation.id).toBe(ids[0]);
    expect(appliedKeys(server)).toEqual([]);
    engine.resume();
    await until(() => engine.pendingCount.value === 0, 'the queue to drain');
    expect(requests.map((request) => request.keys)).toEqual([ids, ids, ids]);
    expect(exactlyOnceInOrder(appliedKeys(server), ids)).toEqual([]);
  });

  it('an op that uses the temporary id of a create in the same batch ends the batch: it goes next, with the server id', async () => {
    const server = await startServer();
    const { engine, online, queue, requests } = await engineFor(server);
    const a = await queue('POST', '/notes', note('a'));
    const create = await queue('POST', '/notes', { body: { title: 'draft' }, tempId: 'tmp_0001' });
    const edit = await queue('PATCH', '/notes/tmp_0001', { body: { title: 'final' } });
    const b = await queue('POST', '/notes', note('b'));
    online.value = true;
    await until(() => engine.pendingCount.value === 0, 'the queue to drain');
    expect(requests.map((request) => request.keys)).toEqual([
      [a.id, create.id],
      [edit.id, b.id],
    ]);
    const serverId = await engine.resolveId('tmp_0001');
    expect(serverId).toBeDefined();
    expect(server.state.log.map((entry) => `${entry.method} ${entry.path}`)).toEqual([
      'POST /api/notes',
      'POST /api/notes',
      `PATCH /api/notes/${serverId}`,
      'POST /api/notes',
    ]);
    expect(server.state.notes.find((row) => row.id === serverId)?.title).toBe('final');
  });

  it('creates each followed by an edit of the row: batches of two, each record read from storage once', async () => {
    const server = await startServer();
    const store = new MemoryStore();
    const reads = new Map<string, number>();
    const get = store.get.bind(store);
    store.get = (key: string) => {
      if (key.startsWith('p/')) reads.set(key, (reads.get(key) ?? 0) + 1);
      return get(key);
    };
    const { engine, online, queue, requests } = await engineFor(server, 100, { store });
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const tempId = `tmp_row_${i}`;
      ids.push((await queue('POST', '/notes', { body: { title: `n${i}` }, tempId })).id);
      ids.push((await queue('PATCH', `/notes/${tempId}`, { body: { title: `m${i}` } })).id);
    }
    reads.clear();
    online.value = true;
    await until(() => engine.pendingCount.value === 0, 'the queue to drain');
    // [c0] alone (u0 needs its answer), then [u0, c1], [u1, c2], … [u5].
    expect(requests.map((request) => request.keys)).toEqual([
      [ids[0]],
      ...[1, 3, 5, 7, 9].map((i) => [ids[i], ids[i + 1]]),
      [ids[11]],
    ]);
    expect([...reads.values()].every((count) => count === 1)).toBe(true);
    expect(reads.size).toBe(12);
    expect(exactlyOnceInOrder(appliedKeys(server), ids)).toEqual([]);
  });

  it('ops to another origin than the batch endpoint are sent alone', async () => {
    const server = await startServer();
    const other = await startServer();
    const { engine, online, queue, requests } = await engineFor(server, 10, { allowedOrigins: [other.url] });
    const a = await queue('POST', '/notes', note('a'));
    const b = await queue('POST', '/notes', note('b'));
    const away = await queue('POST', `${other.url}/api/notes`, note('away'));
    const c = await queue('POST', '/notes', note('c'));
    const d = await queue('POST', '/notes', note('d'));
    online.value = true;
    await until(() => engine.pendingCount.value === 0, 'the queue to drain');
    expect(requests.map((request) => request.keys)).toEqual([[a.id, b.id], [away.id], [c.id, d.id]]);
    expect(requests[1]?.url).toBe(`${other.url}/api/notes`);
    expect(appliedKeys(other)).toEqual([away.id]);
  });

  it('a batch across a restart: the answer lost, the app closed, reopened from the same disk: nothing lost, resent or applied twice', async () => {
    const server = await startServer();
    const dir = await mkdtemp(join(tmpdir(), 'fluxy-batch-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const open = async () => {
      const record = recorder();
      const app: App = createApp({ logger: silentLogger });
      app.register(new StoragePlugin({ driver: 'file', dir, name: 'batch' }));
      app.register(new ConnectivityPlugin());
      const sync = app.register(
        new SyncPlugin({
          baseUrl: `${server.url}/api`,
          batch: { url: '/batch', max: 3 },
          retry: { baseDelayMs: 60_000, maxDelayMs: 60_000 },
          fetch: record.fetch,
        }),
      );
      await app.ready();
      return { app, sync, requests: record.requests };
    };
    const first = await open();
    first.sync.pause();
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push((await first.sync.queue('POST', '/notes', note(`n${i}`))).id);
    // The first batch goes through; the second is applied and its answer lost (its retry would
    // wait a minute).
    await queueFaults(server, ['ok', 'ok', 'ok', 'ok', 'drop-after']);
    first.sync.resume();
    await until(() => first.sync.lastError.value?.code === 'sync/network-error', 'the lost answer');
    expect(appliedKeys(server)).toEqual(ids.slice(0, 6));
    expect(first.sync.pendingCount.value).toBe(5);
    expect(first.requests.map((request) => request.keys)).toEqual([ids.slice(0, 3), ids.slice(3, 6)]);
    await first.app.dispose();

    const second = await open();
    cleanups.push(() => second.app.dispose());
    expect(second.sync.pendingCount.value).toBe(5);
    await second.sync.flush();
    await until(() => second.sync.pendingCount.value === 0, 'the reopened queue to drain');
    expect(second.requests.map((request) => request.keys)).toEqual([ids.slice(3, 6), ids.slice(6)]);
    expect(exactlyOnceInOrder(appliedKeys(server), ids)).toEqual([]);
  });
});

describe('batch option validation', () => {
  it.each([
    ['a string', '/batch'],
    ['an empty url', { url: '' }],
    ['a url that is not a string', { url: 5 }],
    ['max 0', { url: '/batch', max: 0 }],
    ['max 1001', { url: '/batch', max: 1001 }],
    ['a fractional max', { url: '/batch', max: 2.5 }],
    ['max as a string', { url: '/batch', max: '10' }],
    ['an unknown key', { url: '/batch', size: 10 }],
    ['a url on another origin', { url: 'https://elsewhere.example/batch' }],
  ])('refuses %s', (_, batch) => {
    expect(() => new SyncPlugin({ baseUrl: 'https://api.example/v1', batch: batch as never })).toThrow(
      expect.objectContaining({ code: 'sync/invalid-options' }),
    );
  });

  it('refuses a relative url with no baseUrl and no page to resolve it', () => {
    expect(() => new SyncPlugin({ batch: { url: '/batch' } })).toThrow(
      expect.objectContaining({ code: 'sync/invalid-options' }),
    );
  });

  it('takes a url resolved like an operation URL, and max from 1 to 1000', () => {
    expect(
      () => new SyncPlugin({ baseUrl: 'https://api.example/v1', batch: { url: '/batch' } }),
    ).not.toThrow();
    expect(
      () => new SyncPlugin({ baseUrl: 'https://api.example/v1', batch: { url: '/batch', max: 1000 } }),
    ).not.toThrow();
    expect(() => new SyncPlugin({ batch: { url: 'https://api.example/batch', max: 1 } })).not.toThrow();
  });
});
