// A review of fluxy/collections (session 14): rows shown wrong for a moment or for good, the
// signals a UI shows, refused input. Each finding failed before its fix.
import { effect } from '@preact/signals-core';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createApp } from '../../src/core/app.js';
import { Collection } from '../../src/plugins/collections/index.js';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { minIterations, StoragePlugin } from '../../src/plugins/storage/index.js';
import { SyncPlugin } from '../../src/plugins/sync/index.js';
import { gate } from '../support/memory-store.js';
import { silentLogger } from '../sync/harness.js';
import {
  clockAgo,
  type Note,
  pullsOf,
  referenceServer,
  serverNotes,
  serverWrite,
  startDevice,
  until,
  withTimeout,
} from './harness.js';

/**
 * Steers the global fetch (call it before the device starts: its fetch is bound then). The
 * second pull (the first is the start-up one): `asked` opens when it is made; its request waits
 * for `request` before it reaches the server, `fetched` opens once the server answered, and the
 * answer is handed over when `page` opens. A PATCH: `patched` opens once the server answered it,
 * and the answer is handed over when `answer` opens. Every gate opens when the test ends.
 */
function steerFetch() {
  const held = {
    asked: gate(),
    request: gate(),
    fetched: gate(),
    page: gate(),
    patched: gate(),
    answer: gate(),
  };
  const realFetch = globalThis.fetch;
  let pulls = 0;
  globalThis.fetch = async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    const steered = url.includes('/api/notes?since=') && ++pulls === 2;
    if (steered) {
      held.asked.open();
      await held.request.promise;
    }
    const response = await realFetch(input, init);
    if (steered) {
      held.fetched.open();
      await held.page.promise;
    }
    if (init?.method === 'PATCH') {
      held.patched.open();
      await held.answer.promise;
    }
    return response;
  };
  onTestFinished(() => {
    globalThis.fetch = realFetch;
    for (const one of Object.values(held)) one.open();
  });
  return held;
}

/** A device that shows one note created on the server, with an update of it pending, then deleted on the server. */
async function deletedUnderAnUpdate() {
  const server = await referenceServer();
  const held = steerFetch();
  // Another device made the note two minutes ago and deleted it one minute ago: before the update.
  const note = (
    await serverWrite(server, 'POST', '/api/notes', { title: 'start', body: '' }, clockAgo(120_000))
  ).body as Note;
  const device = await startDevice({ server });
  await until(() => device.notes.items.value.length === 1, 'the start-up pull to show the note');
  device.sync.pause();
  await device.notes.update(note.id, { title: 'mine' });
  expect(
    (await serverWrite(server, 'DELETE', `/api/notes/${note.id}`, undefined, clockAgo(60_000))).status,
  ).toBe(204);
  // What the device shows of the note from now on.
  const shown: Array<string | undefined> = [];
  const stop = effect(() => {
    shown.push(device.notes.get(note.id).value?.title);
  });
  onTestFinished(stop);
  return { server, held, device, id: note.id, shown };
}

describe('review s14: a pulled deletion and an answer that brought the row back', () => {
  it('a deletion in a page asked for before the answer does not hide the row the answer restored', async () => {
    const { server, held, device, id, shown } = await deletedUnderAnUpdate();
    held.request.open();
    held.answer.open();
    const pulled = device.notes.pull();
    // The server answers the pull before the update: the note is deleted (the answer is held).
    await withTimeout(held.fetched.promise, 'the pull to be answered');
    device.sync.resume();
    // The update is newer than the deletion (last writer wins): the server brings the note back.
    await until(() => device.notes.get(id).value?.version === 2, 'the update to be answered');
    expect(device.notes.unconfirmed.value).toBe(0);
    held.page.open();
    await pulled;
    // The note was hidden until the next pull, which nothing started. Now the page is asked for
    // again, and shows the note the update brought back.
    expect(shown).not.toContain(undefined);
    expect(device.notes.items.value).toEqual(await serverNotes(server));
    expect(device.notes.get(id).value?.title).toBe('mine');
    expect(pullsOf(server).slice(1)).toEqual([
      `GET /api/notes?since=c1.${server.state.epoch}.1 → 200`,
      `GET /api/notes?since=c1.${server.state.epoch}.1 → 200`,
    ]);
  });

  it('a deletion newer than the answer, in a page asked for before it, still deletes the row', async () => {
    const { server, held, device, id, shown } = await deletedUnderAnUpdate();
    held.page.open();
    device.sync.resume();
    // The update brings the note back on the server; its answer is held.
    await withTimeout(held.patched.promise, 'the update to reach the server');
    expect((await serverWrite(server, 'DELETE', `/api/notes/${id}`)).status).toBe(204);
    const pulled = device.notes.pull();
    await withTimeout(held.asked.promise, 'the pull to be asked for');
    held.answer.open();
    await until(() => device.notes.get(id).value?.version === 2, 'the update to be answered');
    held.request.open(); // the page says deleted: the deletion made after the update
    await pulled;
    expect(pullsOf(server)).toHaveLength(3); // the page asked for again
    expect(await serverNotes(server)).toEqual([]);
    expect(device.notes.items.value).toEqual([]);
    expect(shown.at(-1)).toBeUndefined();
  });
});

describe('review s14: fields that cannot be read', () => {
  it('refuses a getter or toJSON() that throws with collections/invalid-row (the error as cause), changing nothing', async () => {
    const server = await referenceServer();
    const device = await startDevice({ server, online: false });
    const row = await device.notes.insert({ title: 'kept' });
    const before = device.notes.items.value;
    const boom = new Error('boom');
    const throwing = [
      {
        get title(): string {
          throw boom;
        },
      },
      {
        title: 'x',
        body: {
          toJSON: () => {
            throw boom;
          },
        },
      },
      {
        toJSON: () => {
          throw boom;
        },
      },
    ];
    for (const fields of throwing) {
      for (const call of [
        () => device.notes.insert(fields as never),
        () => device.notes.update(row.id, fields as never),
      ]) {
        const error = await call().then(
          () => undefined,
          (caught: unknown) => caught,
        );
        expect(error).toMatchObject({ code: 'collections/invalid-row', cause: boom });
      }
    }
    expect(device.notes.items.value).toBe(before);
    expect(await device.sync.pending()).toHaveLength(1); // the first insert alone
  });
});

describe('review s14: unconfirmed', () => {
  it('does not count an update of a row that is not shown (as pending does not list it)', async () => {
    const server = await referenceServer();
    const note = (await serverWrite(server, 'POST', '/api/notes', { title: 'start', body: '' })).body as Note;
    const device = await startDevice({ server });
    await device.notes.pull();
    device.sync.pause();
    await device.notes.update(note.id, { title: 'mine' });
    expect(device.notes.unconfirmed.value).toBe(1);
    expect(await serverWrite(server, 'DELETE', `/api/notes/${note.id}`)).toMatchObject({ status: 204 });
    await device.notes.pull();
    // Not shown, not listed in pending: nothing shown waits for the server.
    expect(device.notes.items.value).toEqual([]);
    expect(device.notes.pending.value.size).toBe(0);
    expect(device.notes.unconfirmed.value).toBe(0);
  });

  it('shows a pending update again on top of its row when a pull brings the row back', async () => {
    const server = await referenceServer();
    const note = (
      await serverWrite(server, 'POST', '/api/notes', { title: 'start', body: 'b' }, clockAgo(120_000))
    ).body as Note;
    const device = await startDevice({ server });
    await device.notes.pull();
    device.sync.pause();
    await device.notes.update(note.id, { title: 'mine' });
    await serverWrite(server, 'DELETE', `/api/notes/${note.id}`, undefined, clockAgo(60_000));
    await device.notes.pull();
    expect(device.notes.items.value).toEqual([]);
    // Another device's write, newer than the deletion, brings the note back (last writer wins).
    await serverWrite(server, 'PATCH', `/api/notes/${note.id}`, { body: 'theirs' }, clockAgo(0));
    await device.notes.pull();
    // The update is still pending: shown on top of the row the pull brought.
    expect(device.notes.get(note.id).value).toMatchObject({ title: 'mine', body: 'theirs' });
    expect(device.notes.pending.value.get(note.id)?.type).toBe('update');
    expect(device.notes.unconfirmed.value).toBe(1);
  });
});

describe('review s14: memory', () => {
  it('forgets the operations it saw answered once a listing of the outbox no longer needs them', async () => {
    const server = await referenceServer();
    // Every Map that an answered operation's id is set in with a number (the tab's settled
    // operations: id → the moment it saw them answered).
    const maps = new Map<Map<unknown, unknown>, Set<string>>();
    const realSet = Map.prototype.set;
    Map.prototype.set = function <K, V>(this: Map<K, V>, key: K, value: V) {
      if (typeof key === 'string' && typeof value === 'number') {
        const keys = maps.get(this as Map<unknown, unknown>) ?? new Set<string>();
        maps.set(this as Map<unknown, unknown>, keys.add(key));
      }
      return realSet.call(this, key, value) as Map<K, V>;
    };
    onTestFinished(() => {
      Map.prototype.set = realSet;
    });
    const tab = await startDevice({ server });
    const answered: string[] = [];
    tab.sync.on('sent', ({ operation }) => answered.push(operation.id));
    for (let n = 0; n < 5; n++) await tab.notes.insert({ title: `n${n}` });
    await until(
      () => tab.notes.unconfirmed.value === 0 && tab.sync.pendingCount.value === 0,
      'the inserts to be answered',
    );
    expect(answered).toHaveLength(5);
    Map.prototype.set = realSet;
    const settled = [...maps].filter(([, keys]) => answered.every((id) => keys.has(id))).map(([map]) => map);
    expect(settled.length).toBeGreaterThan(0);
    // Another tab's write: this tab lists the outbox again and shows it.
    const other = await startDevice({ server, disk: tab.disk, online: false });
    await other.notes.insert({ title: 'from the other tab' });
    await until(() => tab.notes.items.value.length === 6, "the other tab's insert to be shown");
    for (const map of settled) for (const id of answered) expect(map.has(id)).toBe(false);
  });
});

interface Thing extends Record<string, unknown> {
  uid: string;
  title: string;
  version: number;
}

/** A server of things keyed by `uid` (no `id` field), as a fetch function. */
function uidServer() {
  const rows = new Map<string, Thing>();
  const json = (status: number, body: unknown) =>
    new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
  return async (input: string, init?: RequestInit): Promise<Response> => {
    const method = init?.method ?? 'GET';
    if (method === 'GET')
      return json(200, { changes: [...rows.values()], deleted: [], cursor: 'c', more: false });
    if (method === 'POST') {
      const row = { ...(JSON.parse(String(init?.body)) as Thing), uid: `u${rows.size + 1}`, version: 1 };
      rows.set(row.uid, row);
      return json(201, row);
    }
    const uid = new URL(input).pathname.split('/').pop() as string;
    const current = rows.get(uid);
    if (!current) return json(404, { error: 'not-found' });
    const row = {
      ...current,
      ...(JSON.parse(String(init?.body)) as Thing),
      uid,
      version: current.version + 1,
    };
    rows.set(uid, row);
    return json(200, row);
  };
}

describe("review s14: a key other than 'id' without the SyncPlugin's serverId", () => {
  it('keeps the row a change to its temporary id could not find, and says what to configure', async () => {
    const app = createApp({ logger: silentLogger });
    app.register(
      new StoragePlugin({ name: 'uid', indexedDB: new IDBFactory(), secret: 's', iterations: minIterations }),
    );
    app.register(new ConnectivityPlugin()).setOnline(true);
    // (No serverId: 'uid'. The SyncPlugin reads the server's id from "id", which the answer lacks.)
    const sync = app.register(
      new SyncPlugin({ baseUrl: 'http://things.test/api', fetch: uidServer() as never }),
    );
    const things = app.register(
      new Collection<Thing>('things', { url: '/things', key: 'uid', pullIntervalMs: 0, locks: false }),
    );
    onTestFinished(() => app.dispose());
    await app.ready();
    const conflicts: unknown[] = [];
    things.on('conflict', (event) => conflicts.push(event));
    sync.pause();
    const row = await things.insert({ title: 'a' });
    await things.update(row.uid, { title: 'b' }); // made before the insert was answered
    sync.resume();
    // The update goes to /things/tmp_…, which the server does not know (404).
    await until(
      () => things.lastError.value !== null || things.items.value.length === 0,
      'the refused update to be decided',
    );
    // The row exists on the server: it was removed here, for good (no pull mentions it again).
    expect(things.items.value).toMatchObject([{ uid: 'u1', title: 'a' }]);
    expect(things.lastError.value?.code).toBe('collections/invalid-options');
    expect(conflicts).toEqual([]);
    await things.pull();
    expect(things.items.value).toMatchObject([{ uid: 'u1', title: 'a' }]);
    expect(sync.failedCount.value).toBe(1); // the change, to discard() (or retry() once configured)
  });
});
