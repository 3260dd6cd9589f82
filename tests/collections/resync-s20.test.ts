// A changes feed that no longer serves the stored cursor (410: it expired, or the server's data
// was reset or restored, audit 20 H1): the collection forgets its confirmed rows and pulls again
// from the first page — in every tab and across a restart —, the pending changes staying on top.
// Before, the 410 was a pull failure retried with backoff forever, and the stale rows stayed.
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { isFluxyError } from '../../src/core/errors.js';
import {
  type Note,
  pullsOf,
  referenceServer,
  serverNotes,
  serverWrite,
  startDevice,
  titles,
  until,
} from './harness.js';

/**
 * Two reference servers: `before` (where the device first pulled) and `after` (its data reset: its
 * ids and versions start again — as a server whose ids do not carry an epoch: `after`'s ids are
 * shown with `before`'s epoch, so its first note has the id of `before`'s first). Once `reset()`
 * is called, the device's requests go to `after`, and its first pull since a cursor of `before` is
 * answered 410, as a server that keeps an epoch in its cursors answers. `gone` counts those 410s.
 */
async function resetServer() {
  const before = await referenceServer();
  const after = await referenceServer();
  const state = { reset: false, gone: 0 };
  const fetch: typeof globalThis.fetch = async (input, init) => {
    let url = String(input);
    if (!state.reset) return globalThis.fetch(url, init);
    url = url.replace(before.url, after.url).replaceAll(`_${before.state.epoch}`, `_${after.state.epoch}`);
    const since = new URL(url).searchParams.get('since');
    if (since && !state.gone++)
      return new Response(JSON.stringify({ error: 'cursor-expired' }), {
        status: 410,
        headers: { 'Content-Type': 'application/json' },
      });
    const response = await globalThis.fetch(url, init);
    const text = (await response.text()).replaceAll(`_${after.state.epoch}`, `_${before.state.epoch}`);
    return new Response(response.status === 204 ? null : text, response);
  };
  const reset = () => {
    state.reset = true;
  };
  /** `after`'s notes, as the device is shown them (with `before`'s epoch in their ids). */
  const shown = async () =>
    (await serverNotes(after)).map((note) => ({
      ...note,
      id: note.id.replace(after.state.epoch, before.state.epoch),
    }));
  return { before, after, state, fetch, reset, shown };
}

const write = (server: Parameters<typeof serverWrite>[0], title: string) =>
  serverWrite(server, 'POST', '/api/notes', { title, body: '' }).then(({ body }) => body as Note);

describe('a 410 from the changes feed (the stored cursor is gone)', () => {
  it("forgets the stale rows and shows the server's, in this tab, in another and after a restart", async () => {
    const { before, after, state, fetch, reset, shown } = await resetServer();
    const a = await write(before, 'a');
    for (const title of ['a2', 'a3']) await serverWrite(before, 'PATCH', `/api/notes/${a.id}`, { title });
    await write(before, 'b');
    const disk = new IDBFactory();
    const tab = await startDevice({ server: before, disk, sync: { fetch } });
    const other = await startDevice({ server: before, disk, sync: { fetch } });
    await tab.notes.pull();
    await other.notes.pull();
    expect(titles(tab.notes.items.value)).toEqual(['a3', 'b']);
    // The reset server reuses the first id, at version 1 (the stale row is at version 3).
    const c = await write(after, 'c');
    expect(c.id.replace(after.state.epoch, before.state.epoch)).toBe(a.id);
    await write(after, 'd');
    reset();
    await tab.notes.pull();
    expect(state.gone).toBe(1);
    const rows = await shown();
    expect(tab.notes.items.value).toEqual(rows);
    expect(tab.notes.lastError.value).toBeNull();
    await until(
      () => JSON.stringify(other.notes.items.value) === JSON.stringify(rows),
      "the other tab to show the server's rows",
    );
    await tab.dispose();
    await other.dispose();
    const again = await startDevice({ server: before, disk, sync: { fetch }, online: false });
    expect(again.notes.items.value).toEqual(rows); // from the cache alone
  });

  it('keeps a pending change on top, and sends it after the pull', async () => {
    const { before, after, fetch, reset, shown } = await resetServer();
    await write(before, 'a');
    const device = await startDevice({ server: before, sync: { fetch } });
    await device.notes.pull();
    device.connectivity.setOnline(false);
    await device.notes.insert({ title: 'mine', body: '' });
    await write(after, 'theirs');
    reset();
    device.connectivity.setOnline(true);
    await device.notes.pull();
    await until(() => device.sync.pendingCount.value === 0, 'the insert to be sent');
    await device.notes.pull();
    expect(titles(await serverNotes(after))).toEqual(['theirs', 'mine']);
    expect(device.notes.items.value).toEqual(await shown());
  });

  it('against the reference server: after its data is reset, the next pull shows only the new notes', async () => {
    const server = await referenceServer();
    const old = await write(server, 'old');
    const device = await startDevice({ server });
    await device.notes.pull();
    expect(titles(device.notes.items.value)).toEqual(['old']);
    await serverWrite(server, 'POST', '/api/_reset');
    const fresh = await write(server, 'new');
    expect(fresh.id).not.toBe(old.id);
    await device.notes.pull();
    // The feed answered the stored cursor 410 cursor-expired, then served since= (empty).
    expect(pullsOf(server).slice(-2)).toEqual([
      expect.stringMatching(/^GET \/api\/notes\?since=c1\.[0-9a-z]+\.1 → 410$/),
      'GET /api/notes?since= → 200',
    ]);
    expect(device.notes.items.value).toEqual(await serverNotes(server));
    expect(device.notes.lastError.value).toBeNull();
  });

  it('a 410 to a pull from the first page is a failure, and pull() rejects with its status', async () => {
    const server = await referenceServer();
    const fetch: typeof globalThis.fetch = async () =>
      new Response('{"error":"gone"}', { status: 410, headers: { 'Content-Type': 'application/json' } });
    const device = await startDevice({ server, sync: { fetch }, online: false });
    device.connectivity.setOnline(true);
    const error = await device.notes.pull().catch((caught: unknown) => caught);
    expect(isFluxyError(error) && error.code).toBe('collections/pull-failed');
    expect((error as { status?: number }).status).toBe(410);
    expect(device.notes.lastError.value).toMatchObject({ code: 'collections/pull-failed', status: 410 });
  });
});
