// FaultServer's collection mode, through the public entries, as an app author tests a Collection.
import { afterEach, describe, expect, it } from 'vitest';
import { type ClockParts, formatStamp, parseStamp } from '../../src/plugins/collections/clock.js';
import {
  Collection,
  type CollectionOptions,
  type ConflictEvent,
} from '../../src/plugins/collections/index.js';
import { createTestApp, FaultServer, type TestApp } from '../../src/testing/index.js';

interface Note extends Record<string, unknown> {
  id: string;
  title: string;
  body?: string;
  version: number;
}

let server: FaultServer | undefined;
let apps: TestApp[] = [];

afterEach(async () => {
  for (const t of apps) await t.dispose();
  apps = [];
  await server?.close();
  server = undefined;
});

/** A FaultServer serving `/notes` in pages of `pageSize`. */
async function start(pageSize?: number): Promise<FaultServer> {
  server = await FaultServer.start({ collections: { '/notes': pageSize ? { pageSize } : {} } });
  return server;
}

/** A test app with a `notes` collection on the fault server (no timer: pulls at ready(), on reconnect and when asked). */
async function device(online = true, options: Partial<CollectionOptions<Note>> = {}) {
  const t = await createTestApp({
    sync: { baseUrl: (server as FaultServer).url, retry: { baseDelayMs: 5, maxDelayMs: 20 } },
    online,
  });
  apps.push(t);
  const notes = t.app.register(
    new Collection<Note>('notes', { url: '/notes', pullIntervalMs: 2 ** 31 - 1, locks: false, ...options }),
  );
  await t.app.ready();
  const conflicts: ConflictEvent<Note>[] = [];
  notes.on('conflict', (event) => conflicts.push(event));
  const settled = () => t.settled({ collections: ['notes'], label: 'notes settled' });
  await settled(); // the pull an online app starts at ready() is over: scripted faults are the test's
  return { t, notes, conflicts, settled };
}

const titles = (rows: readonly Note[]): string[] => rows.map((row) => row.title);
const pulls = (fault: FaultServer): string[] =>
  fault.received.filter((request) => request.method === 'GET').map((request) => request.path);

describe('FaultServer collections: a Collection against it', () => {
  it('an insert made offline is sent once online, settles, and the row gets the server id', async () => {
    const fault = await start();
    const { t, notes, settled } = await device(false);
    const row = await notes.insert({ title: 'Groceries' });
    expect(row?.id).toMatch(/^tmp_/);
    expect(fault.received).toStrictEqual([]);
    t.goOnline();
    await settled();
    expect(notes.items.value).toStrictEqual([{ id: 'srv-1', title: 'Groceries', version: 1 }]);
    expect(notes.get(row?.id as string).value?.id).toBe('srv-1'); // the temporary id still works
    expect(fault.rows<Note>('/notes')).toStrictEqual([{ id: 'srv-1', title: 'Groceries', version: 1 }]);
    const [insert] = fault.applied;
    expect(insert).toMatchObject({ method: 'POST', path: '/notes', body: { title: 'Groceries' } });
    expect(fault.received.find((request) => request.method === 'POST')?.headers['fluxy-clock']).toMatch(
      /^[0-9a-z]{9}-[0-9a-z]{4}-/,
    );
  });

  it('a lost answer to an insert is retried with the same key and applied once (one row)', async () => {
    const fault = await start();
    const { notes, settled } = await device();
    fault.script('drop-after');
    await notes.insert({ title: 'once' });
    await settled();
    const posts = fault.received.filter((request) => request.method === 'POST');
    expect(posts.map((request) => request.key)).toStrictEqual([posts[0]?.key, posts[0]?.key]);
    expect(fault.rows('/notes')).toHaveLength(1);
    expect(titles(notes.items.value)).toStrictEqual(['once']);
    expect(notes.items.value[0]?.id).toBe('srv-1');
  });

  it('rows changed and deleted server-side ("another device") appear after pull(), from the cursor on', async () => {
    const fault = await start();
    fault.put('/notes', { title: 'a' });
    fault.put('/notes', { title: 'b' });
    const { notes } = await device();
    await notes.pull();
    expect(titles(notes.items.value)).toStrictEqual(['a', 'b']);
    const changed = fault.put<Note>('/notes', { id: 'srv-1', title: 'a, from the phone' });
    expect(changed.version).toBe(2);
    expect(fault.remove('/notes', 'srv-2')).toBe(true);
    expect(fault.remove('/notes', 'srv-2')).toBe(false);
    fault.put('/notes', { id: 'n-given', title: 'c' });
    await notes.pull();
    expect(notes.items.value).toStrictEqual([
      { id: 'srv-1', title: 'a, from the phone', version: 2 },
      { id: 'n-given', title: 'c', version: 1 },
    ]);
    const [first, second] = pulls(fault);
    expect(first).toBe('/notes?since=');
    expect(second).not.toBe(first); // the second pull starts from the cursor the first ended on
    expect(fault.rows<Note>('/notes').map((row) => row.id)).toStrictEqual(['srv-1', 'n-given']);
  });

  it("under the default strategy ('lww') a newer server-side change of a field wins over an older offline edit", async () => {
    const fault = await start();
    fault.put('/notes', { title: 'draft', body: 'b' });
    const { t, notes, conflicts, settled } = await device();
    await notes.pull();
    t.goOffline();
    await notes.update('srv-1', { title: 'mine', body: 'my body' }); // older clock than the put below
    fault.put('/notes', { id: 'srv-1', title: 'theirs' });
    t.goOnline();
    await settled();
    // Per field: the title keeps the newer write (the other device's), the body takes this one.
    expect(fault.rows('/notes')).toStrictEqual([
      { id: 'srv-1', title: 'theirs', body: 'my body', version: 3 },
    ]);
    expect(notes.items.value).toStrictEqual(fault.rows('/notes'));
    expect(conflicts).toEqual([
      expect.objectContaining({
        id: 'srv-1',
        resolution: 'lww',
        result: expect.objectContaining({ title: 'theirs' }),
      }),
    ]);
    expect(fault.received.find((request) => request.method === 'PATCH')?.headers['if-match']).toBeUndefined();
  });

  it("'server-wins': a 412 with the current row drops the local change and shows the server's row", async () => {
    const fault = await start();
    fault.put('/notes', { title: 'v1' });
    const { t, notes, conflicts, settled } = await device(true, { conflict: 'server-wins' });
    await notes.pull();
    t.goOffline();
    await notes.update('srv-1', { title: 'mine' });
    fault.put('/notes', { id: 'srv-1', title: 'theirs' }); // version 2: the offline edit was made on 1
    t.goOnline();
    await settled();
    await notes.pull(); // a 412 is resolved once a pull brought the server's row: pull() waits for that
    const patch = fault.received.find((request) => request.method === 'PATCH');
    expect(patch?.headers['if-match']).toBe('"1"');
    expect(fault.applied).toStrictEqual([]); // refused with 412, nothing applied
    expect(fault.rows('/notes')).toStrictEqual([{ id: 'srv-1', title: 'theirs', version: 2 }]);
    expect(titles(notes.items.value)).toStrictEqual(['theirs']);
    expect(conflicts).toEqual([
      expect.objectContaining({
        id: 'srv-1',
        resolution: 'server-wins',
        local: expect.objectContaining({ title: 'mine' }),
        server: expect.objectContaining({ title: 'theirs' }),
      }),
    ]);
    expect(t.sync.failedCount.value).toBe(0);
  });

  it("'client-wins': the change refused with 412 is sent again on the server's version", async () => {
    const fault = await start();
    fault.put('/notes', { title: 'v1' });
    const { t, notes, conflicts, settled } = await device(true, { conflict: 'client-wins' });
    await notes.pull();
    t.goOffline();
    await notes.update('srv-1', { title: 'mine' });
    fault.put('/notes', { id: 'srv-1', title: 'theirs' });
    t.goOnline();
    await settled();
    await notes.pull(); // resolves the 412 (resends the change)…
    await settled(); // …and the resent change is answered
    const patches = fault.received.filter((request) => request.method === 'PATCH');
    expect(patches.map((request) => request.headers['if-match'])).toStrictEqual(['"1"', '"2"']);
    expect(fault.rows('/notes')).toStrictEqual([{ id: 'srv-1', title: 'mine', version: 3 }]);
    expect(notes.items.value).toStrictEqual(fault.rows('/notes'));
    expect(conflicts).toEqual([expect.objectContaining({ id: 'srv-1', resolution: 'client-wins' })]);
  });

  it("a pull cut by 'drop-after' on page 2 keeps the cache and lastError, and succeeds on retry", async () => {
    const fault = await start(2);
    const { notes } = await device();
    for (const title of ['a', 'b', 'c', 'd', 'e']) fault.put('/notes', { title });
    fault.script('ok', 'drop-after'); // page 1 answered; page 2 computed, then the connection drops
    await expect(notes.pull()).rejects.toMatchObject({ code: 'collections/pull-failed' });
    expect(titles(notes.items.value)).toStrictEqual(['a', 'b']); // page 1 is kept
    expect(notes.lastError.value?.code).toBe('collections/pull-failed');
    expect(notes.isPulling.value).toBe(false);
    await notes.pull();
    expect(titles(notes.items.value)).toStrictEqual(['a', 'b', 'c', 'd', 'e']);
    expect(notes.lastError.value).toBeNull();
    const [initial, page1, page2, retried, page3] = pulls(fault);
    expect(initial).toMatch(/\?since=$/);
    expect(page1).toMatch(/\?since=fc1\.[0-9a-z]+\.0$/); // the empty log's cursor
    expect(page2).not.toBe(page1);
    expect([retried, page3 === retried]).toStrictEqual([page2, false]); // goes on from page 1's cursor
  });

  it('a server whose data was reset (server.reset): the next pull starts again from since= and shows its rows only', async () => {
    const fault = await start();
    fault.put('/notes', { title: 'old 1' });
    fault.put('/notes', { title: 'old 2' });
    const { notes, settled } = await device();
    await notes.pull();
    expect(titles(notes.items.value)).toStrictEqual(['old 1', 'old 2']);
    fault.reset('/notes');
    fault.put('/notes', { title: 'new 1' }); // its cursor position (1) is one the app has passed
    const pending = notes.insert({ title: 'typed meanwhile' });
    await pending;
    await notes.pull();
    await settled();
    expect(titles(notes.items.value).sort()).toStrictEqual(['new 1', 'typed meanwhile']);
    expect(fault.rows<Note>('/notes').map((row) => row.id)).toStrictEqual(['srv-3', 'srv-4']);
    const since = pulls(fault).map((path) => new URL(path, 'http://x').searchParams.get('since'));
    expect(since.at(-2)).toMatch(/^fc1\./); // the stored cursor: 410
    expect(since).toContain('');
  });

  it('a pull answered 503, delayed, or garbled is a failure like any other; the next pull recovers', async () => {
    const fault = await start();
    fault.put('/notes', { title: 'a' });
    const { notes } = await device();
    fault.script({ status: 503 }, 'garble-body', { delayMs: 20, next: 'ok' });
    await expect(notes.pull()).rejects.toMatchObject({ code: 'collections/pull-failed' });
    expect(notes.lastError.value?.status).toBe(503);
    await expect(notes.pull()).rejects.toMatchObject({ code: expect.stringMatching(/^collections\//) });
    await notes.pull();
    expect(titles(notes.items.value)).toStrictEqual(['a']);
  });
});

describe('FaultServer collections: the protocol, request by request', () => {
  const send = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${(server as FaultServer).url}${path}`, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return {
      status: response.status,
      body: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>),
    };
  };
  const clock = (time: number) => `${time.toString(36).padStart(9, '0')}-0000-test`;

  it('pages the feed with opaque cursors, lists deletions, and refuses an unknown cursor', async () => {
    await start(2);
    for (const title of ['a', 'b', 'c']) await send('POST', '/notes', { title });
    await send('DELETE', '/notes/srv-1');
    const first = await send('GET', '/notes?since=');
    expect(first).toMatchObject({ status: 200, body: { deleted: [], more: true } });
    expect(((first.body?.changes ?? []) as Note[]).map((row) => row.title)).toStrictEqual(['b', 'c']);
    const second = await send('GET', `/notes?since=${first.body?.cursor}`);
    expect(second.body).toMatchObject({ changes: [], deleted: ['srv-1'], more: false });
    const empty = await send('GET', `/notes?since=${second.body?.cursor}`);
    // (The writes came without Fluxy-Clock: each got the server's stamp, the page's clock.)
    expect(empty.body).toStrictEqual({
      changes: [],
      deleted: [],
      cursor: second.body?.cursor,
      more: false,
      clock: expect.stringMatching(/^[0-9a-z]{9}-zzzz-faultserver$/),
    });
    expect((await send('GET', '/notes?since=nope')).status).toBe(400);
    expect(await send('GET', '/notes/srv-2')).toMatchObject({
      status: 200,
      body: { title: 'b', version: 1 },
    });
    expect((await send('GET', '/notes/srv-1')).status).toBe(410);
    expect((await send('PATCH', '/notes/srv-9', { title: 'x' })).status).toBe(404);
  });

  it("answers 410 cursor-expired to another server's cursor (a restart: the data was reset) and to one past its log", async () => {
    await start(2);
    await send('POST', '/notes', { title: 'a' });
    const { cursor } = (await send('GET', '/notes?since=')).body as { cursor: string };
    expect(cursor).toMatch(/^fc1\.[0-9a-z]+\.1$/);
    const ahead = cursor.replace(/\.1$/, '.2');
    expect(await send('GET', `/notes?since=${ahead}`)).toMatchObject({
      status: 410,
      body: { error: 'cursor-expired' },
    });
    await (server as FaultServer).close();
    await start(2); // the same path, a new server: its data starts empty
    expect(await send('GET', `/notes?since=${cursor}`)).toMatchObject({
      status: 410,
      body: { error: 'cursor-expired' },
    });
    expect((await send('GET', '/notes?since=fc1.1')).status).toBe(400); // not a cursor of this kit
  });

  it('If-Match: 412 with the current row and nothing applied; the matching version applies', async () => {
    const fault = await start();
    await send('POST', '/notes', { title: 'a' });
    await send('PATCH', '/notes/srv-1', { title: 'b' });
    const refused = await send('PATCH', '/notes/srv-1', { title: 'c' }, { 'If-Match': '"1"' });
    expect(refused).toStrictEqual({
      status: 412,
      body: { error: 'precondition-failed', current: { id: 'srv-1', title: 'b', version: 2 } },
    });
    expect((await send('DELETE', '/notes/srv-1', undefined, { 'If-Match': '"1"' })).status).toBe(412);
    const applied = await send('PATCH', '/notes/srv-1', { title: 'c' }, { 'If-Match': '"2"' });
    expect(applied.body).toStrictEqual({ id: 'srv-1', title: 'c', version: 3 });
    expect(fault.applied.map((entry) => entry.method)).toStrictEqual(['POST', 'PATCH', 'PATCH']);
    expect((await send('PATCH', '/notes/srv-1', { title: 'd' }, { 'If-Match': '3' })).status).toBe(400);
  });

  it('Fluxy-Clock: per-field last writer wins, a delete older than a field loses, tombstones keep order-independence', async () => {
    const fault = await start();
    await send('POST', '/notes', { title: 'a', body: 'a' }, { 'Fluxy-Clock': clock(10) });
    // An older write sets nothing (answered with the row as stored); a newer one sets its field.
    const older = await send('PATCH', '/notes/srv-1', { title: 'old' }, { 'Fluxy-Clock': clock(5) });
    expect(older.body).toMatchObject({ title: 'a', version: 1 });
    await send('PATCH', '/notes/srv-1', { body: 'new' }, { 'Fluxy-Clock': clock(20) });
    // A delete older than a field's clock loses: 200 with the row.
    const lost = await send('DELETE', '/notes/srv-1', undefined, { 'Fluxy-Clock': clock(15) });
    expect(lost).toMatchObject({ status: 200, body: { id: 'srv-1', body: 'new' } });
    expect((await send('DELETE', '/notes/srv-1', undefined, { 'Fluxy-Clock': clock(30) })).status).toBe(204);
    // Older than the delete: 410, but the deleted row's field is set for a later comeback.
    expect((await send('PATCH', '/notes/srv-1', { title: 't25' }, { 'Fluxy-Clock': clock(25) })).status).toBe(
      410,
    );
    const back = await send('PATCH', '/notes/srv-1', { body: 'b40' }, { 'Fluxy-Clock': clock(40) });
    expect(back).toMatchObject({ status: 200, body: { title: 't25', body: 'b40' } });
    expect(fault.rows('/notes')).toHaveLength(1);
    const feed = await send('GET', '/notes?since=');
    expect(feed.body).toMatchObject({ deleted: [], clock: clock(40) });
    expect((await send('PATCH', '/notes/srv-1', { title: 'x' }, { 'Fluxy-Clock': 'soon' })).status).toBe(400);
    // A put without a clock is newer than every clock seen: it wins over clock 40.
    fault.put('/notes', { id: 'srv-1', body: 'put' });
    const afterPut = await send('PATCH', '/notes/srv-1', { body: 'late' }, { 'Fluxy-Clock': clock(41) });
    expect(afterPut.body).toMatchObject({ body: 'put' });
    // …and newer than a change a replica made before it without sending it yet, even in the same
    // millisecond: that replica's clock is at most one tick past the last clock the feed served.
    const served = parseStamp((await send('GET', '/notes?since=')).body?.clock) as ClockParts;
    const unsent = formatStamp({ time: served.time + 1, counter: 1, node: 'replica' });
    fault.put('/notes', { id: 'srv-1', title: 'put' });
    const lostTitle = await send('PATCH', '/notes/srv-1', { title: 'unsent' }, { 'Fluxy-Clock': unsent });
    expect(lostTitle.body).toMatchObject({ title: 'put' });
  });

  it('dedupes writes by Idempotency-Key, serves batches, and keeps plain paths as before', async () => {
    const fault = await FaultServer.start({ batch: '/batch', collections: { '/api/notes': {} } });
    server = fault;
    const key = { 'Idempotency-Key': 'k1' };
    const first = await send('POST', '/api/notes', { title: 'a' }, key);
    expect(await send('POST', '/api/notes', { title: 'a' }, key)).toStrictEqual(first);
    expect(fault.rows('/api/notes')).toHaveLength(1);
    const batch = await send('POST', '/batch', {
      ops: [
        { id: 'k2', method: 'PATCH', url: '/api/notes/srv-1', body: { title: 'b' } },
        { id: 'k3', method: 'DELETE', url: '/api/notes/srv-1' },
        { id: 'k4', method: 'DELETE', url: '/api/notes/srv-1' },
      ],
    });
    expect(batch.body).toStrictEqual({
      results: [
        { id: 'k2', status: 200, body: { id: 'srv-1', title: 'b', version: 2 } },
        { id: 'k3', status: 204, body: null },
        { id: 'k4', status: 410, body: { error: 'gone', message: 'The row "srv-1" was deleted.' } },
      ],
    });
    expect(await send('POST', '/other', { n: 1 })).toStrictEqual({
      status: 201,
      body: { id: 'srv-4', serverId: 'srv-4' },
    });
    expect(fault.applied.map((entry) => `${entry.method} ${entry.path}`)).toStrictEqual([
      'POST /api/notes',
      'PATCH /api/notes/srv-1',
      'DELETE /api/notes/srv-1',
      'POST /other',
    ]);
  });

  it('refuses bad collection options, unknown paths and bad clocks with invalid-argument', async () => {
    await expect(FaultServer.start({ collections: { notes: {} } })).rejects.toMatchObject({
      code: 'invalid-argument',
    });
    await expect(FaultServer.start({ collections: { '/notes': { pageSize: 0 } } })).rejects.toMatchObject({
      code: 'invalid-argument',
    });
    const fault = await start();
    expect(() => fault.rows('/other')).toThrow(/no collection at "\/other"/);
    expect(() => fault.put('/notes', { title: 'x' }, { clock: 'later' })).toThrow(/clock/);
    expect(() => fault.put('/notes', { id: 7 })).toThrow(/non-empty string/);
  });
});
