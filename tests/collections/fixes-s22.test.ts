// Session 22, fixes in fluxy/collections:
// 1. a row `version` an If-Match header cannot carry (CR, LF…) is refused where it comes in — a
//    pulled page (collections/bad-response), a write's answer (taken as an answer without the
//    row), a 412's row (decided after the next pull) —, so no later update()/remove() of the row
//    fails with sync/invalid-headers;
// 2. a refusal whose handling fails part-way (a storage write that throws once) is kept and
//    decided again, never dropped: its change is not lost, and not sent twice;
// 3. the development messages of refused fields name the field (`patch.title`, `the row`) and
//    say `undefined` for undefined;
// 4. every tab's lastPulledAt follows a pull that another tab made.
import { signal } from '@preact/signals-core';
import { IDBFactory, IDBObjectStore } from 'fake-indexeddb';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { ConflictEvent } from '../../src/plugins/collections/index.js';
import { TestLockManager } from '../support/lock-manager.js';
import {
  code,
  idle,
  type Note,
  referenceServer,
  serverNotes,
  serverWrite,
  startDevice,
  until,
} from './harness.js';

type Device = Awaited<ReturnType<typeof startDevice>>;
type Server = Awaited<ReturnType<typeof referenceServer>>;

/** A server with one note, created by another client (version 1). */
async function oneNote() {
  const server = await referenceServer();
  const created = (await serverWrite(server, 'POST', '/api/notes', { title: 'start', body: 'b' }))
    .body as Note;
  return { server, id: created.id };
}

/**
 * A fetch over the real one whose answers `steer` may replace (given the request, the real
 * answer and its JSON body, when it has one); restored when the test ends.
 */
function steeredFetch(
  steer: (method: string, url: string, response: Response, body: unknown) => unknown,
): typeof fetch {
  const realFetch = globalThis.fetch;
  return async (input, init) => {
    const response = await realFetch(input, init);
    const text = await response.text();
    const body: unknown = text ? JSON.parse(text) : undefined;
    const replaced = steer(init?.method ?? 'GET', String(input), response, body);
    return new Response(replaced === undefined ? text || null : JSON.stringify(replaced), {
      status: response.status,
      headers: response.headers,
    });
  };
}

/** The conflict events `device` hears, as a signal (an until() predicate can watch it). */
function conflictsOf(device: Device) {
  const events = signal<Array<ConflictEvent<Note>>>([]);
  device.notes.on('conflict', (event) => {
    events.value = [...events.value, event];
  });
  return events;
}

/**
 * From now on, the first IndexedDB `put` or `delete` of a key that starts with `prefix` throws
 * (as a write storage refuses once: a full disk a moment, an aborted transaction); the next ones
 * go through. `failed` says whether it happened. Restored when the test ends.
 */
function failOnce(method: 'put' | 'delete', prefix: string): { failed: boolean } {
  const state = { failed: false };
  const real = IDBObjectStore.prototype[method] as (...args: unknown[]) => IDBRequest;
  IDBObjectStore.prototype[method] = function (this: IDBObjectStore, ...args: unknown[]) {
    const key = method === 'put' ? args[1] : args[0];
    if (!state.failed && typeof key === 'string' && key.startsWith(prefix)) {
      state.failed = true;
      throw new DOMException(`planted: ${method} of ${key} refused once`, 'QuotaExceededError');
    }
    return real.apply(this, args);
  } as never;
  onTestFinished(() => {
    IDBObjectStore.prototype[method] = real as never;
  });
  return state;
}

/** The applied mutations of note `id` (the server's log) that set its title to `title`. */
async function appliedTitles(server: Server, id: string, title: string): Promise<number> {
  const log = (await (await fetch(`${server.url}/api/_log`)).json()) as Array<{
    method: string;
    path: string;
    body?: { title?: string };
  }>;
  return log.filter(
    (entry) => entry.method === 'PATCH' && entry.path.endsWith(`/${id}`) && entry.body?.title === title,
  ).length;
}

describe('1. a version an If-Match header cannot carry', () => {
  const bad = '2\r\nX-Injected: yes';

  it('in a pulled page: the page is refused (collections/bad-response, naming the field), the row stays as it was and can be changed', async () => {
    const { server, id } = await oneNote();
    let steering = false;
    const device = await startDevice({
      server,
      collection: { conflict: 'server-wins' },
      sync: {
        fetch: steeredFetch((method, url, _response, body) => {
          if (!steering || method !== 'GET' || !url.includes('/api/notes?since=')) return undefined;
          const page = body as { changes: Note[] };
          return { ...page, changes: page.changes.map((row) => ({ ...row, version: bad })) };
        }),
      },
    });
    await device.notes.pull();
    await serverWrite(server, 'PATCH', `/api/notes/${id}`, { body: 'elsewhere' });
    steering = true;
    expect(await code(device.notes.pull())).toBe('collections/bad-response');
    expect(device.notes.lastError.value?.message).toContain('changes[0].version is "2\\r\\nX-Injected: yes"');
    expect(device.notes.get(id).value).toMatchObject({ version: 1, body: 'b' });
    // The row as it was can be changed: its If-Match is "1" (a 412, decided: server-wins).
    steering = false;
    await device.notes.update(id, { title: 'mine' });
    await idle(device);
    await device.notes.pull();
    expect(device.notes.get(id).value).toMatchObject({ version: 2, body: 'elsewhere', title: 'start' });
    expect(device.sync.failedCount.value).toBe(0);
  });

  it("in a write's answer: taken as an answer without the row (a pull shows the server's), so the next update() is sent", async () => {
    const { server, id } = await oneNote();
    const device = await startDevice({
      server,
      collection: { conflict: 'client-wins' },
      sync: {
        fetch: steeredFetch((method, _url, response, body) =>
          method === 'PATCH' && response.status === 200 ? { ...(body as Note), version: bad } : undefined,
        ),
      },
    });
    await device.notes.pull();
    await device.notes.update(id, { title: 'one' });
    await idle(device);
    // The answer's row is not shown with that version: the pull after it brings version 2.
    await until(() => device.notes.get(id).value?.version === 2, 'the pull after the answer');
    expect(device.notes.get(id).value).toMatchObject({ title: 'one' });
    // Sent with If-Match "2" (before, queue() refused it: sync/invalid-headers).
    await device.notes.update(id, { title: 'two' });
    await idle(device);
    expect((await serverNotes(server))[0]).toMatchObject({ title: 'two', version: 3 });
    expect(device.sync.failedCount.value).toBe(0);
  });

  it("in a 412's row: decided from the row the next pull brings, and the change is sent again (client-wins)", async () => {
    const { server, id } = await oneNote();
    const device = await startDevice({
      server,
      collection: { conflict: 'client-wins' },
      sync: {
        fetch: steeredFetch((method, _url, response, body) => {
          if (method !== 'PATCH' || response.status !== 412) return undefined;
          const refusal = body as { current: Note };
          return { ...refusal, current: { ...refusal.current, version: bad } };
        }),
      },
    });
    await device.notes.pull();
    const events = conflictsOf(device);
    device.connectivity.setOnline(false);
    await device.notes.update(id, { title: 'mine' });
    await serverWrite(server, 'PATCH', `/api/notes/${id}`, { title: 'theirs' });
    device.connectivity.setOnline(true);
    await until(() => events.value.length === 1, 'the conflict to be decided');
    expect(events.value[0]).toMatchObject({ id, resolution: 'client-wins', server: { version: 2 } });
    await idle(device);
    expect((await serverNotes(server))[0]).toMatchObject({ title: 'mine', version: 3 });
    expect(device.sync.failedCount.value).toBe(0);
    expect(device.notes.lastError.value).toBeNull();
    expect(device.notes.get(id).value?.version).not.toBe(bad);
  });
});

describe('2. a refusal whose handling fails part-way is decided again, not dropped', () => {
  /** A device (client-wins) whose offline change of the note is refused (412) once it is online. */
  async function refusedChange() {
    const { server, id } = await oneNote();
    const device = await startDevice({ server, collection: { conflict: 'client-wins' } });
    await device.notes.pull();
    const events = conflictsOf(device);
    device.connectivity.setOnline(false);
    await device.notes.update(id, { title: 'mine' });
    await serverWrite(server, 'PATCH', `/api/notes/${id}`, { title: 'theirs' });
    return { server, id, device, events };
  }

  it('the resend cannot be queued once (storage refuses the outbox write): sent after the next pull, not lost', async () => {
    const { server, id, device, events } = await refusedChange();
    const fault = failOnce('put', 'sync/p/'); // the resend's record in the outbox
    device.connectivity.setOnline(true);
    await until(() => device.notes.lastError.value?.code === 'collections/conflict-failed', 'the failure');
    expect(fault.failed).toBe(true);
    expect(events.value).toEqual([]);
    // Decided again after the next pull: sent on the server's version.
    await device.notes.pull();
    await until(() => events.value.length === 1, 'the conflict to be decided again');
    expect(events.value[0]).toMatchObject({ id, resolution: 'client-wins' });
    await idle(device);
    expect((await serverNotes(server))[0]).toMatchObject({ title: 'mine', version: 3 });
    expect(device.sync.failedCount.value).toBe(0);
    expect(await appliedTitles(server, id, 'mine')).toBe(1);
  });

  it('the refused change cannot be discarded once: the resend is applied once, also after sync.retry()', async () => {
    const { server, id, device, events } = await refusedChange();
    const fault = failOnce('delete', 'sync/f/'); // the discard of the refused operation
    device.connectivity.setOnline(true);
    await until(() => device.notes.lastError.value?.code === 'collections/conflict-failed', 'the failure');
    expect(fault.failed).toBe(true);
    await idle(device); // the resend, queued before the failed discard, is applied
    expect(await appliedTitles(server, id, 'mine')).toBe(1);
    // What the report says to do: retry() (it is refused again) — decided, not sent again.
    await device.sync.retry();
    await idle(device);
    await device.notes.pull();
    await until(() => device.sync.failedCount.value === 0, 'the refusal to be decided again');
    await idle(device);
    expect(await appliedTitles(server, id, 'mine')).toBe(1);
    expect((await serverNotes(server))[0]).toMatchObject({ title: 'mine' });
    // (Decided as client-wins; the refusal that retry() made again is reported again.)
    expect(events.value.length).toBeGreaterThan(0);
    expect(events.value.every((event) => event.resolution === 'client-wins')).toBe(true);
  });

  it("the refusal cannot be stored once (x/ record): decided from this tab's memory, not dropped", async () => {
    const { server, id, device, events } = await refusedChange();
    const fault = failOnce('put', 'collection-notes/x/');
    device.connectivity.setOnline(true);
    await until(() => events.value.length === 1, 'the conflict to be decided');
    expect(fault.failed).toBe(true);
    expect(events.value[0]).toMatchObject({ id, resolution: 'client-wins' });
    await idle(device);
    await device.notes.pull();
    expect((await serverNotes(server))[0]).toMatchObject({ title: 'mine', version: 3 });
    expect(device.sync.failedCount.value).toBe(0);
  });
});

describe('3. the messages of refused fields (development build)', () => {
  async function device() {
    const { server, id } = await oneNote();
    const started = await startDevice({ server });
    await started.notes.pull();
    return { notes: started.notes, id };
  }
  const messageOf = async (call: () => Promise<unknown>): Promise<string> => {
    try {
      await call();
    } catch (error) {
      expect((error as { code?: string }).code).toBe('collections/invalid-row');
      return (error as Error).message;
    }
    throw new Error('expected a refusal');
  };

  it('name the field under its argument (patch.title, fields.title) and say undefined for undefined', async () => {
    const { notes, id } = await device();
    expect(await messageOf(() => notes.update(id, { title: undefined } as never))).toBe(
      'notes.update(id, patch): the patch sets patch.title to undefined, which JSON would drop (use null to clear a field).',
    );
    expect(await messageOf(() => notes.insert({ title: undefined } as never))).toBe(
      'notes.insert(fields): the row sets fields.title to undefined, which JSON would drop (use null to clear a field).',
    );
    expect(await messageOf(() => notes.update(id, { title: Number.NaN } as never))).toBe(
      'notes.update(id, patch): patch.title is NaN, which JSON cannot hold.',
    );
    expect(await messageOf(() => notes.insert({ body: { tags: [1, undefined] } } as never))).toBe(
      'notes.insert(fields): fields.body.tags[1] is undefined, which JSON would turn into null.',
    );
  });

  it('name the value itself "the row" (an insert) or "the patch", and say what it is', async () => {
    const { notes, id } = await device();
    expect(await messageOf(() => notes.insert(new Map() as never))).toBe(
      'notes.insert(fields): the row is a Map, which JSON would not keep.',
    );
    expect(await messageOf(() => notes.insert(undefined as never))).toBe(
      'notes.insert(fields): the row is undefined: pass a plain object of fields, each holding a JSON value (use null to clear a field).',
    );
    // (What the fields' own toJSON() returned is what is described.)
    expect(await messageOf(() => notes.insert({ toJSON: () => undefined } as never))).toContain(
      'the row is undefined:',
    );
    expect(await messageOf(() => notes.update(id, 'x' as never))).toBe(
      'notes.update(id, patch): the patch is "x": pass a plain object of fields, each holding a JSON value (use null to clear a field).',
    );
    const throwing = {
      get title(): string {
        throw new Error('boom');
      },
    };
    expect(await messageOf(() => notes.update(id, throwing as never))).toBe(
      'notes.update(id, patch): the patch could not be read (boom): pass plain data.',
    );
  });
});

describe("4. every tab's lastPulledAt follows the pull another tab made", () => {
  it("a pull of tab a sets tab b's lastPulledAt (and b shows the rows)", async () => {
    const { server } = await oneNote();
    const disk = new IDBFactory();
    const sync = { locks: new TestLockManager() };
    const a = await startDevice({ server, disk, sync });
    const b = await startDevice({ server, disk, sync });
    await a.notes.pull();
    await b.notes.pull();
    const before = b.notes.lastPulledAt.value as number;
    const created = (await serverWrite(server, 'POST', '/api/notes', { title: 'second', body: '' }))
      .body as Note;
    await a.notes.pull();
    const pulledAt = a.notes.lastPulledAt.value as number;
    expect(pulledAt).toBeGreaterThan(before);
    await until(() => b.notes.get(created.id).value !== undefined, "tab b to show a's pulled row");
    await until(() => b.notes.lastPulledAt.value === pulledAt, "tab b's lastPulledAt to follow a's pull");
  });
});
