import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { effect } from '@preact/signals-core';
import { IDBObjectStore } from 'fake-indexeddb';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { createApp } from '../../src/core/app.js';
import { Collection } from '../../src/plugins/collections/index.js';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import { SyncPlugin } from '../../src/plugins/sync/index.js';
import { rawContents, rawRecords } from '../support/raw-indexeddb.js';
import { expectQuiet, silentLogger } from '../sync/harness.js';
import {
  clockAgo,
  code,
  faults,
  idle,
  type Note,
  pullsOf,
  referenceServer,
  serverNotes,
  serverWrite,
  startDevice,
  titles,
  until,
  untimed,
} from './harness.js';

describe('Collection options', () => {
  it('refuses bad options at construction with collections/invalid-options and says what to do', async () => {
    const make = (name: unknown, options: unknown) => () => new Collection(name as string, options as never);
    for (const [name, options] of [
      ['notes', undefined],
      ['notes', {}],
      ['notes', { url: '' }],
      ['notes', { url: '/notes?x=1' }],
      ['notes', { url: '/notes', key: 3 }],
      ['notes', { url: '/notes', conflict: 'newest' }],
      ['notes', { url: '/notes', pullIntervalMs: 10 }],
      ['notes', { url: '/notes', pullIntervalMs: -1 }],
      ['notes', { url: '/notes', urls: '/x' }],
      ['notes', { url: '/notes', compare: 'title' }],
      ['', { url: '/notes' }],
      ['no/slash', { url: '/notes' }],
    ] as const) {
      expect(await code(make(name, options)), JSON.stringify([name, options])).toBe(
        'collections/invalid-options',
      );
    }
    expect(make('notes', { url: '/notes', conflict: 'newest' })).toThrow(
      /'lww', 'server-wins', 'client-wins' or a function/,
    );
    expect(make('notes', {})).toThrow(/url must be the resource path/);
  });

  it('refuses a taken name at register(), and a missing sync plugin at ready()', async () => {
    const app = createApp({ logger: silentLogger });
    app.register(new StoragePlugin({ driver: 'memory' }));
    app.register(new ConnectivityPlugin());
    app.register(new Collection('notes', { url: '/notes' }));
    expect(await code(() => app.register(new Collection('notes', { url: '/other' })))).toBe(
      'plugin/duplicate',
    );
    expect(await code(app.ready())).toBe('plugin/missing-dependency');
    await app.dispose();
  });
});

describe('Collection writes', () => {
  it('shows an insert in the same frame, then the server id in items, in get() and in later operations', async () => {
    const server = await referenceServer();
    const device = await startDevice({ server, online: false });
    const pending = device.notes.insert({ title: 'Groceries', body: '' });
    // Same frame: before the insert's promise settles.
    expect(titles(device.notes.items.value)).toEqual(['Groceries']);
    const row = await pending;
    expect(row.id).toMatch(/^tmp_/);
    const byTempId = device.notes.get(row.id);
    const seen: Array<string | undefined> = [];
    const stop = effect(() => {
      seen.push(byTempId.value?.id);
    });
    // An update and then a remove-and-reinsert of the temp row, all before the insert is sent.
    await device.notes.update(row.id, { title: 'Food' });
    expect(device.notes.get(row.id).value?.title).toBe('Food');
    device.connectivity.setOnline(true);
    await idle(device);
    const [stored] = await serverNotes(server);
    expect(stored).toMatchObject({ title: 'Food', version: 2 });
    expect(device.notes.items.value).toEqual([stored]);
    expect(byTempId.value).toEqual(stored);
    expect(seen.at(-1)).toBe(stored?.id);
    // The PATCH went to the server id: the temp id never reached the server.
    expect(server.requests.filter((line) => line.includes('tmp_'))).toEqual([]);
    stop();
  });

  it('pending: which rows wait for the server (insert, update, remove with what it showed), after a reload too, empty once answered', async () => {
    const server = await referenceServer();
    const kept = (await serverWrite(server, 'POST', '/api/notes', { title: 'kept', body: '' })).body as Note;
    const gone = (await serverWrite(server, 'POST', '/api/notes', { title: 'gone', body: 'was here' }))
      .body as Note;
    const device = await startDevice({ server });
    await device.notes.pull();
    expect(device.notes.pending.value.size).toBe(0);
    device.connectivity.setOnline(false);
    const made = await device.notes.insert({ title: 'new', body: '' });
    await device.notes.update(made.id, { title: 'newer' }); // still an insert for the server
    await device.notes.update(kept.id, { title: 'kept, edited' });
    await device.notes.remove(gone.id);
    const madeThenRemoved = await device.notes.insert({ title: 'short-lived', body: '' });
    await device.notes.remove(madeThenRemoved.id); // never on the server: still shown as removed
    const shown = (id: string) => device.notes.get(id).value;
    const expected = [
      [made.id, { type: 'insert', confirmed: undefined, row: shown(made.id), removed: undefined }],
      [kept.id, { type: 'update', confirmed: kept, row: shown(kept.id), removed: undefined }],
      [gone.id, { type: 'remove', confirmed: gone, row: undefined, removed: gone }],
      [
        madeThenRemoved.id,
        {
          type: 'remove',
          confirmed: undefined,
          row: undefined,
          removed: expect.objectContaining({ title: 'short-lived' }),
        },
      ],
    ];
    expect(shown(made.id)).toMatchObject({ title: 'newer' });
    expect(shown(kept.id)).toMatchObject({ title: 'kept, edited' });
    expect([...device.notes.pending.value]).toEqual(expected);
    expect(titles(device.notes.items.value)).toEqual(['kept, edited', 'newer']);
    await device.dispose();

    const again = await startDevice({ server, disk: device.disk, online: false });
    expect([...again.notes.pending.value]).toEqual(expected);
    again.connectivity.setOnline(true);
    await idle(again);
    await until(() => again.notes.pending.value.size === 0, 'every change to be confirmed');
    expect(titles(again.notes.items.value)).toEqual(['kept, edited', 'newer']);
  });

  it('removes a row made offline before its insert was sent', async () => {
    const server = await referenceServer();
    const device = await startDevice({ server, online: false });
    const row = await device.notes.insert({ title: 'Oops' });
    await device.notes.remove(row.id);
    expect(device.notes.items.value).toEqual([]);
    device.connectivity.setOnline(true);
    await idle(device);
    expect(await serverNotes(server)).toEqual([]);
    expect(device.notes.items.value).toEqual([]);
    expect(await device.sync.failed()).toEqual([]);
  });

  it('sends Fluxy-Clock on every write (increasing), and If-Match only for the strategies that need it', async () => {
    const server = await referenceServer();
    const seen: Array<{ clock: string | null; ifMatch: string | null }> = [];
    for (const conflict of ['lww', 'server-wins'] as const) {
      const device = await startDevice({ server, collection: { conflict } });
      const fetchSpy = (input: string, init: RequestInit) => {
        const headers = new Headers(init.headers);
        if (init.method !== 'GET')
          seen.push({ clock: headers.get('Fluxy-Clock'), ifMatch: headers.get('If-Match') });
        return fetch(input, init);
      };
      // A second app over a spying fetch would need a new device: wrap the sync's own requests instead.
      await device.dispose();
      const app = createApp({ logger: silentLogger });
      app.register(new StoragePlugin({ driver: 'memory' }));
      app.register(new ConnectivityPlugin());
      app.register(new SyncPlugin({ baseUrl: `${server.url}/api`, fetch: fetchSpy }));
      const notes = app.register(
        new Collection<Note>('notes', { url: '/notes', conflict, pullIntervalMs: 0, locks: false }),
      );
      await app.ready();
      const row = await notes.insert({ title: 'a' });
      await app.use(SyncPlugin).flush();
      await notes.update(notes.get(row.id).value?.id as string, { title: 'b' });
      await app.use(SyncPlugin).flush();
      await app.dispose();
    }
    expect(seen).toHaveLength(4);
    for (const entry of seen) expect(entry.clock).toMatch(/^[0-9a-z]{9}-[0-9a-z]{4}-[0-9a-z]+$/);
    expect((seen[0]?.clock as string) < (seen[1]?.clock as string)).toBe(true);
    expect(seen.map((entry) => entry.ifMatch)).toEqual([null, null, null, '"1"']);
  });

  it('refuses bad writes with a code, changing nothing', async () => {
    const server = await referenceServer();
    const device = await startDevice({ server, online: false });
    const before = device.notes.items.value;
    expect(await code(device.notes.insert(null as never))).toBe('collections/invalid-row');
    expect(await code(device.notes.insert([] as never))).toBe('collections/invalid-row');
    expect(await code(device.notes.insert({ id: 'mine', title: 'x' } as never))).toBe(
      'collections/invalid-row',
    );
    expect(await code(device.notes.insert({ title: () => 1 } as never))).toBe('collections/invalid-row');
    expect(await code(device.notes.insert({ title: 10n } as never))).toBe('collections/invalid-row');
    // What JSON would change rather than keep is refused, not converted (as queue() refuses it).
    for (const fields of [
      { title: Number.NaN },
      { title: Number.POSITIVE_INFINITY },
      { title: new Map([['a', 1]]) },
      { title: 'x', tags: [undefined] },
      { title: 'x', nested: { f: () => 1 } },
      { title: undefined },
    ]) {
      expect(await code(device.notes.insert(fields as never)), JSON.stringify(Object.keys(fields))).toBe(
        'collections/invalid-row',
      );
    }
    expect(await code(device.notes.update('nope', { title: 'x' }))).toBe('collections/unknown-row');
    expect(await code(device.notes.update('', { title: 'x' }))).toBe('invalid-argument');
    expect(await code(device.notes.remove(42 as never))).toBe('invalid-argument');
    const row = await device.notes.insert({ title: 'x' });
    expect(await code(device.notes.update(row.id, {}))).toBe('collections/invalid-row');
    expect(await code(device.notes.update(row.id, { id: 'other' }))).toBe('collections/invalid-row');
    // The key alone, unchanged, is an empty patch too (the server would refuse an empty PATCH).
    expect(await code(device.notes.update(row.id, { id: row.id }))).toBe('collections/invalid-row');
    expect(await code(device.notes.update(row.id, { title: Number.NaN } as never))).toBe(
      'collections/invalid-row',
    );
    expect(await code(() => device.notes.get(7 as never))).toBe('invalid-argument');
    expect(before).toEqual([]);
    expect(titles(device.notes.items.value)).toEqual(['x']);
    expect(device.sync.pendingCount.value).toBe(1);
    // A body the outbox refuses (too large) is rolled back at once.
    expect(await code(device.notes.insert({ title: 'x'.repeat(2 * 1024 * 1024) }))).toBe(
      'sync/body-too-large',
    );
    expect(titles(device.notes.items.value)).toEqual(['x']);
  });

  it('drops a refused change out of items, brings it back on sync.retry(), and forgets it on discard()', async () => {
    const server = await referenceServer();
    const device = await startDevice({ server });
    const row = await device.notes.insert({ title: 'ok' });
    await idle(device);
    const id = device.notes.get(row.id).value?.id as string;
    // The server refuses titles over 200 characters: a 400, so the change fails for good.
    await device.notes.update(id, { title: 'y'.repeat(300) });
    expect(device.notes.get(id).value?.title).toHaveLength(300);
    await until(() => device.sync.failedCount.value === 1, 'the update to fail');
    expect(device.notes.get(id).value?.title).toBe('ok');
    const [failed] = await device.sync.failed();
    await device.sync.retry(failed?.id);
    await until(() => device.notes.get(id).value?.title.length === 300, 'the retried change to show again');
    await until(() => device.sync.failedCount.value === 1, 'the retried update to fail again');
    expect(device.notes.get(id).value?.title).toBe('ok');
    await device.sync.discard(failed?.id as string);
    expect(device.notes.get(id).value?.title).toBe('ok');
    expect(device.sync.failedCount.value).toBe(0);
  });

  it('notifies get(id) only when that row changes', async () => {
    const server = await referenceServer();
    const device = await startDevice({ server });
    const a = await device.notes.insert({ title: 'a' });
    const b = await device.notes.insert({ title: 'b' });
    await idle(device);
    const idA = device.notes.get(a.id).value?.id as string;
    const idB = device.notes.get(b.id).value?.id as string;
    let runs = 0;
    const stop = effect(() => {
      device.notes.get(idA).value;
      runs++;
    });
    expect(runs).toBe(1);
    await device.notes.update(idB, { title: 'b2' }); // another row
    await idle(device);
    await serverWrite(server, 'PATCH', `/api/notes/${idB}`, { title: 'b3' });
    await device.notes.pull(); // another row changed on the server
    expect(device.notes.get(idB).value?.title).toBe('b3');
    expect(runs).toBe(1);
    await device.notes.update(idA, { title: 'a2' });
    expect(runs).toBe(2);
    await idle(device); // the answer carries a new version: the row changed
    expect(device.notes.get(idA).value).toMatchObject({ title: 'a2', version: 2 });
    const afterAnswer = runs;
    await device.notes.pull(); // the same row again: no change, no notification
    expect(runs).toBe(afterAnswer);
    stop();
  });
});

describe('Collection pulls and cache', () => {
  it('pulls pages while more, stores rows encrypted, and starts offline from the cache before any request', async () => {
    const server = await referenceServer({ feedPageSize: 5 });
    for (let n = 0; n < 11; n++) await serverWrite(server, 'POST', '/api/notes', { title: `note ${n}` });
    const first = await startDevice({ server, secret: 'sekrit' });
    await until(() => first.notes.lastPulledAt.value !== null, 'the pull at start-up');
    expect(pullsOf(server)).toHaveLength(3); // 5 + 5 + 1
    await first.notes.pull(); // nothing new: one request
    expect(pullsOf(server)).toHaveLength(4);
    expect(first.notes.items.value).toHaveLength(11);
    expect(first.notes.items.value).toEqual(await serverNotes(server));
    expect(first.notes.lastPulledAt.value).toEqual(expect.any(Number));
    const raw = await rawContents(first.disk);
    expect(raw).not.toContain('note 10');
    await first.dispose();

    const requestsBefore = server.requests.length;
    const second = await startDevice({ server, disk: first.disk, secret: 'sekrit', online: false });
    expect(second.notes.items.value).toHaveLength(11);
    expect(server.requests.length).toBe(requestsBefore);
    expect(second.notes.lastPulledAt.value).toEqual(first.notes.lastPulledAt.value);
  });

  it('stores a big page in records under 64 KB (Chromium writes bigger values as blob files) and replays them in order', async () => {
    const server = await referenceServer({ feedPageSize: 200 });
    for (let n = 0; n < 120; n++)
      await serverWrite(server, 'POST', '/api/notes', {
        title: `big ${n}`,
        body: `${n} ${'x'.repeat(1500)}`,
      });
    const first = await startDevice({ server, secret: 'sekrit' });
    await first.notes.pull();
    expect(pullsOf(server).length).toBeGreaterThan(0);
    const storage = first.app.use(StoragePlugin);
    const keys = await storage.keys('collection-notes/c/');
    expect(keys.length).toBeGreaterThanOrEqual(4); // ≈ 190 KB of rows, one page: several parts
    const sizes = (await rawRecords(first.disk, 'collection-notes/c/')).map((value) => value.length);
    expect(sizes).toHaveLength(keys.length);
    expect(Math.max(...sizes)).toBeLessThan(64 * 1024);
    await first.notes.remove((first.notes.items.value[3] as Note).id); // a later chunk's deletion wins
    await idle(first);
    await first.dispose();
    const second = await startDevice({ server, disk: first.disk, secret: 'sekrit', online: false });
    expect(second.notes.items.value).toEqual(await serverNotes(server));
    expect(second.notes.items.value).toHaveLength(119);
  });

  it('compacts its log of chunks past 64 and keeps every row across a restart', async () => {
    const server = await referenceServer();
    const device = await startDevice({ server });
    for (let n = 0; n < 90; n++) await device.notes.insert({ title: `n${n}` }); // 90 answers: 90 chunks
    await idle(device);
    await until(() => device.notes.unconfirmed.value === 0, 'every insert to be confirmed');
    await device.notes.pull();
    const storage = device.app.use(StoragePlugin);
    const chunks = await storage.keys('collection-notes/c/');
    expect(chunks.length).toBeLessThanOrEqual(64 + 16);
    expect(chunks.some((key) => key.includes('.s'))).toBe(true); // a snapshot was written
    await device.dispose();
    const again = await startDevice({ server, disk: device.disk, online: false });
    expect(again.notes.items.value).toEqual(await serverNotes(server));
    expect(again.notes.items.value).toHaveLength(90);
  });

  it('pulls on ready() when online, on reconnect, and never while offline', async () => {
    const server = await referenceServer();
    await serverWrite(server, 'POST', '/api/notes', { title: 'from elsewhere' });
    const device = await startDevice({ server, online: false });
    expect(pullsOf(server)).toHaveLength(0);
    expect(await code(device.notes.pull())).toBe('collections/offline');
    device.connectivity.setOnline(true);
    await until(() => device.notes.items.value.length === 1, 'the pull on reconnect');
    const online = await startDevice({ server });
    await until(() => online.notes.items.value.length === 1, 'the pull at start-up');
    expect(pullsOf(server)).toHaveLength(2);
  });

  it('pulls every pullIntervalMs and when the page becomes visible', async () => {
    const server = await referenceServer();
    const page = Object.assign(new EventTarget(), { visibilityState: 'hidden' });
    const previous = (globalThis as { document?: unknown }).document;
    (globalThis as { document?: unknown }).document = page;
    try {
      const timed = await startDevice({ server, collection: { pullIntervalMs: 1000 } });
      await until(() => timed.notes.lastPulledAt.value !== null, 'the pull at start-up');
      await server.request(/^GET \/api\/notes\?since=c1/, 'a pull from the interval (from the cursor)');
      await timed.dispose();
      const device = await startDevice({ server }); // no timer (untimed): only the page can trigger it
      await until(() => device.notes.lastPulledAt.value !== null, 'the pull at start-up');
      const before = pullsOf(server).length;
      await serverWrite(server, 'POST', '/api/notes', { title: 'seen when visible' });
      page.visibilityState = 'visible';
      page.dispatchEvent(new Event('visibilitychange'));
      await until(() => device.notes.items.value.length === 1, 'the pull on becoming visible');
      expect(pullsOf(server).length).toBeGreaterThan(before);
    } finally {
      (globalThis as { document?: unknown }).document = previous;
    }
  });

  it('with pullIntervalMs 0 pulls only on pull(): not at ready(), on reconnect or on becoming visible', async () => {
    const server = await referenceServer();
    await serverWrite(server, 'POST', '/api/notes', { title: 'from elsewhere' });
    const page = Object.assign(new EventTarget(), { visibilityState: 'hidden' });
    const previous = (globalThis as { document?: unknown }).document;
    (globalThis as { document?: unknown }).document = page;
    try {
      const device = await startDevice({ server, collection: { pullIntervalMs: 0 } });
      const pulls = () => pullsOf(server).length;
      // Nothing happens, so no event says so: a bounded window after each trigger.
      await expectQuiet('a pull at ready()', pulls, { windowMs: 150 });
      device.connectivity.setOnline(false);
      device.connectivity.setOnline(true);
      await expectQuiet('a pull on reconnect', pulls, { windowMs: 150 });
      page.visibilityState = 'visible';
      page.dispatchEvent(new Event('visibilitychange'));
      await expectQuiet('a pull on becoming visible', pulls, { windowMs: 150 });
      expect(pullsOf(server)).toEqual([]);
      expect(device.notes.lastPulledAt.value).toBeNull();
      expect(device.notes.items.value).toEqual([]);
      await device.notes.pull();
      expect(pullsOf(server)).toHaveLength(1);
      expect(titles(device.notes.items.value)).toEqual(['from elsewhere']);
    } finally {
      (globalThis as { document?: unknown }).document = previous;
    }
  });

  it('uses the cursor: a second pull asks only for what changed, including deletions', async () => {
    const server = await referenceServer();
    const one = (await serverWrite(server, 'POST', '/api/notes', { title: 'one' })).body as Note;
    await serverWrite(server, 'POST', '/api/notes', { title: 'two' });
    const device = await startDevice({ server });
    await device.notes.pull();
    expect(titles(device.notes.items.value)).toEqual(['one', 'two']);
    await serverWrite(server, 'DELETE', `/api/notes/${one.id}`);
    await serverWrite(server, 'POST', '/api/notes', { title: 'three' });
    await device.notes.pull();
    expect(titles(device.notes.items.value)).toEqual(['two', 'three']);
    const [, second] = pullsOf(server).slice(-2);
    expect(second).not.toMatch(/since= /);
    expect(device.notes.items.value).toEqual(await serverNotes(server));
  });

  it('keeps the cache and reports lastError when a pull fails mid-page, then recovers with backoff', async () => {
    const server = await referenceServer({ feedPageSize: 5 });
    for (let n = 0; n < 7; n++) await serverWrite(server, 'POST', '/api/notes', { title: `n${n}` });
    const device = await startDevice({ server, online: false });
    await faults(server, ['ok', 'drop-before']);
    device.connectivity.setOnline(true);
    // The first page is stored, the second fails.
    await until(() => device.notes.lastError.value !== null, 'the pull to fail');
    expect(device.notes.lastError.value?.code).toBe('collections/pull-failed');
    expect(device.notes.items.value).toHaveLength(5);
    const pullsAtFailure = pullsOf(server).length;
    // Retried by itself, with backoff (not a tight loop), from the stored cursor.
    await until(() => device.notes.lastError.value === null, 'the retried pull', 15_000);
    expect(device.notes.items.value).toHaveLength(7);
    expect(pullsOf(server).length - pullsAtFailure).toBeLessThanOrEqual(2);
    // The page held for a group write was stored when the pull failed: the retry goes on from it.
    expect(pullsOf(server)[pullsAtFailure]).not.toMatch(/since= /);
    expect(device.notes.items.value).toEqual(await serverNotes(server));
  });

  it('stores a long pull a few pages per commit (each commit costs the browser), every row and the cursor in the end', async () => {
    const server = await referenceServer({ feedPageSize: 1 });
    for (let n = 0; n < 12; n++) await serverWrite(server, 'POST', '/api/notes', { title: `n${n}` });
    const first = await startDevice({ server, online: false });
    const put = IDBObjectStore.prototype.put;
    let commits = 0; // one cursor per commit
    IDBObjectStore.prototype.put = function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
      if (key === 'collection-notes/meta') commits++;
      return put.call(this, value, key);
    } as typeof put;
    const started = Date.now();
    try {
      first.connectivity.setOnline(true);
      await first.notes.pull();
    } finally {
      IDBObjectStore.prototype.put = put;
    }
    const elapsed = Date.now() - started;
    expect(pullsOf(server)).toHaveLength(12);
    // Stored during the pull, not only at the end: the fourth page starts a commit. (Three on a
    // fast disk; on a slow one the pages that arrive while a commit runs go into the next one.)
    expect(commits).toBeGreaterThanOrEqual(2);
    // Four pages a commit, and one more each time `items` is rebuilt (every 250 ms) on a slow run.
    expect(commits).toBeLessThanOrEqual(3 + Math.floor(elapsed / 250));
    await first.dispose();
    const second = await startDevice({ server, disk: first.disk, online: false });
    expect(second.notes.items.value).toEqual(await serverNotes(server));
    second.connectivity.setOnline(true);
    await second.notes.pull(); // from the stored cursor: one page, empty
    expect(pullsOf(server)).toHaveLength(13);
    await second.dispose();
  });

  it('never stores the cursor past rows it could not store: a write failing mid-pull loses and skips nothing', async () => {
    const server = await referenceServer({ feedPageSize: 5 });
    for (let n = 0; n < 23; n++) await serverWrite(server, 'POST', '/api/notes', { title: `n${n}` });
    const first = await startDevice({ server, online: false });
    // The second chunk written by the pull fails (as a full disk would), and only that one.
    const put = IDBObjectStore.prototype.put;
    let chunkPuts = 0;
    IDBObjectStore.prototype.put = function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
      if (typeof key === 'string' && key.includes('collection-notes/c/') && ++chunkPuts === 2) {
        throw new DOMException('planted: the disk is full', 'QuotaExceededError');
      }
      return put.call(this, value, key);
    } as typeof put;
    try {
      first.connectivity.setOnline(true);
      // The pull stops at the failed write, and is retried (with backoff) from the stored cursor.
      await until(() => first.notes.lastPulledAt.value !== null, 'the pull, retried after the failed write');
      expect(chunkPuts).toBeGreaterThanOrEqual(2);
    } finally {
      IDBObjectStore.prototype.put = put;
    }
    await first.dispose();
    // A new instance over the same disk pulls from the stored cursor: every row comes back once.
    const second = await startDevice({ server, disk: first.disk });
    await second.notes.pull();
    expect(second.notes.items.value).toHaveLength(23);
    expect(second.notes.items.value).toEqual(await serverNotes(server));
  });

  it('reports in lastError a pull whose rows cannot be stored (a full disk), until a pull succeeds', async () => {
    const server = await referenceServer({ feedPageSize: 5 });
    for (let n = 0; n < 7; n++) await serverWrite(server, 'POST', '/api/notes', { title: `n${n}` });
    const device = await startDevice({ server, online: false });
    const put = IDBObjectStore.prototype.put;
    IDBObjectStore.prototype.put = function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
      if (typeof key === 'string' && key.includes('collection-notes/c/')) {
        throw new DOMException('planted: the disk is full', 'QuotaExceededError');
      }
      return put.call(this, value, key);
    } as typeof put;
    try {
      device.connectivity.setOnline(true);
      // pull() rejects with what lastError says (the storage error its cause), as for the feed's failures.
      await expect(device.notes.pull()).rejects.toMatchObject({
        code: 'collections/pull-failed',
        cause: { code: 'storage/quota-exceeded' },
      });
      // Not only the caller of pull() hears of it: an automatic pull has no caller.
      expect(device.notes.lastError.value).toMatchObject({
        code: 'collections/pull-failed',
        cause: { code: 'storage/quota-exceeded' },
      });
      expect(device.notes.isPulling.value).toBe(false);
    } finally {
      IDBObjectStore.prototype.put = put;
    }
    await device.notes.pull();
    expect(device.notes.lastError.value).toBeNull();
    expect(device.notes.items.value).toHaveLength(7);
    await device.dispose();
  });

  it('reports a server answer that is not a changes page as collections/bad-response', async () => {
    const server = await referenceServer();
    const app = createApp({ logger: silentLogger });
    app.register(new StoragePlugin({ driver: 'memory' }));
    app.register(new ConnectivityPlugin());
    app.register(new SyncPlugin({ baseUrl: `${server.url}/api` }));
    // GET /api/notes without ?since answers a plain list: wrong shape for a pull.
    const notes = app.register(
      new Collection<Note>('notes', { url: '/notes/n_1', pullIntervalMs: 0, locks: false }),
    );
    await app.ready();
    expect(await code(notes.pull())).toBe('collections/pull-failed'); // 404
    expect(notes.lastError.value).toMatchObject({ code: 'collections/pull-failed', status: 404 });
    await app.dispose();
  });

  it('refuses a page that says `more` with the cursor it was asked with (no endless pull), as collections/bad-response', async () => {
    // A broken feed: the cursor never moves. Each pull must stop at once, not ask forever.
    const asked: string[] = [];
    const stuck = createServer((request, response) => {
      asked.push(new URL(request.url ?? '', 'http://x').searchParams.get('since') ?? '?');
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.end(
        JSON.stringify({ changes: [{ id: 'n_1', title: 'a' }], deleted: [], cursor: 'c1', more: true }),
      );
    });
    await new Promise<void>((resolve) => stuck.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => stuck.close(() => resolve())));
    const { port } = stuck.address() as AddressInfo;
    const app = createApp({ logger: silentLogger });
    app.register(new StoragePlugin({ driver: 'memory' }));
    app.register(new ConnectivityPlugin());
    app.register(new SyncPlugin({ baseUrl: `http://127.0.0.1:${port}/api` }));
    const notes = app.register(
      new Collection<Note>('notes', { url: '/notes', pullIntervalMs: untimed, locks: false }),
    );
    await app.ready(); // online: the first pull starts now
    await until(() => notes.lastError.value !== null, 'the first pull to fail');
    expect(notes.lastError.value?.code).toBe('collections/bad-response');
    expect(asked).toEqual(['', 'c1']); // the first page moved the cursor; the second did not
    expect(notes.items.value.map((row) => row.id)).toEqual(['n_1']); // the good page is kept
    // Asked again, it asks once, from the stored cursor, and stops.
    expect(await code(notes.pull())).toBe('collections/bad-response');
    expect(asked).toEqual(['', 'c1', 'c1']);
    await app.dispose();
  });

  it('keeps pending changes on top of a pull that races them, until the server answers', async () => {
    const server = await referenceServer();
    const created = (await serverWrite(server, 'POST', '/api/notes', { title: 'v1', body: 'b' }))
      .body as Note;
    const device = await startDevice({ server });
    await device.notes.pull();
    device.connectivity.setOnline(false);
    await device.notes.update(created.id, { title: 'mine' });
    // Meanwhile another device changes the body.
    await serverWrite(server, 'PATCH', `/api/notes/${created.id}`, { body: 'theirs' });
    device.connectivity.setOnline(true);
    device.sync.pause(); // the pull comes back before the write is sent
    await until(() => device.notes.get(created.id).value?.body === 'theirs', 'the pull');
    expect(device.notes.get(created.id).value).toMatchObject({ title: 'mine', body: 'theirs' });
    device.sync.resume();
    await idle(device);
    expect(device.notes.get(created.id).value).toMatchObject({ title: 'mine', body: 'theirs', version: 3 });
    expect(device.notes.items.value).toEqual(await serverNotes(server));
  });

  it('shows a row an answer brings back after a pull saw it deleted (last writer wins), not only at the next pull', async () => {
    const server = await referenceServer();
    // Another device wrote the note two minutes ago and deleted it one minute ago: before this
    // device's update, which is newer.
    const created = (
      await serverWrite(server, 'POST', '/api/notes', { title: 'v1', body: 'b' }, clockAgo(120_000))
    ).body as Note;
    const device = await startDevice({ server });
    await device.notes.pull();
    device.sync.pause(); // the update waits in the outbox
    await device.notes.update(created.id, { title: 'mine' });
    await serverWrite(server, 'DELETE', `/api/notes/${created.id}`, undefined, clockAgo(60_000));
    await device.notes.pull(); // sees the deletion while the update is pending
    device.sync.resume(); // the update is applied on the server: the row is back
    await idle(device);
    expect(await serverNotes(server)).toHaveLength(1);
    await until(() => device.notes.items.value.length === 1, 'the row brought back to show');
    expect(device.notes.items.value).toEqual(await serverNotes(server));
    expect(device.notes.get(created.id).value).toMatchObject({ title: 'mine' });
  });
});

describe('Collection across restarts and tabs', () => {
  it('shows a row once after a restart between an insert and its answer', async () => {
    const server = await referenceServer();
    const first = await startDevice({ server, online: false });
    const row = await first.notes.insert({ title: 'survivor' });
    await first.notes.update(row.id, { body: 'edited offline' });
    first.sync.pause();
    first.connectivity.setOnline(true);
    await until(() => first.notes.lastPulledAt.value !== null, 'the pull on reconnect');
    await faults(server, ['drop-after']); // the insert is applied, its answer lost
    first.sync.resume();
    await server.request(/^POST \/api\/notes → connection closed/, 'the lost answer');
    await first.dispose();
    const second = await startDevice({ server, disk: first.disk, online: false });
    expect(second.notes.items.value).toHaveLength(1);
    expect(second.notes.items.value[0]).toMatchObject({ title: 'survivor', body: 'edited offline' });
    second.connectivity.setOnline(true);
    await idle(second);
    await second.notes.pull();
    expect(await serverNotes(server)).toHaveLength(1);
    expect(second.notes.items.value).toEqual(await serverNotes(server));
  });

  it('shows a row once when the app restarts just after an insert was sent (its answer reaches the new instance)', async () => {
    const server = await referenceServer();
    for (let round = 0; round < 3; round++) {
      const first = await startDevice({ server });
      await first.notes.insert({ title: `round ${round}` });
      await first.dispose(); // the insert is on the wire, or answered but not yet handled
      const second = await startDevice({ server, disk: first.disk });
      await idle(second);
      await until(() => second.notes.unconfirmed.value === 0, 'the insert to be confirmed');
      await second.notes.pull();
      expect(second.notes.items.value).toEqual(await serverNotes(server));
      await second.dispose();
    }
  });

  it('shows a pulled row once while its insert waits for the retry of a lost answer (clientIdField)', async () => {
    const server = await referenceServer();
    const a = await startDevice({ server, collection: { clientIdField: 'clientId' } });
    await a.notes.pull();
    await faults(server, ['drop-after']); // applied and stored, the answer lost
    a.sync.pause();
    const row = await a.notes.insert({ title: 'once', body: '' });
    expect(row.clientId).toBe(row.id);
    a.sync.resume();
    await server.request(/^POST \/api\/notes → connection closed/, 'the lost answer');
    a.sync.pause(); // hold the retry, so the pull lands in between
    await a.notes.pull();
    expect(a.notes.items.value.map((note) => note.title)).toEqual(['once']);
    expect(a.notes.get(row.id).value?.id).toBe((await serverNotes(server))[0]?.id);
    a.sync.resume();
    await idle(a);
    expect(a.notes.items.value).toEqual(await serverNotes(server));
  });

  it("shows another tab's pulled pages and deletions, with its log compacted during the pull", async () => {
    const server = await referenceServer({ feedPageSize: 1 });
    const ids: string[] = [];
    for (let n = 0; n < 80; n++)
      ids.push(((await serverWrite(server, 'POST', '/api/notes', { title: `n${n}` })).body as Note).id);
    const a = await startDevice({ server, online: false });
    const b = await startDevice({ server, disk: a.disk, online: false }); // never pulls: offline
    a.connectivity.setOnline(true);
    await a.notes.pull(); // 80 pages of one row: the log is compacted during the pull
    expect(a.notes.items.value).toHaveLength(80);
    await until(() => b.notes.items.value.length === 80, 'tab b to show the 80 rows tab a pulled');
    for (const id of ids.slice(0, 3)) await serverWrite(server, 'DELETE', `/api/notes/${id}`);
    await a.notes.pull();
    await until(() => b.notes.items.value.length === 77, 'tab b to drop the rows deleted on the server');
    expect(b.notes.items.value).toEqual(await serverNotes(server));
    expect(b.notes.items.value).toEqual(a.notes.items.value);
  });

  // A review: tab b's chunk written in the millisecond of tab a's compaction sorted before a's
  // snapshot, which then brought back on replay a row b's pull had deleted (cursor past it).
  it("keeps a deletion another tab pulled in the millisecond of this tab's compaction", async () => {
    const server = await referenceServer({ feedPageSize: 1 });
    const ids: string[] = [];
    for (let n = 0; n < 80; n++)
      ids.push(((await serverWrite(server, 'POST', '/api/notes', { title: `n${n}` })).body as Note).id);
    const a = await startDevice({ server, online: false });
    const b = await startDevice({ server, disk: a.disk, online: false });
    vi.useFakeTimers({ toFake: ['Date'] }); // frozen: every chunk id below has this millisecond
    onTestFinished(() => {
      vi.useRealTimers();
    });
    a.connectivity.setOnline(true);
    await a.notes.pull(); // 80 pages of one row, chunk counters 0 to 79: the log is compacted
    const storage = a.app.use(StoragePlugin);
    expect((await storage.keys('collection-notes/c/')).some((key) => key.includes('.s'))).toBe(true);
    await serverWrite(server, 'DELETE', `/api/notes/${ids[0]}`);
    b.connectivity.setOnline(true);
    await b.notes.pull(); // from a's cursor: one chunk, the deletion, with counter 0
    expect(b.notes.items.value).toHaveLength(79);
    await Promise.all([a.dispose(), b.dispose()]);
    const again = await startDevice({ server, disk: a.disk, online: false });
    expect(again.notes.items.value).toEqual(await serverNotes(server));
    expect(again.notes.items.value).toHaveLength(79);
  });

  it('a tab opened while another pulls shows every page that tab pulled, without pulling itself', async () => {
    // Each round opens tab b at another point of tab a's pull: while b loads its cache, a posts
    // and stores pages; b must end with them all, from its cache or from a's messages.
    for (const openAfter of [3, 10, 25, 40]) {
      const server = await referenceServer({ feedPageSize: 1 });
      for (let n = 0; n < 60; n++) await serverWrite(server, 'POST', '/api/notes', { title: `n${n}` });
      const a = await startDevice({ server, online: false });
      a.connectivity.setOnline(true);
      const pulled = a.notes.pull();
      await server.request(
        new RegExp(`^GET /api/notes\\?since=c1\\.${server.state.epoch}\\.${openAfter.toString(36)} `),
        `page ${openAfter + 1} asked`,
      );
      const b = await startDevice({ server, disk: a.disk, online: false }); // never pulls: offline
      await pulled;
      expect(a.notes.items.value).toHaveLength(60);
      await until(
        () => b.notes.items.value.length === 60,
        `tab b (opened after ${openAfter} pages) to show 60 rows`,
      );
      expect(b.notes.items.value).toEqual(a.notes.items.value);
      await Promise.all([a.dispose(), b.dispose()]);
    }
  });

  it('shows the same items in every tab within a moment of a change in any of them', async () => {
    const server = await referenceServer();
    const a = await startDevice({ server, online: false });
    const b = await startDevice({ server, disk: a.disk, online: false });
    const row = await a.notes.insert({ title: 'from a' });
    await until(() => titles(b.notes.items.value).join() === 'from a', 'tab b to show the insert');
    await b.notes.update(row.id, { title: 'edited in b' });
    await until(() => titles(a.notes.items.value).join() === 'edited in b', 'tab a to show the update');
    a.connectivity.setOnline(true);
    await idle(a);
    const stored = await serverNotes(server);
    expect(stored).toHaveLength(1);
    await until(
      () => JSON.stringify(b.notes.items.value) === JSON.stringify(stored),
      'tab b to show the server row',
    );
    expect(a.notes.items.value).toEqual(stored);
    expect(b.notes.get(row.id).value).toEqual(stored[0]);
  });
});
