import { effect } from '@preact/signals-core';
import { Collection } from 'fluxy/collections';
import { createTestApp, FaultServer, type TestApp } from 'fluxy/testing';
import { afterEach, describe, expect, it } from 'vitest';

interface Note extends Record<string, unknown> {
  id: string;
  title: string;
  version: number;
}

let server: FaultServer | undefined;
const apps: TestApp[] = [];

afterEach(async () => {
  for (const t of apps.splice(0)) await t.dispose();
  await server?.close();
  server = undefined;
});

async function device(options: Parameters<typeof createTestApp>[0]): Promise<TestApp> {
  const t = await createTestApp(options);
  apps.push(t);
  return t;
}

/** Resolves once `read()` is true (checked on every change of the signals it reads); labelled, 4 s. */
function until(read: () => boolean, label: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let stop: (() => void) | undefined;
    const timer = setTimeout(() => {
      stop?.();
      reject(new Error(`timed out after 4 s waiting for ${label}`));
    }, 4000);
    stop = effect(() => {
      if (!read()) return;
      clearTimeout(timer);
      queueMicrotask(() => stop?.());
      resolve();
    });
  });
}

// Audit 22 F6: every createTestApp() used the memory driver under the default database name, and
// the channels between tabs are named after it, so two test apps — two devices, each with its own
// memory — heard each other as tabs. Each in-memory test app now has a name of its own; a test
// that wants two tabs of one device gives them one name (the witness tabs below).
describe('createTestApp(): each app is a device of its own', () => {
  it('an offline device does not show the rows another device pulled and wrote', async () => {
    server = await FaultServer.start({ collections: { '/notes': {} } });
    const a = await device({ sync: { baseUrl: server.url } });
    const b = await device({ sync: { baseUrl: server.url }, online: false });
    // A tab of device A (its database's name): it hears A, as a tab does.
    const tabOfA = await device({
      sync: { baseUrl: server.url },
      online: false,
      storage: { name: a.storage.databaseName },
    });
    expect(a.storage.databaseName).not.toBe(b.storage.databaseName);
    const [notesA, notesB, notesTab] = [a, b, tabOfA].map((t) =>
      t.app.register(new Collection<Note>('notes', { url: '/notes', pullIntervalMs: 0 })),
    ) as [Collection<Note>, Collection<Note>, Collection<Note>];
    for (const t of [a, b, tabOfA]) await t.app.ready();
    server.put('/notes', { id: 'n1', title: 'from the server' });
    await notesA.pull();
    await notesA.insert({ title: 'made on A' });
    await a.settled();
    await until(() => notesTab.items.value.length === 2, "A's tab to show A's two rows");
    expect(notesB.items.value).toStrictEqual([]);
  });

  it('a 401 on one device does not pause another', async () => {
    server = await FaultServer.start();
    const a = await device({ sync: { baseUrl: server.url } });
    const b = await device({ sync: { baseUrl: server.url } });
    const tabOfA = await device({ sync: { baseUrl: server.url }, storage: { name: a.storage.databaseName } });
    server.script({ status: 401 });
    await a.sync.queue('POST', '/x', { body: { n: 1 } });
    await a.settled();
    expect(a.sync.status.value).toBe('paused');
    await until(() => tabOfA.sync.status.value === 'paused', "A's tab to pause with A");
    expect(b.sync.status.value).not.toBe('paused');
  });

  it('a name given is kept (a simulated restart on one IndexedDB factory still works)', async () => {
    const t = await device({ storage: { name: 'mine' } });
    expect(t.storage.databaseName).toBe('mine');
    const other = await device({});
    expect(other.storage.databaseName).toMatch(/^fluxy-test-\d+$/);
  });
});

// Audit 22 F3: script() hands its faults to the requests in the order they come, pulls included,
// so the reconnect's pull took the fault meant for a write about 1 run in 8. scriptFor() aims them.
describe('FaultServer.scriptFor(): faults for one method and/or path', () => {
  it("a write's fault is not taken by the pull that races it", async () => {
    for (let run = 0; run < 6; run++) {
      server = await FaultServer.start({ collections: { '/notes': {} } });
      const t = await device({ sync: { baseUrl: server.url, retry: { baseDelayMs: 10 } }, online: false });
      const notes = t.app.register(new Collection<Note>('notes', { url: '/notes' }));
      await t.app.ready();
      await notes.insert({ title: 'a' });
      server.scriptFor({ method: 'post', path: '/notes' }, 'drop-after');
      t.goOnline();
      await t.settled({ collections: ['notes'] });
      const posts = server.received.filter((request) => request.method === 'POST');
      expect(posts, `run ${run}`).toHaveLength(2); // dropped after it was applied, then replayed
      expect(server.applied, `run ${run}`).toHaveLength(1);
      expect(notes.items.value.map((row) => row.title)).toStrictEqual(['a']);
      for (const done of apps.splice(0)) await done.dispose();
      await server.close();
      server = undefined;
    }
  });

  it('aims by path without the query, by method in any case; other requests take script() faults first', async () => {
    server = await FaultServer.start();
    server.scriptFor({ path: '/b' }, { status: 503 });
    server.script({ status: 418 });
    const answers: number[] = [];
    for (const [method, path] of [
      ['GET', '/a'],
      ['PUT', '/b?x=1'],
      ['GET', '/b'],
    ] as const)
      answers.push(
        (await fetch(`${server.url}${path}`, { method, body: method === 'PUT' ? '{}' : null })).status,
      );
    expect(answers).toStrictEqual([418, 503, 200]);
  });

  it('refuses a target without a method or path, of another shape, and after close()', async () => {
    server = await FaultServer.start();
    const refused = { code: 'invalid-argument' };
    for (const target of [
      {},
      { method: '' },
      { path: 'notes' },
      { method: 1 },
      { verb: 'POST' },
      null,
      'POST',
    ])
      expect(() => server?.scriptFor(target as never, 'ok'), JSON.stringify(target)).toThrow(
        expect.objectContaining(refused),
      );
    expect(() => server?.scriptFor({ method: 'POST' }, { status: 99 })).toThrow(
      expect.objectContaining(refused),
    );
    await server.close();
    expect(() => server?.scriptFor({ method: 'POST' }, 'ok')).toThrow(expect.objectContaining(refused));
    server = undefined;
  });
});

// Audit 22 F4: the kit's collection set fields by assignment (a field named "__proto__" changed
// the row's prototype and vanished) and kept no clock for a write without Fluxy-Clock (docs: such
// a write gets the server's clock, as the reference server does).
describe("FaultServer's collection: fields are data, and a write without a clock gets the server's", () => {
  const raw = (text: string) => JSON.parse(text) as Record<string, unknown>;

  it('keeps a field named __proto__ or constructor, from put() and from a POST or PATCH', async () => {
    server = await FaultServer.start({ collections: { '/notes': {} } });
    const put = server.put('/notes', raw('{"id":"p","__proto__":{"a":1},"title":"t"}'));
    expect(Object.keys(put)).toContain('__proto__');
    const posted = await fetch(`${server.url}/notes`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"__proto__":{"b":2},"constructor":"c"}',
    });
    expect(posted.status).toBe(201);
    const row = raw(await posted.text());
    expect(Object.getOwnPropertyDescriptor(row, '__proto__')?.value).toStrictEqual({ b: 2 });
    expect(row.constructor).toBe('c');
    const patched = await fetch(`${server.url}/notes/p`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json' },
      body: '{"__proto__":{"a":3}}',
    });
    expect(Object.getOwnPropertyDescriptor(raw(await patched.text()), '__proto__')?.value).toStrictEqual({
      a: 3,
    });
    const rows = server.rows('/notes');
    expect(rows.map((r) => Object.getOwnPropertyDescriptor(r, '__proto__')?.value)).toStrictEqual([
      { a: 3 },
      { b: 2 },
    ]);
    expect(rows.every((r) => Object.getPrototypeOf(r) === Object.prototype)).toBe(true);
  });

  it('a write without Fluxy-Clock is stamped: an older clock that comes after it does not win', async () => {
    server = await FaultServer.start({ collections: { '/notes': {} } });
    // A device's stamp from a minute ago, in the kit's format.
    const old = server.put('/notes', { id: 'n', title: 'first' }, { clock: stampAt(Date.now() - 60_000) });
    expect(old.title).toBe('first');
    const patch = (body: object, headers: Record<string, string> = {}) =>
      fetch(`${server?.url}/notes/n`, {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    expect((await patch({ title: 'admin tool' })).status).toBe(200); // no clock: the server's, now
    await patch({ title: 'late device' }, { 'Fluxy-Clock': stampAt(Date.now() - 30_000) });
    expect(server.rows('/notes')[0]?.title).toBe('admin tool');
    // A clockless delete is dated now too: the same late write does not bring the row back.
    expect((await fetch(`${server.url}/notes/n`, { method: 'DELETE' })).status).toBe(204);
    await patch({ title: 'later device' }, { 'Fluxy-Clock': stampAt(Date.now() - 20_000) });
    expect(server.rows('/notes')).toStrictEqual([]);
  });
});

/** A hybrid logical clock stamp for `ms` (the format Collection's clock writes). */
function stampAt(ms: number): string {
  return `${ms.toString(36).padStart(9, '0')}-0000-test`;
}
