// Edges of fluxy/collections found in review: dispose() during a pull or right after a write, the
// url option, malformed feed rows, and rows the outbox would refuse.
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createApp } from '../../src/core/app.js';
import type { Logger } from '../../src/core/logger.js';
import { Collection } from '../../src/plugins/collections/index.js';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { minIterations, StoragePlugin } from '../../src/plugins/storage/index.js';
import { SyncPlugin } from '../../src/plugins/sync/index.js';
import { gate } from '../support/memory-store.js';
import { silentLogger } from '../sync/harness.js';
import {
  code,
  faults,
  type Note,
  referenceServer,
  startDevice,
  until,
  untimed,
  withTimeout,
} from './harness.js';

describe('dispose()', () => {
  it('pull() cut off by dispose() rejects with app/disposed (it resolved as if up to date)', async () => {
    const server = await referenceServer();
    const device = await startDevice({ server });
    await until(() => device.notes.lastPulledAt.value !== null, 'the start-up pull');
    await faults(server, [{ delayMs: 5000 }]); // the next page is answered late
    const pulled = device.notes.pull().then(
      () => 'resolved',
      (error: unknown) => code(Promise.reject(error)),
    );
    await until(() => device.notes.isPulling.value, 'the pull to start');
    await withTimeout(device.dispose(), 'dispose() during the pull', 2000);
    expect(await withTimeout(pulled, 'pull() to settle')).toBe('app/disposed');
  });
});

/** A device like startDevice's, with a logger that keeps the warnings and errors. */
async function loggedDevice(server: Awaited<ReturnType<typeof referenceServer>>) {
  const logged: string[] = [];
  const keep = (message: unknown, error?: unknown) => {
    logged.push(`${String(message)} ${String(error ?? '')}`);
  };
  const logger: Logger = { ...silentLogger, warn: keep, error: keep };
  const app = createApp({ logger });
  app.register(
    new StoragePlugin({
      name: `edges-${Math.random().toString(36).slice(2, 8)}`,
      indexedDB: new IDBFactory(),
      secret: 'test secret',
      iterations: minIterations,
    }),
  );
  app.register(new ConnectivityPlugin()).setOnline(true);
  app.register(new SyncPlugin({ baseUrl: `${server.url}/api` }));
  const notes = app.register(
    new Collection<Note>('notes', { url: '/notes', pullIntervalMs: untimed, locks: false }),
  );
  onTestFinished(() => app.dispose());
  await app.ready();
  return { app, notes, logged };
}

describe('dispose() while pull() waits for another tab', () => {
  it('reports nothing in lastError: a pull dispose() cut off did not fail', async () => {
    const server = await referenceServer();
    const waiting = gate();
    // Web Locks as a browser has them, with the pull lock held by another tab for good.
    const locks = {
      async request(
        _name: string,
        options: { ifAvailable?: boolean; signal?: AbortSignal },
        callback: (lock: unknown) => Promise<unknown>,
      ) {
        if (options.ifAvailable) return callback(null);
        waiting.open();
        return new Promise((_, reject) =>
          options.signal?.addEventListener('abort', () => reject(options.signal?.reason)),
        );
      },
    };
    const device = await startDevice({ server, collection: { locks } });
    const pulled = device.notes.pull().catch((error: unknown) => code(Promise.reject(error)));
    await withTimeout(waiting.promise, 'pull() to wait for the lock');
    await withTimeout(device.dispose(), 'dispose() while pull() waits', 2000);
    expect(await pulled).toBe('app/disposed');
    expect(device.notes.lastError.value).toBeNull();
  });
});

describe('dispose() right after a write', () => {
  it('logs nothing: the outbox listing it cut off is no error to report', async () => {
    const server = await referenceServer();
    const { app, notes, logged } = await loggedDevice(server);
    await until(() => notes.lastPulledAt.value !== null, 'the start-up pull');
    await notes.insert({ title: 'a', body: '' });
    await withTimeout(app.dispose(), 'dispose()');
    expect(logged).toEqual([]);
  });
});

describe('the url option', () => {
  it('refuses what the outbox would not send: another scheme, or //host without one', async () => {
    const make = (url: string) => () => new Collection('notes', { url });
    for (const url of [
      'ftp://example.com/notes',
      '//example.com/notes',
      'ws://example.com/notes',
      'file:///notes',
    ]) {
      expect(await code(make(url)), url).toBe('collections/invalid-options');
    }
    for (const url of ['/notes', 'notes', 'https://example.com/api/notes', 'HTTP://example.com/notes']) {
      expect(make(url), url).not.toThrow();
    }
    expect(make('ftp://example.com/notes')).toThrow(/an absolute http\(s\) URL/);
  });
});

describe('a feed row with an empty id', () => {
  it('is refused like other malformed rows: collections/bad-response, nothing shown', async () => {
    const server = await referenceServer();
    let tamper = false;
    // The real server answers; its next changes page is replaced by one with a row whose id is ''.
    const wire = async (input: string, init?: RequestInit): Promise<Response> => {
      const response = await fetch(input, init);
      if (!tamper || !String(input).includes('/api/notes?since=')) return response;
      tamper = false;
      await response.text();
      const page = {
        changes: [{ id: '', title: 'empty id', body: '', version: 1 }],
        deleted: [],
        cursor: 'zz',
        more: false,
      };
      return new Response(JSON.stringify(page), {
        status: 200,
        headers: { 'Content-Type': 'application/json' },
      });
    };
    const app = createApp({ logger: silentLogger });
    app.register(new StoragePlugin({ driver: 'memory' }));
    app.register(new ConnectivityPlugin()).setOnline(true);
    app.register(new SyncPlugin({ baseUrl: `${server.url}/api`, fetch: wire as never }));
    const notes = app.register(
      new Collection<Note>('notes', { url: '/notes', pullIntervalMs: 0, locks: false }),
    );
    onTestFinished(() => app.dispose());
    await app.ready();
    await notes.pull();
    const shown = notes.items.value;
    tamper = true;
    expect(await code(notes.pull())).toBe('collections/bad-response');
    expect(notes.lastError.value?.code).toBe('collections/bad-response');
    expect(notes.items.value).toBe(shown);
    expect(notes.items.value.some((row) => row.id === '')).toBe(false);
  });
});

describe('insert() and update() refuse what the outbox would refuse, as collections/invalid-row', () => {
  /** A row whose innermost value is `levels` levels down. */
  const nested = (levels: number): Record<string, unknown> => {
    let value: unknown = 'leaf';
    for (let level = 0; level < levels; level++) value = { d: value };
    return value as Record<string, unknown>;
  };

  it('a lone UTF-16 surrogate, nesting deeper than 64: refused before anything is queued or shown', async () => {
    const server = await referenceServer();
    const device = await startDevice({ server, online: false });
    const row = await device.notes.insert({ title: 'kept', body: '' });
    const shown = device.notes.items.value;
    const queued = device.sync.pendingCount.value;
    for (const fields of [{ title: 'a\uD800b' }, { tags: ['\uDC00'] }, { 'k\uD800': 1 }, nested(65)]) {
      expect(
        await code(device.notes.insert(fields as Partial<Note>)),
        JSON.stringify(fields).slice(0, 40),
      ).toBe('collections/invalid-row');
      expect(await code(device.notes.update(row.id, fields as Partial<Note>))).toBe(
        'collections/invalid-row',
      );
    }
    expect(device.notes.items.value).toBe(shown);
    expect(device.sync.pendingCount.value).toBe(queued);
    // 64 levels are what the outbox takes.
    await device.notes.update(row.id, nested(64) as Partial<Note>);
    expect(device.sync.pendingCount.value).toBe(queued + 1);
  });
});

describe('insert() and update() with fields whose own toJSON() makes them something else', () => {
  it('refuses them with collections/invalid-row (a string or an array was taken as the row)', async () => {
    const server = await referenceServer();
    const device = await startDevice({ server, online: false });
    const row = await device.notes.insert({ title: 'kept', body: '' });
    const shown = device.notes.items.value;
    const queued = device.sync.pendingCount.value;
    for (const made of ['x', ['y'], null, undefined]) {
      const fields = { toJSON: () => made } as unknown as Partial<Note>;
      expect(await code(device.notes.insert(fields)), String(made)).toBe('collections/invalid-row');
      expect(await code(device.notes.update(row.id, fields)), String(made)).toBe('collections/invalid-row');
    }
    expect(device.notes.items.value).toBe(shown);
    expect(device.sync.pendingCount.value).toBe(queued);
    // What a toJSON() returns is what is sent, as JSON.stringify would: a plain object is fine.
    await device.notes.update(row.id, {
      toJSON: () => ({ title: 'from toJSON' }),
    } as unknown as Partial<Note>);
    expect(device.notes.get(row.id).value?.title).toBe('from toJSON');
  });
});
