import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type RunningServer } from '../../examples/server/server.mjs';
import { type App, createApp } from '../../src/core/app.js';
import type { Logger } from '../../src/core/logger.js';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import { type SyncOptions, SyncPlugin } from '../../src/plugins/sync/index.js';
import { exactlyOnceInOrder, silentLogger, until } from './harness.js';

// Regressions for the findings of a hands-on review of batches, outcome handlers, temporary ids
// and queue edits (each test failed before its fix).

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startServer(): Promise<RunningServer> {
  const server = await createServer({ dataFile: null, staticDir: null });
  cleanups.push(() => server.close());
  return server;
}

/** A registry app on the reference server's API, in memory, disposed after the test. */
async function appFor(server: RunningServer, options: SyncOptions = {}, logger: Logger = silentLogger) {
  const app: App = createApp({ logger });
  app.register(new StoragePlugin({ driver: 'memory', name: `s13-${Math.random()}` }));
  app.register(new ConnectivityPlugin());
  const sync = app.register(new SyncPlugin({ baseUrl: `${server.url}/api`, ...options }));
  cleanups.push(() => app.dispose());
  await app.ready();
  return { app, sync };
}

const appliedKeys = (server: RunningServer) => server.state.log.map((entry) => entry.key);

describe('batches', () => {
  it('a GET in the queue goes alone: the batch endpoint (writes only) never refuses the writes around it', async () => {
    const server = await startServer();
    const { sync } = await appFor(server, {
      batch: { url: '/batch', max: 10 },
      retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
    });
    sync.pause();
    const a = await sync.queue('POST', '/notes', { body: { title: 'a' } });
    const read = await sync.queue('GET', '/notes');
    const b = await sync.queue('POST', '/notes', { body: { title: 'b' } });
    const c = await sync.queue('POST', '/notes', { body: { title: 'c' } });
    const sent: string[] = [];
    sync.on('sent', ({ operation }) => sent.push(operation.id));
    sync.resume();
    await until(() => sync.pendingCount.value === 0, 'the queue to drain');
    // Before: the server refused every batch holding the GET (400 invalid-batch), so the innocent
    // POST at its head ended failed with sync/max-attempts, then the GET.
    expect(sync.failedCount.value).toBe(0);
    expect(sent).toEqual([a.id, read.id, b.id, c.id]);
    expect(exactlyOnceInOrder(appliedKeys(server), [a.id, b.id, c.id])).toEqual([]);
  });
});

describe('temporary ids', () => {
  it('a serverId function that throws finds no server id: the create is sent, the queue is not stuck on "storage failed"', async () => {
    const server = await startServer();
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (message: string) => warnings.push(message) };
    const { sync } = await appFor(
      server,
      {
        // The docs' example shape, on an answer without a body (a create answered 204).
        serverId: (response) => (response as { url?: string }).url,
        fetch: async (url, init) => {
          const answer = await fetch(url, init);
          return init.method === 'POST' && url.endsWith('/notes')
            ? new Response(null, { status: 204 })
            : answer;
        },
        retry: { baseDelayMs: 1, maxDelayMs: 2 },
      },
      logger,
    );
    sync.pause();
    const create = await sync.queue('POST', '/notes', { body: { title: 'a' }, tempId: 'tmp_note_00000001' });
    const after = await sync.queue('POST', '/uploads', { body: new Blob(['x']) });
    sync.resume();
    await until(() => sync.pendingCount.value === 0, 'the queue to drain');
    expect(sync.lastError.value).toBeNull();
    expect(warnings.some((warning) => warning.includes('has no server id'))).toBe(true);
    expect(exactlyOnceInOrder(appliedKeys(server), [create.id, after.id])).toEqual([]);
  });
});
