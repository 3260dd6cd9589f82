// A fresh-eyes review of fluxy/collections (session 13): what an app author meets at the edges —
// restarts between steps, pulls cut off, the signals a UI shows.
import { readFile } from 'node:fs/promises';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createApp } from '../../src/core/app.js';
import {
  Collection,
  type CollectionOptions,
  type ConflictEvent,
  type ConflictInput,
} from '../../src/plugins/collections/index.js';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { minIterations, StoragePlugin } from '../../src/plugins/storage/index.js';
import { SyncPlugin } from '../../src/plugins/sync/index.js';
import { TestLockManager, webLocks } from '../support/lock-manager.js';
import { gate } from '../support/memory-store.js';
import { silentLogger } from '../sync/harness.js';
import {
  faults,
  idle,
  type Note,
  referenceServer,
  serverNotes,
  serverWrite,
  startDevice,
  twoDevices,
  until,
  withTimeout,
} from './harness.js';

describe('review s13: lastPulledAt', () => {
  it('keeps the last complete pull across a restart after a pull cut off mid-way', async () => {
    const server = await referenceServer({ feedPageSize: 2 });
    const device = await startDevice({ server });
    await device.notes.pull();
    const pulledAt = device.notes.lastPulledAt.value;
    expect(pulledAt).not.toBeNull();
    for (let n = 0; n < 6; n++) await serverWrite(server, 'POST', '/api/notes', { title: `n${n}` });
    await faults(server, ['ok', { status: 503 }]); // page 1 comes (and is stored), page 2 fails
    await expect(device.notes.pull()).rejects.toMatchObject({ code: 'collections/pull-failed' });
    expect(device.notes.items.value).toHaveLength(2);
    expect(device.notes.lastPulledAt.value).toBe(pulledAt);
    await device.dispose();
    const again = await startDevice({ server, disk: device.disk, online: false });
    expect(again.notes.items.value).toHaveLength(2);
    // It said null ("never pulled"): the cut pull's page was stored without it.
    expect(again.notes.lastPulledAt.value).toBe(pulledAt);
    again.connectivity.setOnline(true);
    await again.notes.pull();
    expect(again.notes.items.value).toEqual(await serverNotes(server));
    expect(again.notes.lastPulledAt.value).toBeGreaterThanOrEqual(pulledAt as number);
  });
});

interface Doc extends Record<string, unknown> {
  id: string;
  version: number;
  title: string;
  meta: Record<string, unknown>;
}

/**
 * A server of docs as a fetch function, which stores objects the way Postgres `jsonb` does: keys
 * sorted (shorter first). With `keepMeta`, a PATCH leaves `meta` as it was (a newer write won).
 */
function jsonbServer() {
  const rows = new Map<string, Doc>();
  const state = { keepMeta: false };
  const sorted = (value: unknown): unknown =>
    value !== null && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(
          Object.entries(value)
            .sort(([a], [b]) => a.length - b.length || (a < b ? -1 : 1))
            .map(([key, item]) => [key, sorted(item)]),
        )
      : value;
  const json = (status: number, body: unknown) =>
    new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
  const fetch = async (input: string, init?: RequestInit): Promise<Response> => {
    const method = init?.method ?? 'GET';
    if (method === 'GET')
      return json(200, { changes: [...rows.values()], deleted: [], cursor: 'c', more: false });
    const body = JSON.parse(String(init?.body)) as Partial<Doc>;
    const id = method === 'POST' ? `d${rows.size + 1}` : (new URL(input).pathname.split('/').pop() as string);
    const current = rows.get(id);
    if (state.keepMeta) delete body.meta;
    const row = sorted({ ...current, ...body, id, version: (current?.version ?? 0) + 1 }) as Doc;
    rows.set(id, row);
    return json(method === 'POST' ? 201 : 200, row);
  };
  return { fetch, state };
}

describe("review s13: 'lww' conflicts of nested objects", () => {
  it('an object field stored with its keys in another order is no lost field (a newer value is)', async () => {
    const server = jsonbServer();
    const app = createApp({ logger: silentLogger });
    app.register(
      new StoragePlugin({
        name: 'jsonb',
        indexedDB: new IDBFactory(),
        secret: 's',
        iterations: minIterations,
      }),
    );
    app.register(new ConnectivityPlugin()).setOnline(true);
    const sync = app.register(
      new SyncPlugin({ baseUrl: 'http://docs.test/api', fetch: server.fetch as never }),
    );
    const docs = app.register(new Collection<Doc>('docs', { url: '/docs', pullIntervalMs: 0, locks: false }));
    onTestFinished(() => app.dispose());
    await app.ready();
    const conflicts: Array<ConflictEvent<Doc>> = [];
    docs.on('conflict', (event) => conflicts.push(event));
    const answered = () =>
      until(() => docs.unconfirmed.value === 0 && sync.pendingCount.value === 0, 'the write to be answered');
    const row = await docs.insert({ title: 't', meta: { zeta: 1, a: { y: 1, b: 2 } } });
    await answered();
    await docs.update(row.id, { meta: { zeta: 2, a: { y: 3, b: 4 } } });
    await answered();
    // The answer holds the same value, its keys sorted: it was reported as a conflict ('lww').
    expect(docs.get(row.id).value?.meta).toEqual({ zeta: 2, a: { y: 3, b: 4 } });
    // Sent once the answer above was handled (its conflict check included); another field, so it
    // does not settle the check of `meta` (a later pending change of a field decides for it).
    await docs.update(row.id, { title: 'u' });
    await answered();
    server.state.keepMeta = true; // a value the server did not take is still a conflict
    const conflicted = new Promise((resolve) => docs.on('conflict', resolve));
    await docs.update(row.id, { meta: { zeta: 3 } });
    await withTimeout(conflicted, 'the conflict of the value not taken');
    expect(conflicts).toEqual([
      expect.objectContaining({
        id: 'd1',
        resolution: 'lww',
        server: expect.objectContaining({ version: 4 }),
      }),
    ]);
  });
});

describe('review s13: a refusal decided by one tab', () => {
  it('two tabs resolving after their pulls decide a 412 once: the merge function runs once, one resend', async () => {
    const server = await referenceServer();
    const created = (await serverWrite(server, 'POST', '/api/notes', { title: 'start', body: '' }))
      .body as Note;
    const merges: Array<string | undefined> = [];
    const conflict: CollectionOptions<Note>['conflict'] = ({ local, server: current }) => {
      merges.push(local?.title);
      return local && current ? { title: `${current.title}+${local.title}` } : null;
    };
    // Tab a resolves first (after the pull its 412 starts) and waits, once it read the failed
    // operations, until tab b resolves too: b reads them as well (both decide), or asks for the
    // lock that resolving now holds.
    const bResolves = gate();
    const hook = (name: string) => name.endsWith(':resolve') && tabs.length === 2 && bResolving();
    let bResolving = () => {};
    const locks = webLocks((name) => hook(name)); // the collections of one disk's tabs
    const syncLocks = new TestLockManager(); // one sender: tab a, the first
    const disk = new IDBFactory();
    const tabs: Array<Awaited<ReturnType<typeof startDevice>>> = [];
    for (let tab = 0; tab < 2; tab++) {
      const device = await startDevice({
        server,
        disk,
        sync: { locks: syncLocks },
        collection: { locks, conflict },
      });
      await device.notes.pull();
      tabs.push(device);
    }
    const [a, b] = tabs as [(typeof tabs)[0], (typeof tabs)[0]];
    expect(a.sync.coordination).toBe('web-locks');
    bResolving = () => bResolves.open();
    const failed = b.sync.failed.bind(b.sync);
    b.sync.failed = () => {
      bResolves.open(); // (before the fix: b decides the refusal too)
      return failed();
    };
    const aFailed = a.sync.failed.bind(a.sync);
    let first = true;
    a.sync.failed = async () => {
      const list = await aFailed();
      if (first) {
        first = false;
        void b.notes.pull(); // b pulls (after a's pull) and resolves
        await withTimeout(bResolves.promise, 'tab b to resolve, or to wait for the lock');
      }
      return list;
    };
    a.sync.pause();
    await a.notes.update(created.id, { title: 'mine' }); // made on version 1
    await serverWrite(server, 'PATCH', `/api/notes/${created.id}`, { title: 'theirs' }); // version 2
    const decided = new Promise((resolve) => a.notes.on('conflict', resolve));
    a.sync.resume(); // 412; a's pull brings version 2, a resolves
    await withTimeout(decided, 'the conflict decided in tab a');
    await idle(a);
    await a.notes.pull();
    await b.notes.pull();
    await idle(a);
    expect(merges).toEqual(['mine']); // it ran in both tabs
    expect(server.requests.filter((line) => line.startsWith('PATCH'))).toEqual([
      `PATCH /api/notes/${created.id} → 200`, // 'theirs'
      `PATCH /api/notes/${created.id} → 412`,
      `PATCH /api/notes/${created.id} → 200`,
    ]);
    expect((await serverNotes(server))[0]).toMatchObject({ title: 'theirs+mine' });
    await until(() => b.notes.get(created.id).value?.title === 'theirs+mine', 'tab b to show the merge');
  });
});

describe('review s13: the merge function of docs/conflicts.md', () => {
  // As docs/conflicts.md writes it ("Writing a merge function").
  const merge = ({ local, server, base }: ConflictInput<Note>): Partial<Note> | null => {
    if (local === null) return null; // removed here, changed elsewhere: keep their row
    if (server === null) return null; // not called for a deleted row: for the type only
    const patch: Partial<Note> = {};
    for (const field of ['title', 'body'] as const) {
      const mine = local[field] !== server[field]; // does this replica's change set it?
      const theirs = server[field] !== base?.[field]; // did the other side change it?
      if (mine && !theirs) patch[field] = local[field];
      if (mine && theirs) patch[field] = `${server[field]}\n— and from this device —\n${local[field]}`;
    }
    return Object.keys(patch).length > 0 ? patch : null;
  };

  it('is the one the page shows', async () => {
    const page = await readFile(new URL('../../docs/conflicts.md', import.meta.url), 'utf8');
    expect(page).toContain(
      "const mine = local[field] !== server[field];    // does this replica's change set it?",
    );
    expect(page).toContain(
      'const theirs = server[field] !== base?.[field]; // did the other side change it?',
    );
  });

  it("keeps both sides' fields, and joins the texts of a field both changed once", async () => {
    const { server, id, a, b } = await twoDevices({ conflict: merge });
    a.sync.pause();
    await a.notes.update(id, { body: 'my body' }); // made on version 1
    await b.notes.update(id, { title: 'their title' });
    await idle(b);
    const decided = new Promise((resolve) => a.notes.on('conflict', resolve));
    a.sync.resume();
    await withTimeout(decided, 'the first merge');
    await idle(a);
    // The page's function compared local with base: `title` (only theirs) looked changed on both
    // sides, and was sent as 'their title\n— and from this device —\ntheir title'.
    expect((await serverNotes(server))[0]).toMatchObject({ title: 'their title', body: 'my body' });
    await a.notes.pull();
    await b.notes.pull();
    a.sync.pause();
    await a.notes.update(id, { body: 'mine' });
    await b.notes.update(id, { body: 'theirs' });
    await idle(b);
    const again = new Promise((resolve) => a.notes.on('conflict', resolve));
    a.sync.resume();
    await withTimeout(again, 'the second merge');
    await idle(a);
    expect((await serverNotes(server))[0]).toMatchObject({
      title: 'their title',
      body: 'theirs\n— and from this device —\nmine',
    });
    await a.notes.pull();
    expect(a.notes.items.value).toEqual(await serverNotes(server));
  });
});
