import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Fault, type RunningServer } from '../../examples/server/server.mjs';
import { createApp } from '../../src/core/app.js';
import type { Logger } from '../../src/core/logger.js';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import type { FetchFunction, RetryOptions } from '../../src/plugins/sync/index.js';
import { SyncPlugin } from '../../src/plugins/sync/index.js';
import { queueFaults } from '../server/helpers.js';
import { exactlyOnceInOrder, silentLogger, until } from './harness.js';

// A batch request refused as a whole (413, or no batch endpoint: 404, 405…) says nothing about any
// one of its ops: no op's attempt is counted for it. Before, each such answer was a failed attempt
// of the head op, so a server whose body limit is below the batch size (Express's express.json()
// takes 100 kB) failed good ops one after the other with sync/max-attempts.

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startServer(maxBatchBytes?: number): Promise<RunningServer> {
  const server = await createServer({
    dataFile: null,
    staticDir: null,
    ...(maxBatchBytes && { maxBatchBytes }),
  });
  cleanups.push(() => server.close());
  return server;
}

interface Sent {
  /** Whether it went to the batch endpoint (`batchPath`). */
  batch: boolean;
  /** The Idempotency-Keys it carried, in order. */
  keys: string[];
  chars: number;
  status: number;
}

/**
 * An app (memory storage, paused) sending to `server` with `batch`; every request recorded with
 * the status it got. `answer` may replace a batch request's answer.
 */
async function appFor(
  server: RunningServer,
  batch: { url: string; max: number },
  options: {
    answer?: ((index: number) => Response | undefined) | undefined;
    retry?: Partial<RetryOptions> | undefined;
  } = {},
) {
  const sent: Sent[] = [];
  const warnings: string[] = [];
  const batchUrl = `${server.url}/api${batch.url}`;
  const recording: FetchFunction = async (input, init) => {
    const isBatch = input === batchUrl;
    const body = typeof init.body === 'string' ? init.body : '';
    const keys = isBatch
      ? (JSON.parse(body).ops as Array<{ id: string }>).map((op) => op.id)
      : [new Headers(init.headers).get('Idempotency-Key') ?? ''];
    const replaced = isBatch ? options.answer?.(sent.filter((one) => one.batch).length) : undefined;
    const response = replaced ?? (await fetch(input, init));
    sent.push({ batch: isBatch, keys, chars: body.length, status: response.status });
    return response;
  };
  const logger: Logger = { ...silentLogger, warn: (message) => void warnings.push(message) };
  const app = createApp({ logger });
  app.register(new StoragePlugin({ driver: 'memory' }));
  app.register(new ConnectivityPlugin());
  const sync = app.register(
    new SyncPlugin({
      baseUrl: `${server.url}/api`,
      batch,
      fetch: recording,
      retry: options.retry ?? { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
    }),
  );
  cleanups.push(() => app.dispose());
  await app.ready();
  sync.pause();
  const events: string[] = [];
  sync.on('retry', ({ operation }) => void events.push(`retry ${operation.id}`));
  sync.on('failed', ({ operation }) => void events.push(`failed ${operation.id}`));
  return { sync, sent, warnings, events };
}

const appliedKeys = (server: RunningServer) => server.state.log.map((entry) => entry.key);

describe('a batch request refused as a whole', () => {
  it('413: no attempt counted, smaller batches from then on: every op applied once, in order, none failed', async () => {
    const server = await startServer(20_000); // 16 of these ops a batch at most
    const { sync, sent, events } = await appFor(server, { url: '/batch', max: 100 });
    const ids: string[] = [];
    for (let i = 0; i < 40; i++)
      ids.push((await sync.queue('POST', '/notes', { body: { title: `n${i}`, body: 'x'.repeat(1200) } })).id);
    sync.resume();
    await until(() => sync.pendingCount.value === 0, 'the queue to drain');

    expect(sync.failedCount.value).toBe(0);
    expect(events).toEqual([]);
    expect(exactlyOnceInOrder(appliedKeys(server), ids)).toEqual([]);
    // The refused requests were batches, each smaller than the one before (the first: all 40 ops).
    const refused = sent.filter((one) => one.status === 413);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((one) => one.batch)).toBe(true);
    expect(refused[0]?.keys).toEqual(ids);
    for (let i = 1; i < refused.length; i++)
      expect(refused[i]?.chars).toBeLessThan((refused[i - 1] as Sent).chars);
    // The rest: batches (not one request per op) under the limit, together each op once, in order.
    const taken = sent.filter((one) => one.status !== 413);
    expect(taken.every((one) => one.batch && one.status === 200 && one.chars <= 20_000)).toBe(true);
    expect(taken.flatMap((one) => one.keys)).toEqual(ids);
    expect(taken.length).toBeLessThan(ids.length / 2);
  });

  it('413, an op larger than half the refused batch: it goes alone, plain; the others in batches; none failed', async () => {
    const server = await startServer(20_000);
    const { sync, sent, events } = await appFor(server, { url: '/batch', max: 100 });
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const size = i === 2 ? 30_000 : 1200;
      ids.push((await sync.queue('POST', '/notes', { body: { title: `n${i}`, body: 'x'.repeat(size) } })).id);
    }
    sync.resume();
    await until(() => sync.pendingCount.value === 0, 'the queue to drain');

    expect(events).toEqual([]);
    expect(sync.failedCount.value).toBe(0);
    expect(exactlyOnceInOrder(appliedKeys(server), ids)).toEqual([]);
    expect(sent.map((one) => [one.batch, one.keys, one.status])).toEqual([
      [true, ids, 413],
      [true, ids.slice(0, 2), 200],
      [false, [ids[2]], 201], // the single endpoint takes it (1 MiB); one it refused with 413 would fail it
      [true, ids.slice(3), 200],
    ]);
  });

  it.each<[string, { url: string; max: number }, Fault[], ((index: number) => Response | undefined)?]>([
    ['404 (no such endpoint)', { url: '/no-batch', max: 10 }, []],
    ['405', { url: '/batch', max: 10 }, [{ status: 405 }]],
    ['400', { url: '/batch', max: 10 }, [{ status: 400 }]],
    [
      'a 200 that is no batch answer',
      { url: '/batch', max: 10 },
      [],
      (index) => (index === 0 ? Response.json({ ok: true }) : undefined),
    ],
    [
      'a redirect',
      { url: '/batch', max: 10 },
      [],
      (index) =>
        index === 0 ? new Response(null, { status: 307, headers: { Location: '/elsewhere' } }) : undefined,
    ],
  ])(
    '%s: batches stop for the session (one warning), each op goes alone once, in order, no attempt counted',
    async (_, batch, faults, answer) => {
      const server = await startServer();
      const { sync, sent, warnings, events } = await appFor(server, batch, {
        answer,
        retry: { maxAttempts: 1 },
      });
      const ids: string[] = [];
      for (let i = 0; i < 5; i++)
        ids.push((await sync.queue('POST', '/notes', { body: { title: `n${i}` } })).id);
      await queueFaults(server, faults);
      sync.resume();
      await until(() => sync.pendingCount.value === 0, 'the queue to drain');

      expect(sync.failedCount.value).toBe(0);
      expect(events).toEqual([]);
      expect(exactlyOnceInOrder(appliedKeys(server), ids)).toEqual([]);
      expect(sent.map((one) => one.keys)).toEqual([ids, ...ids.map((id) => [id])]);
      expect(sent.slice(1).every((one) => !one.batch && one.status === 201)).toBe(true);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain('sent one by one');

      // Later flushes of the same session do not try the endpoint again.
      const more = (await sync.queue('POST', '/notes', { body: { title: 'later' } })).id;
      const more2 = (await sync.queue('POST', '/notes', { body: { title: 'later 2' } })).id;
      await until(() => sync.pendingCount.value === 0, 'the later ops to go');
      expect(sent.slice(-2).map((one) => [one.batch, one.keys])).toEqual([
        [false, [more]],
        [false, [more2]],
      ]);
    },
  );

  it('a 503 of the whole batch is still a failed attempt of the head, retried with the same keys', async () => {
    const server = await startServer();
    const { sync, sent, events, warnings } = await appFor(server, { url: '/batch', max: 10 });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push((await sync.queue('POST', '/notes', { body: { title: `n${i}` } })).id);
    await queueFaults(server, [{ status: 503, retryAfter: '0' }]);
    sync.resume();
    await until(() => sync.pendingCount.value === 0, 'the queue to drain');
    expect(events).toEqual([`retry ${ids[0]}`]);
    expect(sent.map((one) => [one.batch, one.keys, one.status])).toEqual([
      [true, ids, 503],
      [true, ids, 200],
    ]);
    expect(warnings).toEqual([]);
  });
});
