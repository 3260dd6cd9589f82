// A new user's review of fluxy/collections: the promises of README, docs/collections.md and
// docs/conflicts.md, tried through the public entries against the reference server.
import { effect, signal } from '@preact/signals-core';
import { IDBFactory, IDBObjectStore } from 'fake-indexeddb';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createApp } from '../../src/core/app.js';
import { isFluxyError } from '../../src/core/errors.js';
import { formatStamp } from '../../src/plugins/collections/clock.js';
import { Collection, type CollectionOptions } from '../../src/plugins/collections/index.js';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { minIterations, StoragePlugin } from '../../src/plugins/storage/index.js';
import { SyncPlugin } from '../../src/plugins/sync/index.js';
import { gate } from '../support/memory-store.js';
import { expectQuiet, silentLogger } from '../sync/harness.js';
import {
  clockAgo,
  code,
  holdAbAndAbc,
  idle,
  type Note,
  pullsOf,
  referenceServer,
  serverNotes,
  serverWrite,
  startDevice,
  titles,
  twoDevices,
  typeAbc,
  until,
  withTimeout,
} from './harness.js';

/** A fetch whose next answer to a request matching `pattern` the test replaces (a broken server). */
function tamperingFetch() {
  const rules: Array<{ pattern: RegExp; answer: () => Response; times: number }> = [];
  const seen: string[] = [];
  const fetchFunction = async (input: string, init?: RequestInit): Promise<Response> => {
    const line = `${init?.method ?? 'GET'} ${new URL(input).pathname}${new URL(input).search}`;
    seen.push(line);
    const rule = rules.find((candidate) => candidate.times > 0 && candidate.pattern.test(line));
    const response = await fetch(input, init);
    if (!rule) return response;
    rule.times--;
    await response.text(); // the server did its part (a write is applied); its answer is replaced
    return rule.answer();
  };
  const replace = (pattern: RegExp, answer: () => Response, times = 1) =>
    rules.push({ pattern, answer, times });
  return { fetch: fetchFunction, replace, seen };
}

/** A device like the harness's, with a tampering fetch and a disk the test can start again. */
async function tamperedDevice(
  server: Awaited<ReturnType<typeof referenceServer>>,
  options: { disk?: IDBFactory; collection?: Partial<CollectionOptions<Note>>; online?: boolean } = {},
) {
  const wire = tamperingFetch();
  const disk = options.disk ?? new IDBFactory();
  const app = createApp({ logger: silentLogger });
  app.register(
    new StoragePlugin({ name: 'review', indexedDB: disk, secret: 's', iterations: minIterations }),
  );
  const connectivity = app.register(new ConnectivityPlugin());
  connectivity.setOnline(options.online ?? true);
  const sync = app.register(
    new SyncPlugin({
      baseUrl: `${server.url}/api`,
      fetch: wire.fetch as never,
      retry: { baseDelayMs: 5, maxDelayMs: 20 },
    }),
  );
  const notes = app.register(
    new Collection<Note>('notes', { url: '/notes', pullIntervalMs: 0, locks: false, ...options.collection }),
  );
  onTestFinished(() => app.dispose());
  await app.ready();
  return { app, disk, connectivity, sync, notes, wire };
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
const text = (status: number, body: string) =>
  new Response(body, { status, headers: { 'Content-Type': 'text/plain' } });

describe('review: input validation', () => {
  it('refuses cycles, deep values, non-object patches, removed and unknown rows, a second remove', async () => {
    const server = await referenceServer();
    const device = await startDevice({ server, online: false });
    const cyclic: Record<string, unknown> = { title: 'x' };
    cyclic.self = cyclic;
    expect(await code(device.notes.insert(cyclic as never))).toBe('collections/invalid-row');
    let deep: Record<string, unknown> = {};
    for (let n = 0; n < 400; n++) deep = { nested: deep };
    expect(await code(device.notes.insert(deep as never))).toBe('collections/invalid-row');
    expect(await code(device.notes.insert(new Date() as never))).toBe('collections/invalid-row');
    expect(await code(device.notes.insert('title' as never))).toBe('collections/invalid-row');
    const row = await device.notes.insert({ title: 'a', body: '' });
    for (const patch of [null, 'x', 5, ['title'], new Date(), undefined]) {
      expect(await code(device.notes.update(row.id, patch as never)), String(patch)).toBe(
        'collections/invalid-row',
      );
    }
    expect(await code(device.notes.update(null as never, { title: 'b' }))).toBe('invalid-argument');
    await device.notes.remove(row.id);
    expect(await code(device.notes.remove(row.id))).toBe('collections/unknown-row');
    expect(await code(device.notes.update(row.id, { title: 'b' }))).toBe('collections/unknown-row');
    // Two removes in the same frame: the second is refused, one operation is queued.
    const other = await device.notes.insert({ title: 'c', body: '' });
    const [first, second] = await Promise.allSettled([
      device.notes.remove(other.id),
      code(device.notes.remove(other.id)),
    ]);
    expect(first.status).toBe('fulfilled');
    expect(second).toEqual({ status: 'fulfilled', value: 'collections/unknown-row' });
    expect(device.sync.pendingCount.value).toBe(4);
    expect(device.notes.items.value).toEqual([]);
    device.connectivity.setOnline(true);
    await idle(device);
    expect(await serverNotes(server)).toEqual([]);
    expect(await device.sync.failed()).toEqual([]);
  });

  it('an insert with a caller-given id is refused even when it collides with a shown row', async () => {
    const server = await referenceServer();
    const created = (await serverWrite(server, 'POST', '/api/notes', { title: 's', body: '' })).body as Note;
    const device = await startDevice({ server });
    await device.notes.pull();
    expect(await code(device.notes.insert({ id: created.id, title: 'dup' } as never))).toBe(
      'collections/invalid-row',
    );
    expect(device.notes.items.value).toEqual([created]);
  });

  it('pullIntervalMs: 1000 is taken; a value setInterval cannot hold (over 2^31 - 1 ms) is refused', async () => {
    expect(() => new Collection('notes', { url: '/notes', pullIntervalMs: 1000 })).not.toThrow();
    for (const pullIntervalMs of [999, Number.NaN, 2 ** 31, 1e12, Number.POSITIVE_INFINITY]) {
      expect(
        await code(() => new Collection('notes', { url: '/notes', pullIntervalMs })),
        String(pullIntervalMs),
      ).toBe('collections/invalid-options');
    }
  });
});

describe('review: option names', () => {
  it("refuses a key or clientIdField every object has ('constructor'…): `key in fields` refused every insert", async () => {
    for (const name of ['constructor', 'toString', 'hasOwnProperty', '__proto__']) {
      expect(await code(() => new Collection('notes', { url: '/notes', key: name })), name).toBe(
        'collections/invalid-options',
      );
      expect(await code(() => new Collection('notes', { url: '/notes', clientIdField: name })), name).toBe(
        'collections/invalid-options',
      );
    }
    expect(
      () => new Collection('notes', { url: '/notes', key: 'uuid', clientIdField: 'clientId' }),
    ).not.toThrow();
  });
});

describe('review: get(id) and items', () => {
  it('get(tmpId) notifies once for the answer, and a removed id stays undefined after a re-insert', async () => {
    const server = await referenceServer();
    const device = await startDevice({ server, online: false });
    const row = await device.notes.insert({ title: 'a', body: '' });
    const values: Array<Note | undefined> = [];
    const stop = effect(() => {
      values.push(device.notes.get(row.id).value);
    });
    onTestFinished(stop);
    device.connectivity.setOnline(true);
    await idle(device);
    await device.notes.pull();
    const [stored] = await serverNotes(server);
    expect(values).toEqual([row, stored]);
    expect(device.notes.get(row.id).value).toBe(device.notes.get(stored?.id as string).value);
    await device.notes.remove(row.id);
    expect(values.at(-1)).toBeUndefined();
    await idle(device);
    const again = await device.notes.insert({ title: 'a', body: '' });
    expect(again.id).not.toBe(row.id);
    expect(device.notes.get(row.id).value).toBeUndefined();
    expect(values).toHaveLength(3);
  });

  it('keeps the order of items stable: pending inserts in the order made, then sorted by server id', async () => {
    const server = await referenceServer();
    const device = await startDevice({ server, online: false });
    for (const title of ['c', 'a', 'b']) await device.notes.insert({ title, body: '' });
    expect(titles(device.notes.items.value)).toEqual(['c', 'a', 'b']);
    device.connectivity.setOnline(true);
    await idle(device);
    expect(titles(device.notes.items.value)).toEqual(['c', 'a', 'b']);
    const epoch = server.state.epoch;
    expect(device.notes.items.value.map((note) => note.id)).toEqual([1, 2, 3].map((n) => `n_${n}_${epoch}`));
    await device.notes.pull();
    expect(device.notes.items.value).toEqual(await serverNotes(server));
  });
});

describe('review: restarts', () => {
  it('at every step of insert → answer → pull, a restart shows the row once', async () => {
    const server = await referenceServer();
    const first = await startDevice({ server, online: false });
    const row = await first.notes.insert({ title: 'x', body: '' });
    await first.dispose();
    const second = await startDevice({ server, disk: first.disk, online: false }); // queued
    expect(titles(second.notes.items.value)).toEqual(['x']);
    expect(second.notes.get(row.id).value?.title).toBe('x');
    second.sync.pause();
    second.connectivity.setOnline(true);
    await until(() => second.notes.lastPulledAt.value !== null, 'the pull on reconnect');
    second.sync.resume();
    await idle(second);
    await second.dispose();
    const third = await startDevice({ server, disk: first.disk, online: false }); // answered, not pulled
    expect(third.notes.items.value).toEqual(await serverNotes(server));
    expect(third.notes.unconfirmed.value).toBe(0);
    third.connectivity.setOnline(true);
    await third.notes.pull();
    await third.dispose();
    const fourth = await startDevice({ server, disk: first.disk, online: false }); // pulled
    expect(fourth.notes.items.value).toEqual(await serverNotes(server));
  });

  it('dispose() while writes and a pull are in flight, then a new app on the same disk, loses nothing', async () => {
    const server = await referenceServer({ feedPageSize: 2 });
    for (let n = 0; n < 9; n++) await serverWrite(server, 'POST', '/api/notes', { title: `s${n}`, body: '' });
    const first = await startDevice({ server });
    for (let n = 0; n < 5; n++) void first.notes.insert({ title: `l${n}`, body: '' });
    await until(() => first.sync.pendingCount.value === 5, 'the inserts to be queued');
    void first.notes.pull().catch(() => {});
    await first.dispose();
    const second = await startDevice({ server, disk: first.disk });
    await idle(second);
    // Answers the first app stored but did not apply are applied at start-up, asynchronously.
    await until(() => second.notes.unconfirmed.value === 0, 'the stored answers to be applied');
    await second.notes.pull();
    const rows = await serverNotes(server);
    expect(rows).toHaveLength(14);
    expect(second.notes.items.value).toEqual(rows);
  });
});

describe('review: failed changes', () => {
  it('a refused insert drops out of items, comes back on retry(), and discard() forgets it', async () => {
    const server = await referenceServer();
    const device = await startDevice({ server });
    await device.notes.insert({ title: 'y'.repeat(300), body: '' });
    await until(() => device.sync.failedCount.value === 1, 'the insert to fail');
    expect(device.notes.items.value).toEqual([]);
    expect(device.notes.unconfirmed.value).toBe(0);
    const [failed] = await device.sync.failed();
    device.sync.pause();
    await device.sync.retry(failed?.id);
    await until(() => device.notes.items.value.length === 1, 'the retried insert to show again');
    device.sync.resume();
    await until(() => device.sync.failedCount.value === 1, 'the retried insert to fail again');
    expect(device.notes.items.value).toEqual([]);
    await device.sync.discard(failed?.id as string);
    expect(device.notes.items.value).toEqual([]);
    await device.notes.pull();
    expect(device.notes.items.value).toEqual([]);
  });

  it('an offline edit of a row deleted on the server: a conflict with server null, the row gone (server-wins)', async () => {
    const server = await referenceServer();
    const created = (await serverWrite(server, 'POST', '/api/notes', { title: 's', body: '' })).body as Note;
    const device = await startDevice({ server, collection: { conflict: 'server-wins' } });
    await device.notes.pull();
    const conflicts: unknown[] = [];
    let conflict = new Promise((resolve) => device.notes.on('conflict', resolve));
    device.notes.on('conflict', (event) => conflicts.push(event));
    device.sync.pause(); // the PATCH goes before any pull sees the deletion
    await device.notes.update(created.id, { title: 'mine' });
    await serverWrite(server, 'DELETE', `/api/notes/${created.id}`);
    device.sync.resume();
    await idle(device);
    // local: the row as this replica showed it with its change (not the patch alone).
    expect(await withTimeout(conflict, 'the conflict')).toEqual({
      id: created.id,
      local: { ...created, title: 'mine' },
      server: null,
      resolution: 'dropped',
      result: null,
    });
    expect(device.notes.items.value).toEqual([]);
    // Offline, then online: the pull on reconnect may see the deletion before the PATCH's 410.
    const other = (await serverWrite(server, 'POST', '/api/notes', { title: 't', body: '' })).body as Note;
    await device.notes.pull();
    conflict = new Promise((resolve) => device.notes.on('conflict', resolve));
    device.connectivity.setOnline(false);
    await device.notes.update(other.id, { title: 'mine' });
    await serverWrite(server, 'DELETE', `/api/notes/${other.id}`);
    device.connectivity.setOnline(true);
    await idle(device);
    expect(await withTimeout(conflict, 'the second conflict')).toMatchObject({
      id: other.id,
      local: { id: other.id, title: 'mine' },
      server: null,
      resolution: 'dropped',
    });
    expect(conflicts).toHaveLength(2);
    expect(device.notes.items.value).toEqual([]);
    expect(device.sync.failedCount.value).toBe(0);
  });
});

describe('review: a server answering garbage', () => {
  it('pulls: non-JSON, wrong shapes, missing or non-string ids → collections/bad-response, the cache kept, no loop', async () => {
    const server = await referenceServer();
    await serverWrite(server, 'POST', '/api/notes', { title: 'kept', body: '' });
    const device = await tamperedDevice(server);
    await device.notes.pull();
    const kept = device.notes.items.value;
    expect(titles(kept)).toEqual(['kept']);
    const page = { changes: [], deleted: [], cursor: 'zz', more: false };
    for (const answer of [
      () => text(200, 'not json'),
      () => json(200, null),
      () => json(200, []),
      () => json(200, { ...page, changes: [{ title: 'no id' }] }),
      // (A number is an id, taken as its string: see ids-s21.test.ts.)
      () => json(200, { ...page, changes: [{ id: true, title: 'boolean id' }] }),
      () => json(200, { ...page, changes: [null] }),
      () => json(200, { ...page, deleted: [false] }),
      () => json(200, { ...page, cursor: 5 }),
      () => json(200, { ...page, more: 'no' }),
      () => json(200, { ...page, clock: 5 }),
    ]) {
      device.wire.replace(/^GET \/api\/notes\?since=/, answer);
      const before = device.wire.seen.length;
      expect(await code(device.notes.pull())).toBe('collections/bad-response');
      expect(device.wire.seen.length - before).toBe(1);
      expect(device.notes.lastError.value?.code).toBe('collections/bad-response');
      expect(device.notes.items.value).toBe(kept);
    }
    await device.notes.pull();
    expect(device.notes.lastError.value).toBeNull();
    expect(device.notes.items.value).toEqual(await serverNotes(server));
  });

  it('writes: an answer without a row (non-JSON, no id, 204) starts a pull, which brings the row', async () => {
    const server = await referenceServer();
    const device = await tamperedDevice(server);
    await device.notes.pull();
    device.wire.replace(/^POST \/api\/notes$/, () => text(201, 'created!'));
    await device.notes.insert({ title: 'a', body: '' });
    await idle(device);
    await until(() => titles(device.notes.items.value).join() === 'a', 'the row to show');
    const [stored] = await serverNotes(server);
    device.wire.replace(/^PATCH /, () => json(200, { title: 'no id' }));
    await device.notes.update(stored?.id as string, { title: 'b' });
    expect(titles(device.notes.items.value)).toEqual(['b']);
    await idle(device);
    await until(() => titles(device.notes.items.value).join() === 'b', 'the updated row to show');
    expect(device.notes.items.value).toEqual(await serverNotes(server));
  });
});

describe('review: known gaps', () => {
  it('(b) an answer for a row a pull saw deleted starts one pull, not two', async () => {
    const server = await referenceServer();
    // Another device wrote the note two minutes ago and deleted it one minute ago: before this
    // device's update, which is newer.
    const created = (
      await serverWrite(server, 'POST', '/api/notes', { title: 'v1', body: 'b' }, clockAgo(120_000))
    ).body as Note;
    const device = await startDevice({ server });
    await device.notes.pull();
    device.sync.pause();
    await device.notes.update(created.id, { title: 'mine' });
    await serverWrite(server, 'DELETE', `/api/notes/${created.id}`, undefined, clockAgo(60_000));
    await device.notes.pull();
    const pullsBefore = pullsOf(server).length;
    device.sync.resume();
    await idle(device);
    await until(() => device.notes.items.value.length === 1, 'the row brought back to show');
    await until(() => !device.notes.isPulling.value, 'the pull to end');
    // A second pull would be one asked for during the first (started once the first's conflicts
    // check, after isPulling went false, is done): no event says that none was, and pull() or a
    // dispose would hide it (one pulls anyway, the other stops the pulls): a bounded window.
    await expectQuiet('a second pull after the answer', () => pullsOf(server).length, { windowMs: 200 });
    expect(pullsOf(server).length - pullsBefore).toBe(1);
  });

  it('two collections on the same url keep their own rows and kinds and see each other after a pull', async () => {
    const server = await referenceServer();
    const app = createApp({ logger: silentLogger });
    app.register(new StoragePlugin({ driver: 'memory' }));
    app.register(new ConnectivityPlugin());
    const sync = app.register(new SyncPlugin({ baseUrl: `${server.url}/api` }));
    const a = app.register(new Collection<Note>('a', { url: '/notes', pullIntervalMs: 0, locks: false }));
    const b = app.register(new Collection<Note>('b', { url: '/notes/', pullIntervalMs: 0, locks: false }));
    onTestFinished(() => app.dispose());
    await app.ready();
    const row = await a.insert({ title: 'from a', body: '' });
    expect(titles(b.items.value)).toEqual([]);
    await idle({ sync });
    await b.pull();
    expect(b.items.value).toEqual(a.items.value);
    await b.update(a.get(row.id).value?.id as string, { title: 'from b' });
    await idle({ sync });
    await a.pull();
    expect(titles(a.items.value)).toEqual(['from b']);
    expect(a.items.value).toEqual(b.items.value);
  });
});

/**
 * One device (server-wins or client-wins) showing one note, whose fetch the test steers: 'ab' is
 * held before it is sent; pulls made once 'ab' was refused wait until the server applied 'abc';
 * what happens to the answer to 'abc' is the test's (`afterAbc`).
 */
async function refusedWhileOwnWriteInFlight(
  conflict: 'server-wins' | 'client-wins',
  afterAbc: (response: Response, signal: AbortSignal) => Promise<Response>,
  decided = gate(),
) {
  const held = holdAbAndAbc(afterAbc);
  const server = await referenceServer();
  const created = (await serverWrite(server, 'POST', '/api/notes', { title: 'start', body: 'b' }))
    .body as Note;
  const device = await startDevice({ server, collection: { conflict } });
  await device.notes.pull();
  const conflicts: unknown[] = [];
  device.notes.on('conflict', (event) => conflicts.push(event));
  return { server, device, conflicts, ...(await typeAbc(device, created.id, held, decided)) };
}

describe('review: a 412 refused for own writes only', () => {
  it("(a) 'abc' applied, its answer lost and retried after a backoff: no conflict, and client-wins does not undo 'abc'", async () => {
    let lost = false;
    const decided = gate();
    const { server, device, conflicts } = await refusedWhileOwnWriteInFlight(
      'client-wins',
      async (response) => {
        if (lost) return response;
        lost = true;
        await withTimeout(decided.promise, 'resolving to wait for the answer to abc');
        await response.text();
        throw new TypeError('fetch failed'); // applied on the server, the answer lost: retried with backoff
      },
      decided,
    );
    await idle(device);
    await until(() => device.sync.failedCount.value === 0, 'the refusal to be resolved');
    await device.notes.pull();
    await idle(device);
    const [row] = await serverNotes(server);
    expect(row).toMatchObject({ title: 'abc' });
    expect(conflicts).toEqual([]);
    expect(device.notes.items.value).toEqual([row]);
  });

  it("(b) a 412 whose current row this replica's own applied write made is decided from it at once: nothing resent, no conflict", async () => {
    // 'a' applied (version 2), 'ab' made on version 1 refused with version 2 as its current row,
    // 'abc' (made on version 2) held before it is sent until the refusal is decided: decided from
    // the 412's row alone ('a' leads from 1 to 2), the title 'abc' sets is not resent.
    const ab = gate();
    const abReached = gate();
    const abc = gate();
    onTestFinished(() => {
      ab.open();
      abc.open();
    });
    const patches: string[] = [];
    const patchesSent = signal(0); // (for until(): it watches signals, not the array)
    const realFetch = globalThis.fetch;
    globalThis.fetch = async (input, init) => {
      const title = init?.method === 'PATCH' && (JSON.parse(String(init.body)) as Note).title;
      if (title) {
        patches.push(title);
        patchesSent.value++;
      }
      if (title === 'ab') {
        abReached.open();
        await ab.promise;
      }
      if (title === 'abc') await abc.promise;
      return realFetch(input, init);
    };
    onTestFinished(() => {
      globalThis.fetch = realFetch;
    });
    const server = await referenceServer();
    const created = (await serverWrite(server, 'POST', '/api/notes', { title: 'start', body: 'b' }))
      .body as Note;
    const device = await startDevice({ server, collection: { conflict: 'client-wins' } });
    await device.notes.pull();
    const conflicts: unknown[] = [];
    device.notes.on('conflict', (event) => conflicts.push(event));
    device.sync.pause();
    await device.notes.update(created.id, { title: 'a' });
    await device.notes.update(created.id, { title: 'ab' }); // made on version 1 too
    device.sync.resume();
    await withTimeout(abReached.promise, "'ab' to be sent after 'a' was answered");
    await device.notes.update(created.id, { title: 'abc' }); // made on version 2
    ab.open();
    // Decided while 'abc' waits to be sent (were it waiting for the outbox's next answer, this
    // would time out): 'ab' gone from the outbox, not resent, only 'abc' left.
    await until(
      () =>
        device.sync.pendingCount.value === 1 &&
        device.sync.failedCount.value === 0 &&
        patchesSent.value === 3,
      "the 412 to be decided while 'abc' is held",
    );
    expect(device.notes.get(created.id).value?.title).toBe('abc');
    abc.open();
    await idle(device);
    const [row] = await serverNotes(server);
    expect(row).toMatchObject({ title: 'abc', version: 3 });
    expect(patches).toEqual(['a', 'ab', 'abc']);
    expect(conflicts).toEqual([]);
    expect(device.notes.items.value).toEqual([row]);
  });

  it("(c) dispose() does not wait for the outbox's next answer that resolving waits for", async () => {
    const answer = gate();
    // The answer to 'abc' is slow (it comes when the test says, or when the request is aborted).
    const { device, decided } = await refusedWhileOwnWriteInFlight(
      'server-wins',
      async (response, signal) => {
        await new Promise((resolve) => {
          answer.promise.then(resolve);
          signal.addEventListener('abort', resolve);
        });
        if (signal.aborted) throw new DOMException('aborted', 'AbortError');
        return response;
      },
    );
    onTestFinished(() => answer.open());
    await decided;
    await withTimeout(device.dispose(), 'dispose while resolving waits for an answer', 2000);
  });
});

describe('review: dispose()', () => {
  it("does not wait for another tab's pull when pull() waits for the lock (Web Locks' signal)", async () => {
    const server = await referenceServer();
    const otherTab = gate(); // another tab holds the pull lock until this opens
    onTestFinished(() => otherTab.open());
    const waiting = gate();
    // Web Locks as the browser has them, for what a collection asks: a held lock.
    const locks = {
      async request(
        _name: string,
        options: { ifAvailable?: boolean; signal?: AbortSignal },
        callback: (lock: unknown) => Promise<unknown>,
      ) {
        if (options.signal && options.ifAvailable)
          throw new DOMException('signal with ifAvailable', 'NotSupportedError');
        if (options.ifAvailable) return callback(null);
        waiting.open();
        await new Promise<void>((resolve, reject) => {
          otherTab.promise.then(resolve);
          options.signal?.addEventListener('abort', () => reject(options.signal?.reason));
        });
        return callback({});
      },
    };
    const device = await startDevice({ server, collection: { locks } });
    const pulled = device.notes.pull().then(
      () => 'pulled',
      (error: unknown) => (isFluxyError(error) ? error.code : String(error)),
    );
    await withTimeout(waiting.promise, 'pull() to wait for the lock');
    await withTimeout(device.dispose(), 'dispose while pull() waits for the lock', 2000);
    expect(await pulled).toBe('app/disposed');
  });

  it('on() after dispose() throws app/disposed, as sync.on() does (it accepted the handler)', async () => {
    const server = await referenceServer();
    const device = await startDevice({ server });
    const off = device.notes.on('conflict', () => {});
    await device.dispose();
    off(); // an unsubscribe from before still works
    expect(await code(() => device.notes.on('conflict', () => {}))).toBe('app/disposed');
    expect(await code(() => device.sync.on('change', () => {}))).toBe('app/disposed');
  });
});

describe('review: conflict events', () => {
  it("'lww': local holds this replica's change that lost, not the server's row", async () => {
    const { server, id, a, b } = await twoDevices();
    const created = { id };
    const conflict = new Promise((resolve) => a.notes.on('conflict', resolve));
    a.connectivity.setOnline(false);
    await a.notes.update(created.id, { title: 'older, from a' });
    await b.notes.update(created.id, { title: 'newer, from b' });
    await idle(b);
    a.connectivity.setOnline(true);
    await idle(a);
    const [row] = await serverNotes(server);
    expect(await withTimeout(conflict, 'the conflict')).toEqual({
      id: created.id,
      local: { ...row, title: 'older, from a' },
      server: row,
      resolution: 'lww',
      result: row,
    });
  });
});

describe('review: a restart around an answer', () => {
  // dispose() started when the outbox reports the answer (in the event, a microtask or a task
  // later) or its first change: the answer is then stored, or not yet, or the request cut.
  for (const when of ['sent event', 'sent + microtask', 'sent + task', 'first change']) {
    for (const kind of ['insert', 'update', 'remove'] as const) {
      it(`${kind}, disposed at its ${when}: the next app shows the server's rows, once`, async () => {
        const server = await referenceServer();
        const setup = await startDevice({ server });
        const made = await setup.notes.insert({ title: 'x', body: '' });
        await idle(setup);
        const id = setup.notes.get(made.id).value?.id as string;
        await setup.dispose();
        const first = await startDevice({ server, disk: setup.disk });
        let disposing: Promise<void> | undefined;
        const started = gate();
        const stop = () => {
          disposing ??= first.dispose();
          started.open();
        };
        if (when === 'first change') first.sync.on('change', stop);
        else
          first.sync.on('sent', () => {
            if (when === 'sent event') stop();
            else if (when === 'sent + microtask') queueMicrotask(stop);
            else setTimeout(stop, 0);
          });
        if (kind === 'insert') await first.notes.insert({ title: 'y', body: '' });
        else if (kind === 'update') await first.notes.update(id, { title: 'z' });
        else await first.notes.remove(id);
        await withTimeout(started.promise, 'dispose to start');
        await disposing;
        const second = await startDevice({ server, disk: setup.disk });
        await idle(second);
        await second.notes.pull();
        await until(() => second.notes.unconfirmed.value === 0, 'every change to be confirmed');
        const rows = await serverNotes(server);
        expect(rows.map((row) => row.title)).toEqual({ insert: ['x', 'y'], update: ['z'], remove: [] }[kind]);
        expect(second.notes.items.value).toEqual(rows);
        await second.dispose();
        const third = await startDevice({ server, disk: setup.disk, online: false });
        expect(third.notes.items.value).toEqual(rows);
      });
    }
  }
});

describe("review: 'lww' conflicts a later change of this replica settles", () => {
  it('an older edit that lost a field which a later pending edit of this replica sets again is no conflict', async () => {
    const { server, id, a, b, conflicts } = await twoDevices();
    const created = { id };
    a.connectivity.setOnline(false);
    await a.notes.update(created.id, { title: 'a, first' });
    await b.notes.update(created.id, { title: 'b' }); // newer than a's first edit
    await idle(b);
    await a.notes.update(created.id, { title: 'a, last' }); // newer than b's
    a.connectivity.setOnline(true);
    await idle(a);
    await a.notes.pull();
    expect((await serverNotes(server))[0]).toMatchObject({ title: 'a, last' });
    expect(conflicts).toEqual([]); // before: 'lww' for the first edit, although the user's last value won
  });
});

describe('review: an answer handled after a pull that saw a newer state', () => {
  it("a removal's answer does not delete a row the feed brought back (a newer write elsewhere) since", async () => {
    // The answer to this device's DELETE is held after the server applied it; meanwhile a newer
    // write from elsewhere brings the row back (last writer wins) and a pull of this device sees it.
    const held = gate();
    const deleted = gate();
    const realFetch = globalThis.fetch;
    globalThis.fetch = async (input, init) => {
      const response = await realFetch(input, init);
      if (init?.method === 'DELETE') {
        deleted.open();
        await held.promise;
      }
      return response;
    };
    onTestFinished(() => {
      globalThis.fetch = realFetch;
      held.open();
    });
    const server = await referenceServer();
    const created = (await serverWrite(server, 'POST', '/api/notes', { title: 'start', body: 'b' }))
      .body as Note;
    const device = await startDevice({ server });
    await device.notes.pull();
    await device.notes.remove(created.id);
    await withTimeout(deleted.promise, 'the DELETE to be applied');
    const newer = formatStamp({ time: Date.now() + 60_000, counter: 0, node: 'elsewhere' });
    expect(
      (
        await serverWrite(
          server,
          'PATCH',
          `/api/notes/${created.id}`,
          { title: 'back' },
          { 'Fluxy-Clock': newer },
        )
      ).status,
    ).toBe(200);
    await device.notes.pull(); // the cursor moves past the row brought back
    held.open(); // now the 204 of the DELETE
    await idle(device);
    await until(() => device.notes.items.value.length === 1, 'the row the feed brought back to show');
    await device.notes.pull();
    expect(device.notes.items.value).toEqual(await serverNotes(server));
    expect(device.notes.items.value[0]).toMatchObject({ title: 'back' });
  });
});

describe('review: a refused call changes nothing', () => {
  it('a write whose clock cannot be stored is not reported refused once it is queued (it is sent and shown)', async () => {
    const server = await referenceServer();
    const device = await startDevice({ server, online: false });
    const put = IDBObjectStore.prototype.put;
    IDBObjectStore.prototype.put = function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
      if (typeof key === 'string' && key.includes('collection-notes/clock')) {
        throw new DOMException('planted: the disk is full', 'QuotaExceededError');
      }
      return put.call(this, value, key);
    } as typeof put;
    let row: Note;
    try {
      // Before: rejected with storage/quota-exceeded, and yet queued, sent and shown a moment later.
      row = await device.notes.insert({ title: 'x', body: '' });
    } finally {
      IDBObjectStore.prototype.put = put;
    }
    expect(titles(device.notes.items.value)).toEqual(['x']);
    device.connectivity.setOnline(true);
    await idle(device);
    await device.notes.pull();
    expect(device.notes.get(row.id).value).toEqual((await serverNotes(server))[0]);
  });
});
