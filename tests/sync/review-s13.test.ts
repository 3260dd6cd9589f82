import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type RunningServer } from '../../examples/server/server.mjs';
import { type App, createApp } from '../../src/core/app.js';
import type { Logger } from '../../src/core/logger.js';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import { type SyncOptions, SyncPlugin } from '../../src/plugins/sync/index.js';
import { TestLockManager } from '../support/lock-manager.js';
import { MemoryStore } from '../support/memory-store.js';
import { exactlyOnceInOrder, makeEngine, silentLogger, until, withTimeout } from './harness.js';

/** A memory store whose first listing of binary chunks (`b/`) waits for `onChunkListing()`, once set. */
class ChunkListingStore extends MemoryStore {
  onChunkListing: (() => Promise<unknown>) | undefined;

  override async keys(prefix = ''): Promise<string[]> {
    if (prefix.startsWith('b/') && this.onChunkListing) await this.onChunkListing();
    return super.keys(prefix);
  }
}

/** A memory store whose reads of a temporary id's mapping (`t/…`) first wait for `onTempIdRead()`, once set. */
class GatedTempIdStore extends MemoryStore {
  onTempIdRead: (() => Promise<unknown>) | undefined;

  override async get(key: string): Promise<unknown> {
    if (key.startsWith('t/') && this.onTempIdRead) await this.onTempIdRead();
    return super.get(key);
  }
}

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

describe('discard() while the flush prepares that op', () => {
  it.each([
    ['alone', undefined],
    ['in a batch', { url: '/batch', max: 10 }],
  ])(
    'an op discarded while its temporary id is being resolved (%s) is never sent nor stored again',
    async (_, batch) => {
      const server = await startServer();
      const store = new GatedTempIdStore();
      const made = makeEngine({
        baseUrl: `${server.url}/api`,
        online: false,
        store,
        serverId: 'id',
        ...(batch && { batch }),
      });
      cleanups.push(() => made.engine.dispose());
      const { engine, online, queue } = made;
      await engine.start();
      const create = await queue('POST', '/notes', { body: { title: 'a' }, tempId: 'tmp_note_00000001' });
      const other = await queue('POST', '/notes', { body: { title: 'x' } });
      const edit = await queue('PATCH', '/notes/tmp_note_00000001', { body: { title: 'b' } });
      const last = await queue('POST', '/notes', { body: { title: 'y' } });
      await engine.pending(); // queue-edits.ts loaded: with this store, a discard needs no I/O
      // The flush reads the mapping of the edit's temporary id: the app discards the edit meanwhile,
      // and the read answers once the discard is done or waits (a turn of the event loop).
      let discarded: Promise<boolean> | undefined;
      store.onTempIdRead = () => {
        store.onTempIdRead = undefined;
        discarded = engine.discard(edit.id);
        return Promise.race([discarded, new Promise((turn) => setImmediate(turn))]);
      };
      online.value = true;
      await until(() => engine.pendingCount.value === 0 && discarded !== undefined, 'the flush');
      await engine.flush();
      // true: removed, never sent; false: it was being sent already (the discard waited for it). Before,
      // it said true and the edit was sent anyway: its record, rewritten with the server id after the
      // discard removed it, was stored again.
      const removed = await discarded;
      expect(appliedKeys(server)).toEqual(
        removed ? [create.id, other.id, last.id] : [create.id, other.id, edit.id, last.id],
      );
      expect(await store.keys('p/')).toEqual([]);
      expect(engine.pendingCount.value).toBe(0);
    },
  );
});

describe('resolveId() in a tab that does not send', () => {
  it.each([
    ['that never had a temporary id of its own', false],
    ['that queued a create of its own', true],
  ])('answers the server id of a create another tab queued and sent (a tab %s)', async (_, ownCreate) => {
    const server = await startServer();
    const store = new MemoryStore();
    const locks = new TestLockManager();
    const channel = `s13-tabs-${Math.random()}`;
    const open = () => {
      const tab = makeEngine({ baseUrl: `${server.url}/api`, store, locks, channel, serverId: 'id' });
      cleanups.push(() => tab.engine.dispose());
      return tab;
    };
    const sender = open();
    await sender.engine.start();
    await until(() => sender.engine.status.value === 'idle', 'the first tab to lead');
    const other = open(); // waits for the lock: it does not send
    await other.engine.start();
    // An op of its own, sent first (by then the tabs have heard from each other and rescanned).
    await other.queue('POST', '/notes', {
      body: { title: 'b' },
      ...(ownCreate && { tempId: 'tmp_note_00000002' }),
    });
    await until(
      () => sender.engine.pendingCount.value === 0 && other.engine.pendingCount.value === 0,
      'the first op',
    );
    await sender.queue('POST', '/notes', { body: { title: 'a' }, tempId: 'tmp_note_00000001' });
    await until(
      () => other.engine.pendingCount.value === 0 && sender.engine.pendingCount.value === 0,
      'the queue to drain',
    );
    const serverId = await sender.engine.resolveId('tmp_note_00000001');
    expect(serverId).toMatch(/^n_\d_[0-9a-z]+$/);
    // Before: undefined — this tab had not learned the temporary id (it never read that op).
    expect(await other.engine.resolveId('tmp_note_00000001')).toBe(serverId);
  });
});

describe('clearQueue() while an upload is being queued', () => {
  it('keeps the chunks of an upload committed meanwhile: it is sent whole, not failed as unreadable', async () => {
    const server = await startServer();
    const store = new ChunkListingStore();
    const made = makeEngine({ baseUrl: `${server.url}/api`, online: false, store });
    cleanups.push(() => made.engine.dispose());
    const { engine, online, queue } = made;
    await engine.start();
    await queue('POST', '/notes', { body: { title: 'cleared' } });
    // The upload's queue() commits while clearQueue() is removing what it listed.
    let upload: Promise<unknown> | undefined;
    store.onChunkListing = () => {
      store.onChunkListing = undefined;
      upload = queue('POST', '/uploads', { body: new Blob(['photo bytes'], { type: 'image/png' }) });
      return upload;
    };
    expect(await engine.clearQueue()).toBe(1);
    await upload;
    online.value = true;
    await until(() => engine.pendingCount.value === 0, 'the upload to be sent');
    expect(engine.failedCount.value).toBe(0);
    expect(server.state.log.map((entry) => entry.method + ' ' + entry.path)).toEqual(['POST /api/uploads']);
  });
});

describe('discard() during a batch', () => {
  it('of an op left for the next batch does not wait for the batch request', async () => {
    const server = await startServer();
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let batchSent: () => void = () => {};
    const sent = new Promise<void>((resolve) => {
      batchSent = resolve;
    });
    const made = makeEngine({
      baseUrl: `${server.url}/api`,
      online: false,
      batch: { url: '/batch', max: 10 },
      fetch: async (url, init) => {
        if (url.endsWith('/batch')) {
          batchSent();
          await held;
        }
        return fetch(url, init);
      },
    });
    cleanups.push(async () => {
      release();
      await made.engine.dispose();
    });
    const { engine, online, queue } = made;
    await engine.start();
    const a = await queue('POST', '/notes', { body: { title: 'a' } });
    const b = await queue('POST', '/notes', { body: { title: 'b' } });
    await queue('GET', '/notes'); // ends the batch: [a, b]
    const d = await queue('POST', '/notes', { body: { title: 'd' } });
    online.value = true;
    await withTimeout(sent, 'the batch request');
    expect(await withTimeout(engine.discard(d.id), 'the discard of an op not in the batch')).toBe(true);
    release();
    await until(() => engine.pendingCount.value === 0, 'the queue to drain');
    expect(appliedKeys(server)).toEqual([a.id, b.id]);
  });
});
