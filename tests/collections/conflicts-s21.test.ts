// Session 21, an audit of the collections' conflict path:
// 1. an outbox operation is the collection's only at a path boundary (`/notes` is not `/notes2`);
// 2. the record of a write of this replica (`w/…`) is chained, and its failure reported;
// 3. one damaged or hostile record stops no other refusal from being decided;
// 4. the server's row a 412 carries is shown in every tab, not only in the one that handled it;
// 5. conflict events fire in every tab of the origin, once each.
import { effect, signal } from '@preact/signals-core';
import { IDBFactory, IDBObjectStore } from 'fake-indexeddb';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Logger } from '../../src/core/logger.js';
import { Collection, type ConflictEvent } from '../../src/plugins/collections/index.js';
import type { StoragePlugin } from '../../src/plugins/storage/index.js';
import { TestLockManager } from '../support/lock-manager.js';
import { idle, type Note, referenceServer, serverWrite, startDevice, until, untimed } from './harness.js';

type Device = Awaited<ReturnType<typeof startDevice>>;

/** The collection's storage namespace of `device` (what the collection stores, decrypted). */
const storeOf = (device: Device, name = 'notes') =>
  (device.app.use('storage') as unknown as StoragePlugin).namespace(`collection-${name}`);

/** The conflict events `device` hears, as a signal (an until() predicate can watch it). */
function conflictsOf(device: Device) {
  const events = signal<Array<ConflictEvent<Note>>>([]);
  device.notes.on('conflict', (event) => {
    events.value = [...events.value, event];
  });
  return events;
}

/** Warnings logged, with their code (the logger's 2nd argument). */
function recordingLogger() {
  const warnings: unknown[][] = [];
  const logger: Logger = { debug() {}, info() {}, warn: (...args) => warnings.push(args), error() {} };
  return { logger, warnings };
}

/**
 * Counts the puts of keys that contain `fragment`; with `fail`, each of them fails (a full disk).
 * Restored when the test ends.
 */
function watchPuts(fragment: string, fail = false): { attempts: number } {
  const counter = { attempts: 0 };
  const put = IDBObjectStore.prototype.put;
  IDBObjectStore.prototype.put = function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
    if (typeof key === 'string' && key.includes(fragment)) {
      counter.attempts++;
      if (fail) throw new DOMException('planted: the disk is full', 'QuotaExceededError');
    }
    return put.call(this, value, key);
  } as typeof put;
  onTestFinished(() => {
    IDBObjectStore.prototype.put = put;
  });
  return counter;
}

/** Every error `device`'s lastError showed, as `code cause-code` (a pull after may clear it). */
function errorsOf(device: Device): string[] {
  const seen: string[] = [];
  const stop = effect(() => {
    const error = device.notes.lastError.value;
    if (error)
      seen.push(`${error.code} ${(error.cause as { code?: string } | undefined)?.code ?? ''}`.trim());
  });
  onTestFinished(stop);
  return seen;
}

/** A server with one note, and a wall clock that moves forward at every reading (shared by the devices). */
async function oneNote() {
  const server = await referenceServer();
  const created = (await serverWrite(server, 'POST', '/api/notes', { title: 'start', body: 'b' }))
    .body as Note;
  let last = 0;
  const now = () => {
    last = Math.max(Date.now(), last + 1);
    return last;
  };
  return { server, id: created.id, now };
}

describe('1. an operation is the collection’s only at a path boundary', () => {
  it("a failed operation of /notes2 does not keep /notes's memory of its writes (w/ records) for ever", async () => {
    const { server, id } = await oneNote();
    const device = await startDevice({ server, collection: { conflict: 'server-wins' } });
    await device.notes.pull();
    // Another collection whose path starts like this one's: its insert is refused (the reference
    // server has no /api/notes2), and stays in sync.failed().
    const notes2 = device.app.register(
      new Collection<Note>('notes2', { url: '/notes2', pullIntervalMs: untimed, locks: false }),
    );
    const refused = signal(0);
    device.sync.on('failed', () => refused.value++);
    await notes2.insert({ title: 'elsewhere' });
    await until(() => refused.value === 1, 'the insert of /notes2 to be refused');
    expect((await device.sync.failed()).map((operation) => 'url' in operation && operation.url)).toEqual([
      '/notes2',
    ]);

    const puts = watchPuts('collection-notes/w/');
    await device.notes.update(id, { title: 'mine' });
    await idle(device);
    // Nothing of /notes is pending or refused: the next resolving run forgets the records.
    await device.notes.pull();
    // (The answer stored a record of the write, for a refusal that it would explain.)
    expect(puts.attempts).toBe(1);
    expect(await storeOf(device).keys('w/')).toEqual([]);
  });
});

describe('2. the record of a write of this replica (w/…)', () => {
  it('is reported in lastError (collections/conflict-failed, storage’s error as cause) and warned when storage refuses it', async () => {
    const { server, id } = await oneNote();
    const { logger, warnings } = recordingLogger();
    const device = await startDevice({ server, logger, collection: { conflict: 'server-wins' } });
    await device.notes.pull();
    const puts = watchPuts('collection-notes/w/', true);
    await device.notes.update(id, { title: 'mine' });
    await until(() => device.notes.lastError.value !== null, 'the failed w/ write to be reported');
    expect(puts.attempts).toBeGreaterThan(0);
    expect(device.notes.lastError.value).toMatchObject({
      code: 'collections/conflict-failed',
      cause: { code: 'storage/quota-exceeded' },
    });
    expect(device.notes.lastError.value?.message).toContain(id);
    expect(warnings.some((args) => args[1] === 'collections/conflict-failed')).toBe(true);
    // The write itself went through, and is shown.
    await idle(device);
    expect(device.notes.items.value[0]).toMatchObject({ title: 'mine', version: 2 });
  });
});

describe('3. one damaged or hostile record stops no other', () => {
  it('a damaged w/ record: a real conflict is still decided (server-wins), its refusal no longer failed', async () => {
    const { server, id, now } = await oneNote();
    const device = await startDevice({ server, collection: { conflict: 'server-wins', now } });
    await device.notes.pull();
    const events = conflictsOf(device);
    // A record this version never writes (another version's, damaged): not an array.
    await storeOf(device).set('w/0000000000-damaged', 42);
    device.connectivity.setOnline(false);
    await device.notes.update(id, { title: 'mine' });
    await serverWrite(server, 'PATCH', `/api/notes/${id}`, { title: 'theirs' });
    device.connectivity.setOnline(true);
    await until(() => events.value.length === 1, 'the conflict to be decided');
    expect(events.value[0]).toMatchObject({ id, resolution: 'server-wins', server: { title: 'theirs' } });
    await idle(device);
    await until(() => device.sync.failedCount.value === 0, 'the refusal to be discarded');
    expect(device.notes.items.value[0]).toMatchObject({ title: 'theirs' });
  });

  it("a 412 whose row has a version an If-Match cannot carry: not taken (decided from the pulled row), and the next row's conflict is decided too", async () => {
    const server = await referenceServer();
    const first = (await serverWrite(server, 'POST', '/api/notes', { title: 'one', body: '' })).body as Note;
    const second = (await serverWrite(server, 'POST', '/api/notes', { title: 'two', body: '' })).body as Note;
    // The first row's 412 answers with a version that cannot go in an If-Match header (a hostile
    // or broken server). Until session 22 the row was taken, and its client-wins resend refused
    // by queue() (sync/invalid-headers, reported as collections/conflict-failed); now the row is
    // not taken, and the refusal is decided from the row the pull after it brings (fixes-s22).
    const realFetch = globalThis.fetch;
    const steered: typeof fetch = async (input, init) => {
      const response = await realFetch(input, init);
      if (
        init?.method === 'PATCH' &&
        String(input).endsWith(`/api/notes/${first.id}`) &&
        response.status === 412
      ) {
        const body = (await response.json()) as { current: Note };
        body.current = { ...body.current, version: '2\n' as unknown as number };
        return new Response(JSON.stringify(body), { status: 412, headers: response.headers });
      }
      return response;
    };
    const device = await startDevice({
      server,
      collection: { conflict: 'client-wins' },
      sync: { fetch: steered },
    });
    await device.notes.pull();
    const events = conflictsOf(device);
    const errors = errorsOf(device);
    device.connectivity.setOnline(false);
    await device.notes.update(first.id, { title: 'one, mine' });
    await device.notes.update(second.id, { title: 'two, mine' });
    await serverWrite(server, 'PATCH', `/api/notes/${first.id}`, { title: 'one, theirs' });
    await serverWrite(server, 'PATCH', `/api/notes/${second.id}`, { title: 'two, theirs' });
    device.connectivity.setOnline(true);
    await until(() => events.value.length === 2, 'both conflicts to be decided');
    expect(events.value.map((event) => [event.id, event.resolution]).sort()).toEqual(
      [
        [first.id, 'client-wins'],
        [second.id, 'client-wins'],
      ].sort(),
    );
    expect(errors).toEqual([]);
    await idle(device);
    // Both changes were sent again and applied; nothing stays failed.
    const rows = (await (await realFetch(`${server.url}/api/notes`)).json()) as Note[];
    expect(rows.map((row) => row.title)).toEqual(['one, mine', 'two, mine']);
    expect(await device.sync.failed()).toEqual([]);
  });
});

/** Two tabs of one disk (`a` sends: it took the outbox's lock first) and another device `c`. */
async function twoTabs(conflict: 'lww' | 'server-wins', aFetch?: typeof fetch) {
  const { server, id, now } = await oneNote();
  const disk = new IDBFactory();
  const sync = { locks: new TestLockManager() };
  const a = await startDevice({
    server,
    disk,
    collection: { conflict, now },
    sync: aFetch ? { ...sync, fetch: aFetch } : sync,
  });
  const b = await startDevice({ server, disk, collection: { conflict, now }, sync });
  const c = await startDevice({ server, collection: { conflict, now } });
  for (const device of [a, b, c]) await device.notes.pull();
  return { server, id, a, b, c };
}

describe('4. the server’s row that a 412 carries', () => {
  it('is shown in the other tabs too, even when the pull after it fails', async () => {
    // Tab a's pulls fail once its update was refused: only the 412's row can show the server's.
    let refused = false;
    const realFetch = globalThis.fetch;
    const aFetch: typeof fetch = async (input, init) => {
      if (refused && String(input).includes('/api/notes?since='))
        throw new TypeError('planted: network lost');
      const response = await realFetch(input, init);
      if (init?.method === 'PATCH' && response.status === 412) refused = true;
      return response;
    };
    const { id, a, b, c } = await twoTabs('server-wins', aFetch);
    const aEvents = conflictsOf(a);
    const shownInB: string[] = [];
    const rowInB = b.notes.get(id);
    const stop = effect(() => {
      const title = rowInB.value?.title;
      if (title !== undefined && title !== shownInB.at(-1)) shownInB.push(title);
    });
    onTestFinished(stop);
    await c.notes.update(id, { title: 'theirs' });
    await idle(c);
    await a.notes.update(id, { title: 'mine' }); // on version 1: refused (412 with version 2)
    await until(() => aEvents.value.length === 1, 'the conflict to be decided in tab a');
    expect(a.notes.get(id).value).toMatchObject({ title: 'theirs', version: 2 });
    await until(() => rowInB.value?.title === 'theirs', "tab b to show the server's row");
    expect(b.notes.get(id).value).toMatchObject({ title: 'theirs', version: 2 });
    // Never back to the row the 412 replaced.
    expect(shownInB.slice(shownInB.indexOf('start') + 1)).not.toContain('start');
  });
});

describe('5. conflict events in every tab', () => {
  it('server-wins: the deciding tab emits it, each other tab once, with the same payload; no tab decides it again', async () => {
    const { server, id, a, b, c } = await twoTabs('server-wins');
    const aEvents = conflictsOf(a);
    const bEvents = conflictsOf(b);
    const second = (await serverWrite(server, 'POST', '/api/notes', { title: 'second', body: '' }))
      .body as Note;
    for (const device of [a, b, c]) await device.notes.pull();
    for (const [index, row] of [id, second.id].entries()) {
      await c.notes.update(row, { title: `${row}: theirs` });
      await idle(c);
      await a.notes.update(row, { title: `${row}: mine` }); // refused: a had not pulled c's change
      await until(
        () => aEvents.value.length === index + 1 && bEvents.value.length === index + 1,
        `conflict ${index + 1} in both tabs`,
      );
    }
    // Once each, in order (the messages of one tab arrive in order: a copy of the first would
    // have come before the second).
    expect(aEvents.value.map((event) => [event.id, event.resolution])).toEqual([
      [id, 'server-wins'],
      [second.id, 'server-wins'],
    ]);
    expect(bEvents.value).toEqual(aEvents.value);
    // Decided once: one discard, nothing resent, nothing failed in either tab.
    await idle(a);
    expect(a.sync.failedCount.value).toBe(0);
    expect(b.sync.failedCount.value).toBe(0);
    expect(server.requests.filter((line) => line.startsWith('PATCH') && line.endsWith('200'))).toHaveLength(
      2,
    ); // c's
  });

  it('lww: the conflict an answer shows is heard in the other tab too, once', async () => {
    const { id, a, b, c } = await twoTabs('lww');
    const aEvents = conflictsOf(a);
    const bEvents = conflictsOf(b);
    a.connectivity.setOnline(false);
    await a.notes.update(id, { title: 'mine' }); // stamped before c's change
    await c.notes.update(id, { title: 'theirs' });
    await idle(c);
    a.connectivity.setOnline(true);
    await until(() => aEvents.value.length === 1, 'the lww conflict in tab a');
    await until(() => bEvents.value.length === 1, 'the lww conflict in tab b');
    expect(aEvents.value[0]).toMatchObject({ id, resolution: 'lww', server: { title: 'theirs' } });
    expect(bEvents.value).toEqual(aEvents.value);
  });
});
