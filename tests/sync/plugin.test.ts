import { IDBFactory } from 'fake-indexeddb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type App, createApp } from '../../src/core/app.js';
import { FluxyError } from '../../src/core/errors.js';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { minIterations, StoragePlugin } from '../../src/plugins/storage/index.js';
import { type SyncOptions, SyncPlugin } from '../../src/plugins/sync/index.js';
import { FaultServer } from '../../src/testing/index.js';
import { rawContents } from '../support/raw-indexeddb.js';
import { silentLogger, until } from './harness.js';

let server: FaultServer;
const apps: App[] = [];
beforeEach(async () => {
  server = await FaultServer.start();
});
afterEach(async () => {
  for (const app of apps.splice(0)) await app.dispose();
  await server.close();
});

function bootstrap(
  indexedDB: IDBFactory,
  options: SyncOptions = {},
  secret = 'correct horse battery staple',
) {
  const app = createApp({ logger: silentLogger });
  apps.push(app);
  const storage = app.register(new StoragePlugin({ indexedDB, secret, iterations: minIterations }));
  const connectivity = app.register(new ConnectivityPlugin());
  const sync = app.register(
    new SyncPlugin({ baseUrl: server.url, retry: { baseDelayMs: 1, maxDelayMs: 4 }, ...options }),
  );
  return { app, storage, connectivity, sync };
}

async function tamperWith(factory: IDBFactory, keyIncludes: string): Promise<number> {
  let changed = 0;
  for (const { name } of await factory.databases()) {
    const db = await new Promise<IDBDatabase>((resolve) => {
      const request = factory.open(name as string);
      request.onsuccess = () => resolve(request.result);
    });
    for (const storeName of db.objectStoreNames) {
      const tx = db.transaction(storeName, 'readwrite');
      const store = tx.objectStore(storeName);
      await new Promise<void>((resolve) => {
        const cursorRequest = store.openCursor();
        cursorRequest.onsuccess = () => {
          const cursor = cursorRequest.result;
          if (!cursor) return resolve();
          if (String(cursor.key).includes(keyIncludes) && typeof cursor.value === 'string') {
            const text = cursor.value as string;
            const index = Math.floor(text.length / 2);
            cursor.update(text.slice(0, index) + (text[index] === 'A' ? 'B' : 'A') + text.slice(index + 1));
            changed++;
          }
          cursor.continue();
        };
      });
      await new Promise<void>((resolve) => {
        tx.oncomplete = () => resolve();
      });
    }
    db.close();
  }
  return changed;
}

describe('SyncPlugin through the registry (fake-indexeddb, encrypted storage)', () => {
  it('queue() works before ready(), keeps call order, and the stored bytes hold no plaintext', async () => {
    const factory = new IDBFactory();
    const { sync, connectivity, app } = bootstrap(factory);
    connectivity.setOnline(false);
    const calls = [
      sync.queue('POST', '/api/notes', { body: { secret: 'PLAINTEXT-ALPHA' } }),
      sync.queue('POST', '/api/notes', { body: { secret: 'PLAINTEXT-BETA' }, meta: { localId: 'MEta-XYZ' } }),
      sync.queue('DELETE', '/api/notes/7'),
    ];
    const ops = await Promise.all(calls);
    expect(ops.map((op) => op.id)).toStrictEqual([...ops.map((op) => op.id)].sort());
    await app.ready();
    expect(sync.pendingCount.value).toBe(3);
    const raw = await rawContents(factory);
    expect(raw).not.toContain('PLAINTEXT');
    expect(raw).not.toContain('MEta-XYZ');
    expect(raw).not.toContain('/api/notes');
    connectivity.setOnline(true);
    await until(() => sync.pendingCount.value === 0);
    expect(server.applied.map((entry) => entry.key)).toStrictEqual(ops.map((op) => op.id));
    expect(server.applied[0]?.body).toStrictEqual({ secret: 'PLAINTEXT-ALPHA' });
  });

  it('a restart over the same database finds the queue and sends it with the same keys', async () => {
    const factory = new IDBFactory();
    const first = bootstrap(factory);
    first.connectivity.setOnline(false);
    const ops = [
      await first.sync.queue('PUT', '/api/a', { body: 1 }),
      await first.sync.queue('PUT', '/api/b', { body: 2 }),
    ];
    await first.app.dispose();
    const second = bootstrap(factory);
    await second.app.ready();
    await until(() => second.sync.pendingCount.value === 0);
    expect(server.applied.map((entry) => entry.key)).toStrictEqual(ops.map((op) => op.id));
  });

  it('an altered stored record is never sent: it becomes failed with sync/record-unreadable', async () => {
    const factory = new IDBFactory();
    const first = bootstrap(factory);
    first.connectivity.setOnline(false);
    const bad = await first.sync.queue('POST', '/api/transfer', { body: { amount: 100 } });
    const good = await first.sync.queue('POST', '/api/fine', { body: {} });
    await first.app.dispose();
    expect(await tamperWith(factory, bad.id)).toBe(1);
    const second = bootstrap(factory);
    await second.app.ready();
    await until(() => second.sync.pendingCount.value === 0);
    expect(server.received.map((request) => request.path)).toStrictEqual(['/api/fine']);
    expect(server.applied.map((entry) => entry.key)).toStrictEqual([good.id]);
    expect(second.sync.failedCount.value).toBe(1);
    expect(await second.sync.failed()).toMatchObject([
      { id: bad.id, unreadable: true, lastError: { code: 'sync/record-unreadable' } },
    ]);
  });

  it('an outcome no handler took is delivered once by the next app that registers one', async () => {
    server.script({ status: 422 });
    const factory = new IDBFactory();
    const first = bootstrap(factory);
    await first.app.ready();
    const op = await first.sync.queue('POST', '/api/notes', {
      body: {},
      kind: 'note.create',
      meta: { local: 1 },
    });
    await until(() => first.sync.failedCount.value === 1 && !first.sync.isSyncing.value);
    await first.app.dispose();
    const runs: unknown[] = [];
    for (let session = 0; session < 2; session++) {
      const next = bootstrap(factory);
      next.connectivity.setOnline(false);
      next.sync.handle('note.create', {
        failed: ({ operation, error }) => void runs.push([operation, error.status]),
      });
      await next.app.ready();
      await vi.waitFor(async () => expect(await next.storage.namespace('sync').keys('o/')).toStrictEqual([]));
      await next.app.dispose();
    }
    expect(runs).toMatchObject([[{ id: op.id, meta: { local: 1 } }, 422]]);
  });

  it('bad input is refused with a FluxyError and stores nothing', async () => {
    const factory = new IDBFactory();
    const { sync, storage, app } = bootstrap(factory);
    await app.ready();
    const attempts = [
      sync.queue('FETCH' as never, '/x'), // plain-JS callers: refused at run time too
      sync.queue('POST', 'javascript:alert(1)'),
      sync.queue('POST', '/x', { headers: { Authorization: 'Bearer t' } }),
      sync.queue('POST', '/x', { body: { n: 10n } }),
    ];
    for (const attempt of attempts) await expect(attempt).rejects.toBeInstanceOf(FluxyError);
    expect(await storage.namespace('sync').keys()).toStrictEqual([]);
    expect(sync.pendingCount.value).toBe(0);
    expect(() => sync.on('nope' as 'sent', () => {})).toThrow(
      expect.objectContaining({ code: 'invalid-argument' }),
    );
  });

  it('read() sends in the call itself once loaded (a pull asks for its next page before storing the last), checks the URL, and refuses once disposed', async () => {
    const asked: string[] = [];
    const fetch = vi.fn(async (url: string | URL | Request) => {
      asked.push(String(url));
      return new Response('{"ok":true}', { headers: { 'Content-Type': 'application/json' } });
    });
    const { sync, app } = bootstrap(new IDBFactory(), { fetch: fetch as typeof globalThis.fetch });
    await app.ready();
    expect(await sync.read('/api/a')).toStrictEqual({ status: 200, body: { ok: true } });
    const second = sync.read('/api/b?since=1');
    expect(asked).toStrictEqual([`${server.url}/api/a`, `${server.url}/api/b?since=1`]); // no turn waited
    expect((await second).body).toStrictEqual({ ok: true });
    await expect(sync.read('javascript:alert(1)')).rejects.toMatchObject({ code: 'sync/invalid-url' });
    await app.dispose();
    await expect(sync.read('/api/c')).rejects.toMatchObject({ code: 'app/disposed' });
    expect(asked).toHaveLength(2);
  });

  it('read() refuses options other than { signal } with sync/invalid-options, sending nothing, as queue() and pending() do; an aborted signal sends nothing', async () => {
    const fetch = vi.fn(
      async () => new Response('{"ok":true}', { headers: { 'Content-Type': 'application/json' } }),
    );
    const { sync, app } = bootstrap(new IDBFactory(), { fetch: fetch as typeof globalThis.fetch });
    await app.ready();
    const invalid = { code: 'sync/invalid-options', name: 'FluxyError' };
    const refused: unknown[] = [
      null,
      5,
      'signal',
      [],
      new Map(),
      { signl: new AbortController().signal }, // a typo would silently leave the read unabortable
      { signal: 1 },
      { signal: null },
      { signal: {} },
      { signal: 'abort' },
    ];
    for (const given of refused) {
      await expect(sync.read('/api/a', given as never), JSON.stringify(given)).rejects.toMatchObject(invalid);
    }
    await expect(sync.pending({ limt: 1 } as never)).rejects.toMatchObject(invalid); // the same answer
    expect(fetch).not.toHaveBeenCalled();

    // What read() documents stays accepted.
    const ok = { status: 200, body: { ok: true } };
    expect(await sync.read('/api/a')).toStrictEqual(ok);
    expect(await sync.read('/api/a', undefined)).toStrictEqual(ok);
    expect(await sync.read('/api/a', {})).toStrictEqual(ok);
    expect(await sync.read('/api/a', { signal: undefined })).toStrictEqual(ok);
    expect(await sync.read('/api/a', { signal: new AbortController().signal })).toStrictEqual(ok);
    expect(fetch).toHaveBeenCalledTimes(5);

    // A signal aborted before the call: its abort event never comes, and nothing is sent.
    await expect(sync.read('/api/a', { signal: AbortSignal.abort() })).rejects.toMatchObject({
      code: 'sync/network-error',
    });
    expect(fetch).toHaveBeenCalledTimes(5);
  });

  it('has its status signals as own properties from construction, the ones init makes the engine write', async () => {
    const sync = new SyncPlugin();
    expect(Object.keys(sync)).toStrictEqual([
      'name',
      'dependencies',
      'isSyncing',
      'pendingCount',
      'failedCount',
      'status',
      'lastError',
      'progress',
    ]);
    expect(sync.status.value).toBe('idle');
    expect(sync.lastError.value).toBeNull();
  });

  it('needs storage and connectivity: ready() names the missing one', async () => {
    const app = createApp({ logger: silentLogger });
    apps.push(app);
    app.register(new SyncPlugin({ baseUrl: server.url }));
    await expect(app.ready()).rejects.toMatchObject({
      code: 'plugin/missing-dependency',
      message: expect.stringContaining('"storage"'),
    });
  });

  it('a 401 pauses with an unauthorized event; resume() after re-auth sends it with the fresh token', async () => {
    server.script({ status: 401 });
    let token = 'expired';
    const { sync, app } = bootstrap(new IDBFactory(), {
      headers: () => ({ Authorization: `Bearer ${token}` }),
    });
    const seen: string[] = [];
    sync.on('unauthorized', ({ status }) => seen.push(`unauthorized ${status}`));
    await app.ready();
    await sync.queue('POST', '/api/x', { body: {} });
    await until(() => sync.status.value === 'paused');
    expect(seen).toStrictEqual(['unauthorized 401']);
    token = 'fresh';
    sync.resume();
    await until(() => sync.pendingCount.value === 0);
    expect(server.received.map((request) => request.headers.authorization)).toStrictEqual([
      'Bearer expired',
      'Bearer fresh',
    ]);
  });

  it('dispose() leaves no timer of ours behind (every timer created is cleared or has fired)', async () => {
    // Only timers created by Fluxy's code (fetch's connection pool keeps its own).
    const ours = () => /[\\/]src[\\/](plugins|core)[\\/]/.test(new Error().stack ?? '');
    const live = new Set<unknown>();
    const real = { setTimeout, clearTimeout, setInterval, clearInterval };
    const spies = [
      vi.spyOn(globalThis, 'setTimeout').mockImplementation(((callback: () => void, ms?: number) => {
        const handle = real.setTimeout(() => {
          live.delete(handle);
          callback();
        }, ms);
        if (ours()) live.add(handle);
        return handle;
      }) as typeof setTimeout),
      vi.spyOn(globalThis, 'clearTimeout').mockImplementation(((handle: NodeJS.Timeout) => {
        live.delete(handle);
        real.clearTimeout(handle);
      }) as typeof clearTimeout),
      vi.spyOn(globalThis, 'setInterval').mockImplementation(((callback: () => void, ms?: number) => {
        const handle = real.setInterval(callback, ms);
        if (ours()) live.add(handle);
        return handle;
      }) as typeof setInterval),
      vi.spyOn(globalThis, 'clearInterval').mockImplementation(((handle: NodeJS.Timeout) => {
        live.delete(handle);
        real.clearInterval(handle);
      }) as typeof clearInterval),
    ];
    try {
      server.script({ status: 503, retryAfter: '100' });
      const { sync, app } = bootstrap(new IDBFactory(), { intervalMs: 1000 });
      await app.ready();
      await sync.queue('POST', '/api/x', { body: {} });
      await until(() => sync.status.value === 'error');
      expect(live.size).toBeGreaterThanOrEqual(2); // the interval and the backoff wake-up
      await app.dispose();
      expect(live.size).toBe(0);
      await expect(sync.queue('POST', '/api/y')).rejects.toMatchObject({ code: 'app/disposed' });
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });
});
