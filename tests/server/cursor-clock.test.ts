// The collections contract under data resets and clock skew (docs/server-contract.md, "The
// changes feed"): the feed's cursors carry the data's epoch, so a cursor from before a reset or a
// restore is answered 410 cursor-expired (the client then pulls again from since=); note ids carry
// it too, so a note made after a reset never takes an old note's id; a write stamped more than 5
// minutes ahead of the server is refused (400 clock-ahead); a write without a stamp gets the
// server's, so last writer wins still holds against it. Each test failed on the server before.
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Note, RunningServer } from '../../examples/server/server.mjs';
import { getJson, send, startServer, tempDir } from './helpers.js';

interface Page {
  changes: Note[];
  deleted: string[];
  cursor: string;
  more: boolean;
  clock?: string;
}

const MINUTE = 60_000;
const T = Date.UTC(2030, 0, 1);

/** A `Fluxy-Clock` stamp at `ms`, as another device's clock would make it. */
const stamp = (ms: number, counter = 0) =>
  `${ms.toString(36).padStart(9, '0')}-${counter.toString(36).padStart(4, '0')}-d3v1ce`;

const feed = (server: RunningServer, since: string) =>
  send(server, 'GET', `/api/notes?since=${encodeURIComponent(since)}`);

async function page(server: RunningServer, since: string): Promise<Page> {
  return getJson<Page>(server, `/api/notes?since=${encodeURIComponent(since)}`);
}

async function post(
  server: RunningServer,
  title: string,
  headers: Record<string, string> = {},
): Promise<Note> {
  const response = await send(server, 'POST', '/api/notes', { title }, { headers });
  expect(response.status).toBe(201);
  return (await response.json()) as Note;
}

async function expectExpired(response: Response): Promise<void> {
  expect(response.status).toBe(410);
  const body = (await response.json()) as { error: string; message: string };
  expect(body.error).toBe('cursor-expired');
  expect(body.message).toMatch(/since=/);
}

describe('the changes feed across a reset', () => {
  it('answers a cursor from before a reset 410 cursor-expired; since= serves the new data, and its cursors work', async () => {
    const server = await startServer();
    await post(server, 'old a');
    await post(server, 'old b');
    const before = await page(server, '');
    expect(before.cursor).toBe(`c1.${server.state.epoch}.2`);
    const oldEpoch = server.state.epoch;

    expect((await send(server, 'POST', '/api/_reset')).status).toBe(204);
    expect(server.state.epoch).not.toBe(oldEpoch);
    await post(server, 'new');
    // Before: 200 with nothing in it (seq 2 > the new data's 1): the device kept the old notes.
    await expectExpired(await feed(server, before.cursor));
    const fresh = await page(server, '');
    expect(fresh.changes.map((note) => note.title)).toEqual(['new']);
    expect(fresh.cursor).toBe(`c1.${server.state.epoch}.1`);
    await post(server, 'newer');
    expect((await page(server, fresh.cursor)).changes.map((note) => note.title)).toEqual(['newer']);

    // What is no cursor of this server stays 400 invalid-cursor.
    for (const bad of ['x', 'c1.', 'c1..1', 'c2.abc.1', 'c1.ABC.1', `c1.${server.state.epoch}.1.2`]) {
      const response = await feed(server, bad);
      expect(response.status, bad).toBe(400);
      expect(await response.json()).toMatchObject({ error: 'invalid-cursor' });
    }
  });

  it('answers 410 a cursor ahead of the data (restored from an older backup) and a cursor from before epochs', async () => {
    const dir = await tempDir();
    const dataFile = join(dir, 'db.json');
    const backup = join(dir, 'backup.json');
    let server = await startServer({ dataFile });
    await post(server, 'a');
    await copyFile(dataFile, backup);
    await post(server, 'b');
    const { cursor } = await page(server, '');
    expect(cursor).toBe(`c1.${server.state.epoch}.2`);
    await server.close();
    await copyFile(backup, dataFile);
    server = await startServer({ dataFile });
    // Before: 200, empty, and the note written next (seq 2 again) was never pulled.
    await expectExpired(await feed(server, cursor));
    expect((await page(server, '')).changes.map((note) => note.title)).toEqual(['a']);

    // A data file written before epochs, and a device's cursor from then (`c1.<seq>`).
    await server.close();
    const old = { version: 1, nextNoteNumber: 2, notes: [], nextSeq: 1, log: [], keys: {}, changeSeq: 1 };
    await writeFile(dataFile, JSON.stringify(old));
    server = await startServer({ dataFile });
    expect(server.state.epoch).toMatch(/^[0-9a-z]{6}$/);
    await expectExpired(await feed(server, 'c1.1'));
    expect((await page(server, '')).cursor).toBe(`c1.${server.state.epoch}.1`);
  });

  it('never gives a new note the id of a note from before a reset (nor of another store)', async () => {
    const server = await startServer();
    const before = [await post(server, 'a'), await post(server, 'b')].map((note) => note.id);
    await send(server, 'POST', '/api/_reset');
    const after = [await post(server, 'c'), await post(server, 'd')].map((note) => note.id);
    // Before: n_1 and n_2 again, so a device's stale n_1 and its deletion met the new n_1.
    expect(after.filter((id) => before.includes(id))).toEqual([]);
    expect(after[0]).toBe(`n_1_${server.state.epoch}`);
    // The old ids are unknown now (404), not the new notes.
    expect((await send(server, 'GET', `/api/notes/${before[0]}`)).status).toBe(404);

    // A new store (a wiped data file) starts another epoch too.
    const other = await startServer();
    expect((await post(other, 'e')).id).not.toBe(after[0]);
  });
});

describe('Fluxy-Clock against the server clock', () => {
  it('refuses a write stamped a day ahead (400 clock-ahead) and stores nothing; 4 minutes ahead is taken', async () => {
    const server = await startServer({ now: () => T });
    const note = await post(server, 'start', { 'Fluxy-Clock': stamp(T) });
    const snapshot = () => ({
      notes: structuredClone(server.state.notes),
      log: server.state.log.length,
      keys: Object.keys(server.state.keys),
    });
    const before = snapshot();
    const feedBefore = await page(server, '');
    const ahead = { 'Fluxy-Clock': stamp(T + 24 * 60 * MINUTE) };
    for (const [method, path, body] of [
      ['POST', '/api/notes', { title: 'future' }],
      ['PATCH', `/api/notes/${note.id}`, { title: 'future' }],
      ['PUT', `/api/notes/${note.id}`, { title: 'future' }],
      ['DELETE', `/api/notes/${note.id}`, undefined],
    ] as const) {
      const response = await send(server, method, path, body, { headers: ahead, key: `k-${method}` });
      expect(response.status, method).toBe(400);
      const error = (await response.json()) as { error: string; message: string };
      expect(error.error).toBe('clock-ahead');
      expect(error.message).toMatch(/5 minutes ahead/);
    }
    // In a batch: the op is refused, and the batch stops there.
    const batch = await send(server, 'POST', '/api/batch', {
      ops: [
        { id: 'b1', method: 'PATCH', url: `/api/notes/${note.id}`, headers: ahead, body: { body: 'x' } },
        { id: 'b2', method: 'POST', url: '/api/notes', body: { title: 'after' } },
      ],
    });
    expect(((await batch.json()) as { results: unknown[] }).results).toMatchObject([
      { id: 'b1', status: 400, body: { error: 'clock-ahead' } },
    ]);
    expect({ ...snapshot(), keys: [] }).toEqual({ ...before, keys: [] });
    expect(await page(server, '')).toEqual(feedBefore); // nor its clock

    // Within 5 minutes: taken (a device's clock a little ahead is normal).
    const soon = await send(
      server,
      'PATCH',
      `/api/notes/${note.id}`,
      { title: 'soon' },
      {
        headers: { 'Fluxy-Clock': stamp(T + 4 * MINUTE) },
      },
    );
    expect(soon.status).toBe(200);
    expect((await page(server, '')).clock).toBe(stamp(T + 4 * MINUTE));
    const edge = { 'Fluxy-Clock': stamp(T + 5 * MINUTE, 1) };
    expect(
      (await send(server, 'PATCH', `/api/notes/${note.id}`, { body: 'edge' }, { headers: edge })).status,
    ).toBe(200);
    const past = { 'Fluxy-Clock': stamp(T + 5 * MINUTE + 1) };
    expect(
      (await send(server, 'PATCH', `/api/notes/${note.id}`, { body: 'past' }, { headers: past })).status,
    ).toBe(400);
    // A stamp that is none stays a validation error.
    const malformed = await send(
      server,
      'PATCH',
      `/api/notes/${note.id}`,
      { body: 'x' },
      {
        headers: { 'Fluxy-Clock': 'tomorrow' },
      },
    );
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ error: 'validation' });
  });

  it("stamps a write without Fluxy-Clock with the server's clock: an older device write loses to it", async () => {
    let now = T;
    const server = await startServer({ now: () => now });
    const note = await post(server, 'start');
    now += MINUTE;
    expect((await send(server, 'PATCH', `/api/notes/${note.id}`, { title: 'by the server' })).status).toBe(
      200,
    );
    const { clock } = await page(server, '');
    expect(clock).toBe(`${now.toString(36).padStart(9, '0')}-0000-server`);

    // A device's change made before it (stamped 30 s earlier) arrives late: it loses.
    const late = await send(
      server,
      'PATCH',
      `/api/notes/${note.id}`,
      { title: 'late' },
      {
        headers: { 'Fluxy-Clock': stamp(now - 30_000) },
      },
    );
    expect(late.status).toBe(200);
    expect(await late.json()).toMatchObject({ title: 'by the server' });
    // A newer one wins.
    const newer = await send(
      server,
      'PATCH',
      `/api/notes/${note.id}`,
      { title: 'newer' },
      {
        headers: { 'Fluxy-Clock': stamp(now + 1) },
      },
    );
    expect(await newer.json()).toMatchObject({ title: 'newer' });

    // Two writes without a clock in one millisecond keep their order (the counter moves on).
    await send(server, 'PATCH', `/api/notes/${note.id}`, { body: 'one' });
    await send(server, 'PATCH', `/api/notes/${note.id}`, { body: 'two' });
    expect((await page(server, '')).clock).toBe(`${(now + 1).toString(36).padStart(9, '0')}-0002-server`);

    // A deletion without a clock is dated too: a device's write older than it does not bring
    // the note back.
    now += MINUTE;
    expect((await send(server, 'DELETE', `/api/notes/${note.id}`)).status).toBe(204);
    const older = await send(
      server,
      'PATCH',
      `/api/notes/${note.id}`,
      { title: 'back?' },
      {
        headers: { 'Fluxy-Clock': stamp(now - 30_000) },
      },
    );
    expect(older.status).toBe(410);
    expect(await getJson(server, '/api/notes')).toEqual([]);
  });
});
