import { effect } from '@preact/signals-core';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createServer, type RunningServer } from '../../examples/server/server.mjs';
import type { FetchFunction } from '../../src/plugins/sync/index.js';
import { createTestApp, FaultServer, type TestApp, type TestAppOptions } from '../../src/testing/index.js';
import { gate, MemoryStore } from '../support/memory-store.js';
import { expectQuiet, makeEngine, silentLogger, until, withTimeout } from './harness.js';

// Regressions for the findings of the session-14 review of fluxy/sync (each test failed before its fix).

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The id the server gives its `n`-th note (`n_<n>_<epoch>`). */
const noteId = (server: RunningServer, n: number) => `n_${n}_${server.state.epoch}`;

async function startServer(): Promise<RunningServer> {
  const server = await createServer({ dataFile: null, staticDir: null });
  cleanups.push(() => server.close());
  return server;
}

/** Options for two instances on one fake-indexeddb database without Web Locks, against `server`. */
function withoutLocks(server: RunningServer, name: string, batch?: { url: string; max: number }) {
  const storage = { driver: 'indexeddb' as const, indexedDB: new IDBFactory(), name };
  const sync = {
    baseUrl: `${server.url}/api`,
    locks: false as const,
    serverId: 'id',
    ...(batch && { batch }),
  };
  return { storage, sync };
}

async function testApp(options: TestAppOptions): Promise<TestApp> {
  const t = await createTestApp({ app: { logger: silentLogger }, ...options });
  cleanups.push(() => t.dispose());
  return t;
}

describe('two instances on one database without Web Locks', () => {
  it.each([
    ['alone', undefined],
    ['in a batch', { url: '/batch', max: 10 }],
  ])(
    "an op queued in B that mentions A's temporary id, before B learned it, is sent with the server id (%s)",
    async (_, batch) => {
      const server = await startServer();
      const { storage, sync } = withoutLocks(server, 's14-temp', batch);
      // B's first answer is held until the test lets it through: B's flush is busy with it while A
      // sends the create, so B never reads the create (it leaves the queue meanwhile).
      const release = gate();
      const firstAnswer = gate();
      let calls = 0;
      const held: FetchFunction = async (url, init) => {
        const response = await fetch(url, init);
        if (calls++ === 0) {
          firstAnswer.open();
          await release.promise;
        }
        return response;
      };
      const a = await testApp({ sync, storage });
      const b = await testApp({ sync: { ...sync, fetch: held }, storage });
      expect([a.sync.coordination, b.sync.coordination]).toStrictEqual(['none', 'none']);
      const first = await b.sync.queue('POST', '/notes', { body: { title: 'first' } });
      await withTimeout(firstAnswer.promise, "B's first request");
      await until(() => a.sync.pendingCount.value === 0, 'A to send (or replay) the first op');
      const tempId = 'tmp_note_00000001';
      const create = await a.sync.queue('POST', '/notes', { body: { title: 'draft' }, tempId });
      await until(() => a.sync.pendingCount.value === 0, 'A to send the create');
      expect(await a.sync.resolveId(tempId)).toBe(noteId(server, 2));
      // B's view shows the temporary id (told by the app, not by sync): B edits the note. A is
      // offline from now on, so only B sends the edit.
      a.goOffline();
      const edit = await b.sync.queue('PATCH', `/notes/${tempId}`, { body: { title: 'final' } });
      const after = await b.sync.queue('POST', '/notes', { body: { title: 'after' } });
      release.open();
      await until(() => b.sync.pendingCount.value === 0 && !b.sync.isSyncing.value, 'B to send the edit');
      // Before the fix: PATCH /api/notes/tmp_note_00000001 → 404, the edit failed and was lost.
      expect(b.sync.failedCount.value).toBe(0);
      expect(server.state.notes.map(({ id, title }) => ({ id, title }))).toStrictEqual([
        { id: noteId(server, 1), title: 'first' },
        { id: noteId(server, 2), title: 'final' },
        { id: noteId(server, 3), title: 'after' },
      ]);
      expect(server.state.log.map((entry) => [entry.key, entry.method, entry.path])).toStrictEqual([
        [first.id, 'POST', '/api/notes'],
        [create.id, 'POST', '/api/notes'],
        [edit.id, 'PATCH', `/api/notes/${noteId(server, 2)}`],
        [after.id, 'POST', '/api/notes'],
      ]);
      // A, back online, has nothing left to send: the edit left the queue once.
      a.goOnline();
      await a.settled();
      await b.settled();
      expect([a.sync.pendingCount.value, a.sync.failedCount.value]).toStrictEqual([0, 0]);
      expect(server.state.log).toHaveLength(4);
    },
  );

  it.each([
    ['alone', undefined],
    ['in a batch', { url: '/batch', max: 10 }],
  ])(
    "separate processes (no messages between them): B's op that mentions A's temporary id waits for the create, which B sends first (%s)",
    async (_, batch) => {
      const server = await startServer();
      const { storage, sync } = withoutLocks(server, 's14-processes', batch);
      // A's create is held before it reaches the server, until the test lets it go.
      const release = gate();
      const held = gate();
      const holdCreate: FetchFunction = async (url, init) => {
        if (init.method === 'POST') {
          held.open();
          await release.promise;
        }
        return fetch(url, init);
      };
      // Two processes: no BroadcastChannel between them (Node's does not cross processes).
      vi.stubGlobal('BroadcastChannel', undefined);
      let a: TestApp;
      let b: TestApp;
      try {
        a = await testApp({ sync: { ...sync, fetch: holdCreate }, storage });
        b = await testApp({ sync, storage });
      } finally {
        vi.unstubAllGlobals();
      }
      const tempId = 'tmp_note_00000002';
      const create = await a.sync.queue('POST', '/notes', { body: { title: 'draft' }, tempId });
      await withTimeout(held.promise, "A's create to be on its way");
      const edit = await b.sync.queue('PATCH', `/notes/${tempId}`, { body: { title: 'final' } });
      const after = await b.sync.queue('POST', '/notes', { body: { title: 'after' } });
      await until(() => b.sync.pendingCount.value === 0 && !b.sync.isSyncing.value, 'B to drain');
      // Before the fix: PATCH /api/notes/tmp_note_00000002 → 404 (the create was not sent yet).
      expect(b.sync.failedCount.value).toBe(0);
      release.open();
      await until(
        () => a.sync.pendingCount.value === 0 && !a.sync.isSyncing.value,
        "A's create to be answered",
      );
      expect(a.sync.failedCount.value).toBe(0);
      expect(server.state.notes.map(({ id, title }) => ({ id, title }))).toStrictEqual([
        { id: noteId(server, 1), title: 'final' },
        { id: noteId(server, 2), title: 'after' },
      ]);
      // A's create was replayed by the server (sent by B first under its key), not run twice.
      expect(server.state.log.map((entry) => [entry.key, entry.method, entry.path])).toStrictEqual([
        [create.id, 'POST', '/api/notes'],
        [edit.id, 'PATCH', `/api/notes/${noteId(server, 1)}`],
        [after.id, 'POST', '/api/notes'],
      ]);
      expect(await a.sync.resolveId(tempId)).toBe(noteId(server, 1));
    },
  );
});

describe('status', () => {
  it("resume() in the 'unauthorized' handler (fresh credentials at hand) never shows 'error' before the op is sent again", async () => {
    const server = await FaultServer.start();
    cleanups.push(() => server.close());
    server.script({ status: 401 });
    const t = await testApp({ sync: { baseUrl: server.url }, online: false });
    const seen: string[] = [];
    const stop = effect(() => {
      seen.push(t.sync.status.value);
    });
    cleanups.push(async () => stop());
    t.sync.on('unauthorized', () => t.sync.resume());
    const op = await t.sync.queue('POST', '/notes', { body: { n: 1 } });
    t.goOnline();
    await until(
      () => t.sync.pendingCount.value === 0 && t.sync.status.value === 'idle',
      'the op to be sent again',
    );
    expect(server.applied.map((entry) => entry.key)).toStrictEqual([op.id]);
    // Before the fix: … 'paused', 'syncing', 'error' (the 401, for a flush about to start), 'syncing', 'idle'.
    expect(seen.filter((status, index) => status !== seen[index - 1])).toStrictEqual([
      'offline',
      'syncing',
      'paused',
      'syncing',
      'idle',
    ]);
  });
});

describe('dispose()', () => {
  it('stops delivering stored outcomes: no handler runs after it, nothing is logged, the rest waits for the next start', async () => {
    const server = await FaultServer.start();
    cleanups.push(() => server.close());
    const storage = { driver: 'indexeddb' as const, indexedDB: new IDBFactory(), name: 's14-outcomes' };
    // First session: two ops of a kind no handler takes here; their outcomes are stored.
    const first = await testApp({ sync: { baseUrl: server.url }, storage });
    const ops = [
      await first.sync.queue('POST', '/notes', { body: { n: 1 }, kind: 'note.create' }),
      await first.sync.queue('POST', '/notes', { body: { n: 2 }, kind: 'note.create' }),
    ];
    await first.settled();
    await first.dispose();
    // Second session: a handler is registered; the first outcome's handler runs while the app is disposed.
    const logged: string[] = [];
    const logger = {
      ...silentLogger,
      warn: (message: string) => void logged.push(`warn: ${message}`),
      error: (message: string) => void logged.push(`error: ${message}`),
    };
    const second = await createTestApp({ app: { logger }, sync: { baseUrl: server.url }, storage });
    const release = gate();
    const firstRuns = gate();
    const seen: string[] = [];
    second.sync.handle('note.create', {
      sent: async ({ operation }) => {
        seen.push(operation.id);
        firstRuns.open();
        await release.promise;
      },
    });
    await withTimeout(firstRuns.promise, 'the first stored outcome to be delivered');
    const disposed = second.dispose();
    release.open();
    await withTimeout(disposed, 'dispose()');
    // Nothing to await: what must not happen is the loop going on. A labelled window long enough
    // for it (storage answers in a few macrotasks) instead.
    await expectQuiet('stored outcomes delivered after dispose()', () => seen.length + logged.length, {
      windowMs: 100,
    });
    // Before the fix: the second outcome's handler ran after dispose(), or the loop logged
    // "delivering stored outcomes failed" on the closed storage.
    expect(seen).toStrictEqual([ops[0]?.id]);
    expect(logged).toStrictEqual([]);
    // Third session: what was not delivered (the second outcome) is, once.
    const third = await testApp({ sync: { baseUrl: server.url }, storage });
    const later: string[] = [];
    const deliveredOnce = gate();
    third.sync.handle('note.create', {
      sent: ({ operation }) => {
        later.push(operation.id);
        deliveredOnce.open();
      },
    });
    await withTimeout(deliveredOnce.promise, 'the outcome left for the next start');
    await third.settled();
    expect(later.filter((id) => id === ops[1]?.id)).toHaveLength(1);
  });

  it('of the engine alone (storage still open): the next stored outcome’s handler does not run after it', async () => {
    const server = await FaultServer.start();
    cleanups.push(() => server.close());
    const store = new MemoryStore();
    const first = makeEngine({ baseUrl: server.url, store });
    cleanups.push(() => first.engine.dispose());
    await first.engine.start();
    const ops = [
      await first.queue('POST', '/notes', { body: { n: 1 }, kind: 'k' }),
      await first.queue('POST', '/notes', { body: { n: 2 }, kind: 'k' }),
    ];
    await until(() => first.engine.pendingCount.value === 0, 'the first engine to send both');
    await first.engine.dispose();
    const errors: string[] = [];
    const second = makeEngine({
      baseUrl: server.url,
      store,
      logger: { ...silentLogger, error: (message: string) => void errors.push(message) },
    });
    cleanups.push(() => second.engine.dispose());
    const release = gate();
    const firstRuns = gate();
    const seen: string[] = [];
    second.engine.handle('k', {
      sent: async ({ operation }) => {
        seen.push(operation.id);
        firstRuns.open();
        await release.promise;
      },
    });
    await second.engine.start();
    await withTimeout(firstRuns.promise, 'the first stored outcome to be delivered');
    await second.engine.dispose();
    release.open();
    // Nothing to await: what must not happen is the delivery going on (a memory store answers at
    // once, so it would within a few turns). A labelled window instead.
    await expectQuiet('stored outcomes delivered after dispose()', () => seen.length + errors.length, {
      windowMs: 100,
    });
    // Before the fix: [first, second] — the second handler ran after dispose() resolved.
    expect(seen).toStrictEqual([ops[0]?.id]);
    expect(errors).toStrictEqual([]);
    // The second outcome is still stored, for the next start.
    expect(store.data.has(`o/${ops[1]?.id}`)).toBe(true);
  });
});

describe('read() input', () => {
  it("sync.read(5)'s error names read(), not only queue() (its URL is checked by the same code)", async () => {
    const t = await testApp({ sync: { baseUrl: 'http://127.0.0.1:9' } });
    await expect(t.sync.read(5 as unknown as string)).rejects.toMatchObject({
      code: 'sync/invalid-url',
      message: expect.stringContaining('read(url)'),
    });
    await expect(t.sync.read('ftp://example.test/x')).rejects.toMatchObject({
      code: 'sync/invalid-url',
      message: expect.stringContaining('read()'),
    });
  });
});
