import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { RunningServer } from '../../examples/server/server.mjs';
import { createApp } from '../../src/core/app.js';
import { isFluxyError } from '../../src/core/errors.js';
import { Collection, type CollectionOptions } from '../../src/plugins/collections/index.js';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import { SyncPlugin } from '../../src/plugins/sync/index.js';
import { silentLogger } from '../sync/harness.js';
import { code, idle, type Note, referenceServer, startDevice, until } from './harness.js';

// Audit 21: row ids the URL cannot carry (F6), a server with numeric ids (F2), a `now` option that
// returns garbage (F5), a url on an origin the SyncPlugin does not allow (F7), messages (F4).

type Handler = (
  request: IncomingMessage,
  body: string,
  send: (status: number, json?: unknown) => void,
) => void;

/** A small server on 127.0.0.1 (closed when the test ends); `requests` lists `METHOD path` lines. */
async function tinyServer(handle: Handler): Promise<RunningServer & { requests: string[] }> {
  const requests: string[] = [];
  const server = createServer(async (request: IncomingMessage, response: ServerResponse) => {
    let body = '';
    for await (const chunk of request) body += chunk;
    requests.push(`${request.method} ${request.url}`);
    handle(request, body, (status, json) => {
      response.writeHead(status, { 'Content-Type': 'application/json' });
      response.end(json === undefined ? '' : JSON.stringify(json));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests } as unknown as RunningServer & { requests: string[] };
}

/** A server that gives its inserts the ids of `ids`, in order, and serves them in its feed. */
async function idServer(ids: unknown[]) {
  const feed: Record<string, unknown>[] = [];
  return tinyServer((request, body, send) => {
    if (request.method === 'GET')
      return send(200, { changes: feed, deleted: [], cursor: `${feed.length}`, more: false });
    if (request.method === 'POST') {
      const row = { ...JSON.parse(body), id: ids[feed.length], version: 1 };
      feed.push(row);
      return send(201, row);
    }
    if (request.method === 'PATCH') return send(200, null);
    send(204);
  });
}

const writes = (server: { requests: string[] }) =>
  server.requests.filter((line) => !/^(GET|POST) /.test(line));

describe('collections: ids that are dot segments (audit 21, F6)', () => {
  it('update() and remove() of a row "." or ".." are refused (invalid-argument), nothing queued, nothing sent', async () => {
    const server = await idServer(['.', '..', 'a/b']);
    const device = await startDevice({ server });
    for (let i = 0; i < 3; i++) await device.notes.insert({ title: `t${i}` });
    await idle(device);
    expect(device.notes.items.value.map((row) => row.id).sort()).toEqual(['.', '..', 'a/b']);
    for (const id of ['.', '..']) {
      // The row stays readable…
      expect(device.notes.get(id).value?.title).toBeDefined();
      // …but a write would address the collection itself (`/api/notes/`) or the API (`/api/`).
      const update = await device.notes.update(id, { title: 'u' }).catch((error: unknown) => error);
      expect(isFluxyError(update) && update.code).toBe('invalid-argument');
      expect((update as Error).message).toContain('parent');
      expect(await code(device.notes.remove(id))).toBe('invalid-argument');
    }
    expect(device.notes.pending.value.size).toBe(0);
    expect(await device.sync.pending()).toEqual([]);
    // Other ids are encoded as one segment, as before.
    await device.notes.remove('a/b');
    await idle(device);
    expect(writes(server)).toEqual(['DELETE /api/notes/a%2Fb']);
    expect(device.notes.items.value.map((row) => row.id).sort()).toEqual(['.', '..']);
  });

  it('an update made before its insert was answered with the id ".." fails (sync/invalid-url), unsent', async () => {
    const server = await idServer(['..']);
    const device = await startDevice({ server, online: false });
    const row = await device.notes.insert({ title: 'a' });
    await device.notes.update(row.id, { title: 'b' });
    device.connectivity.setOnline(true);
    await until(() => device.sync.failedCount.value === 1, 'the update to fail');
    const [failed] = await device.sync.failed();
    expect((failed as { lastError?: { code: string } }).lastError?.code).toBe('sync/invalid-url');
    expect(writes(server)).toEqual([]); // no PATCH /api/
  });
});

describe('collections: a server with numeric ids (audit 21, F2)', () => {
  /** Integer ids (a SQL serial) in answers and in the feed, as the audit's server. */
  async function serialServer() {
    const rows = new Map<number, Record<string, unknown>>();
    const feed: number[] = [];
    const deleted: number[] = [];
    const server = await tinyServer((request, body, send) => {
      const url = new URL(request.url ?? '', 'http://x');
      if (request.method === 'GET') {
        const since = Number(url.searchParams.get('since') || 0);
        const changes = feed
          .slice(since)
          .map((id) => rows.get(id))
          .filter(Boolean);
        return send(200, { changes, deleted: since ? deleted : [], cursor: `${feed.length}`, more: false });
      }
      if (request.method === 'POST') {
        const row = { ...JSON.parse(body), id: rows.size + 1, version: 1 };
        rows.set(row.id, row);
        feed.push(row.id);
        return send(201, row);
      }
      const id = Number(/\/api\/notes\/(\d+)$/.exec(url.pathname)?.[1]);
      const row = rows.get(id);
      if (!row) return send(404, {});
      if (request.method === 'DELETE') {
        rows.delete(id);
        deleted.push(id);
        feed.push(id);
        return send(204);
      }
      Object.assign(row, JSON.parse(body), { version: (row.version as number) + 1 });
      feed.push(id);
      send(200, row);
    });
    return Object.assign(server, { rows, deleted, feed });
  }

  it('an insert answered { id: 1 } shows the row under "1" (not a vanished row), and later writes go to /1', async () => {
    const server = await serialServer();
    const device = await startDevice({ server });
    const row = await device.notes.insert({ title: 'int id' });
    await device.notes.update(row.id, { title: 'v2' });
    await idle(device);
    expect(device.notes.items.value.map((note) => [note.id, note.title])).toEqual([['1', 'v2']]);
    expect(device.notes.get(row.id).value?.id).toBe('1'); // the temporary id still works
    expect(device.notes.unconfirmed.value).toBe(0);
    await device.notes.update('1', { title: 'v3' });
    await idle(device);
    expect(server.requests).toContain('PATCH /api/notes/1');
    expect(device.notes.items.value.map((note) => note.title)).toEqual(['v3']);
    await device.notes.pull();
    expect(device.notes.lastError.value).toBeNull();
    expect(device.notes.items.value.map((note) => [note.id, note.title])).toEqual([['1', 'v3']]);
  });

  it('a pulled page with numeric ids (rows and deletions) is taken, each id as its string', async () => {
    const server = await serialServer();
    for (const title of ['a', 'b']) {
      await fetch(`${server.url}/api/notes`, { method: 'POST', body: JSON.stringify({ title }) });
    }
    const device = await startDevice({ server });
    await device.notes.pull();
    expect(device.notes.lastError.value).toBeNull();
    expect(device.notes.items.value.map((note) => [note.id, note.title])).toEqual([
      ['1', 'a'],
      ['2', 'b'],
    ]);
    await fetch(`${server.url}/api/notes/2`, { method: 'DELETE' });
    await device.notes.pull();
    expect(device.notes.items.value.map((note) => note.id)).toEqual(['1']);
  });

  it('a page with an id of another type is refused with a message naming the field and what it holds', async () => {
    const server = await tinyServer((_request, _body, send) =>
      send(200, {
        changes: [{ id: 'n_1' }, { id: true, title: 'x' }],
        deleted: [],
        cursor: '1',
        more: false,
      }),
    );
    const device = await startDevice({ server });
    expect(await code(device.notes.pull())).toBe('collections/bad-response');
    expect(device.notes.lastError.value?.message).toContain('changes[1]."id" is true');
  });
});

describe('collections: a now option that returns garbage (audit 21, F5)', () => {
  it.each([() => Number.NaN, () => -1, () => 'x', () => Number.POSITIVE_INFINITY])(
    'now %s: a write is refused with collections/invalid-options, nothing shown or queued',
    async (now) => {
      const server = await referenceServer();
      const device = await startDevice({ server, collection: { now: now as () => number } });
      const error = await device.notes.insert({ title: 'a' }).catch((e: unknown) => e);
      expect(isFluxyError(error) && error.code).toBe('collections/invalid-options');
      expect((error as Error).message).toContain('now option returned');
      expect(device.notes.items.value).toEqual([]);
      expect(await device.sync.pending()).toEqual([]);
    },
  );

  it('now that is not a function is refused at construction, naming now (not compare)', () => {
    try {
      new Collection('notes', { url: '/notes', now: 5 } as unknown as CollectionOptions<Note>);
      expect.unreachable();
    } catch (error) {
      expect(isFluxyError(error) && error.code).toBe('collections/invalid-options');
      expect((error as Error).message).toMatch(/^new Collection\("notes"\): now must be/);
    }
  });
});

describe('collections: a url on an origin the SyncPlugin does not allow (audit 21, F7)', () => {
  async function app(server: RunningServer, url: string, allowedOrigins?: string[]) {
    const fluxy = createApp({ logger: silentLogger });
    fluxy.register(new StoragePlugin({ driver: 'memory' }));
    fluxy.register(new ConnectivityPlugin());
    fluxy.register(
      new SyncPlugin({ baseUrl: `${server.url}/api`, ...(allowedOrigins && { allowedOrigins }) }),
    );
    const notes = fluxy.register(new Collection<Note>('notes', { url, pullIntervalMs: 0, locks: false }));
    onTestFinished(() => fluxy.dispose());
    return { fluxy, notes };
  }

  it('a pull fails with collections/invalid-options naming allowedOrigins (not "got no answer"), no request made', async () => {
    const server = await referenceServer();
    const other = `${server.url.replace('127.0.0.1', 'localhost')}/api/notes`;
    const { fluxy, notes } = await app(server, other);
    await fluxy.ready();
    const error = await notes.pull().catch((e: unknown) => e);
    expect(isFluxyError(error) && error.code).toBe('collections/invalid-options');
    expect((error as Error).message).toContain('allowedOrigins');
    expect((error as Error).message).not.toContain('no answer');
    expect(notes.lastError.value?.code).toBe('collections/invalid-options');
    expect((notes.lastError.value?.cause as { code?: string } | undefined)?.code).toBe(
      'sync/origin-not-allowed',
    );
    expect(server.requests).toEqual([]);
  });

  it('is taken when allowedOrigins lists its origin, or when it is on baseUrl’s origin', async () => {
    const server = await referenceServer();
    const origin = server.url.replace('127.0.0.1', 'localhost');
    const allowed = await app(server, `${origin}/api/notes`, [origin]);
    await allowed.fluxy.ready();
    await allowed.notes.pull();
    const same = await app(server, `${server.url}/api/notes`);
    await same.fluxy.ready();
    await same.notes.pull();
    expect(same.notes.lastError.value).toBeNull();
  });
});

describe('collections: messages (audit 21, F4)', () => {
  it('an offline pull() with pullIntervalMs 0 does not promise a pull by itself', async () => {
    const server = await referenceServer();
    const device = await startDevice({ server, online: false, collection: { pullIntervalMs: 0 } });
    const error = await device.notes.pull().catch((e: unknown) => e);
    expect(isFluxyError(error) && error.code).toBe('collections/offline');
    expect((error as Error).message).not.toContain('by itself when');
    expect((error as Error).message).toContain('pull() again');
  });
});
