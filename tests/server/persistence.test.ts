import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  createServer,
  DEFAULT_DATA_FILE,
  type Note,
  type ServerState,
} from '../../examples/server/server.mjs';
import { JsonFileDatabase } from '../../examples/server/store.mjs';
import { getJson, queueFaults, send, startServer, tempDir } from './helpers.js';

async function readState(file: string): Promise<ServerState> {
  return JSON.parse(await readFile(file, 'utf8')) as ServerState;
}

describe('persistence', () => {
  it('keeps notes, log and keys across a restart: a repeated key is still deduplicated', async () => {
    const dataFile = join(await tempDir(), 'nested', 'db.json');
    const first = await createServer({ dataFile, staticDir: null });
    const created = await send(first, 'POST', '/api/notes', { title: 'a' }, { key: 'op-1' });
    const createdBody = await created.text();
    await send(first, 'POST', '/api/notes', { title: 'b' }, { key: 'op-2' });
    const notes = await getJson<Note[]>(first, '/api/notes');
    const log = await getJson(first, '/api/_log');
    await first.close();

    const second = await startServer({ dataFile });
    expect(await getJson(second, '/api/notes')).toStrictEqual(notes);
    expect(await getJson(second, '/api/_log')).toStrictEqual(log);

    const retry = await send(second, 'POST', '/api/notes', { title: 'a' }, { key: 'op-1' });
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(await retry.text()).toBe(createdBody);
    const reused = await send(second, 'POST', '/api/notes', { title: 'other' }, { key: 'op-2' });
    expect(reused.status).toBe(422);

    // Ids continue after a restart instead of starting over, in the same epoch.
    expect(second.state.epoch).toBe(notes[0]?.id.split('_')[2]);
    const third = await send(second, 'POST', '/api/notes', { title: 'c' }, { key: 'op-3' });
    expect(await third.json()).toMatchObject({ id: `n_3_${second.state.epoch}` });
    expect(await getJson<unknown[]>(second, '/api/_log')).toHaveLength(3);
  });

  it('has the effect and its key on disk when the client gets the response', async () => {
    const dataFile = join(await tempDir(), 'db.json');
    const server = await startServer({ dataFile });
    const response = await send(server, 'POST', '/api/notes', { title: 'durable' }, { key: 'op-1' });
    const onDisk = await readState(dataFile); // read before close(): nothing is flushed later
    expect(onDisk.notes.map((note) => note.title)).toStrictEqual(['durable']);
    expect(onDisk.keys['op-1']?.response.body).toBe(await response.text());
    expect(onDisk.log).toHaveLength(1);
  });

  it('drop-after has persisted the effect and key: after a crash-like restart the retry is replayed', async () => {
    const dataFile = join(await tempDir(), 'db.json');
    const first = await createServer({ dataFile, staticDir: null });
    await queueFaults(first, ['drop-after']);
    await expect(send(first, 'POST', '/api/notes', { title: 'a' }, { key: 'op-1' })).rejects.toThrow(
      'fetch failed',
    );
    await first.close();

    const second = await startServer({ dataFile });
    const retry = await send(second, 'POST', '/api/notes', { title: 'a' }, { key: 'op-1' });
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(await getJson<unknown[]>(second, '/api/_log')).toHaveLength(1);
  });

  it('writes atomically and leaves no temporary files', async () => {
    const dir = await tempDir();
    const dataFile = join(dir, 'db.json');
    const server = await startServer({ dataFile });
    await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        send(server, 'POST', '/api/notes', { title: `n${index}` }, { key: `k${index}` }),
      ),
    );
    expect(await readdir(dir)).toStrictEqual(['db.json']);
    const onDisk = await readState(dataFile);
    expect(onDisk.notes).toHaveLength(20);
    expect(Object.keys(onDisk.keys)).toHaveLength(20);
  });

  it('when the write fails: answers 500, changes nothing, and frees the key for the retry', async () => {
    const dir = await tempDir();
    const dataFile = join(dir, 'db.json');
    const server = await startServer({ dataFile });
    await send(server, 'POST', '/api/notes', { title: 'before' });
    // A directory where the file should be: the rename fails.
    await rm(dataFile);
    await mkdir(dataFile);

    const failed = await send(server, 'POST', '/api/notes', { title: 'lost?' }, { key: 'op-1' });
    expect(failed.status).toBe(500);
    expect(await failed.json()).toMatchObject({ error: 'internal' });
    expect((await getJson<Note[]>(server, '/api/notes')).map((note) => note.title)).toStrictEqual(['before']);
    expect(server.state.keys).toStrictEqual({});
    expect(await readdir(dir)).toStrictEqual(['db.json']); // the temp file was removed

    await rm(dataFile, { recursive: true });
    const retry = await send(server, 'POST', '/api/notes', { title: 'lost?' }, { key: 'op-1' });
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    expect((await readState(dataFile)).notes.map((note) => note.title)).toStrictEqual(['before', 'lost?']);
  });

  it('refuses to start over a data file it cannot read, and leaves the file alone', async () => {
    const dir = await tempDir();
    const broken = join(dir, 'broken.json');
    await writeFile(broken, '{"version": 1, "notes": [');
    await expect(createServer({ dataFile: broken, staticDir: null })).rejects.toThrow(/not valid JSON/);
    expect(await readFile(broken, 'utf8')).toBe('{"version": 1, "notes": [');

    const foreign = join(dir, 'foreign.json');
    await writeFile(foreign, '{"hello": "world"}');
    await expect(createServer({ dataFile: foreign, staticDir: null })).rejects.toThrow(
      /version 1 notes database/,
    );
  });

  it('keeps everything in memory with dataFile: null', async () => {
    const defaultFileExisted = existsSync(DEFAULT_DATA_FILE);
    const first = await createServer({ dataFile: null, staticDir: null });
    await send(first, 'POST', '/api/notes', { title: 'a' });
    expect(first.state.notes).toHaveLength(1);
    await first.close();
    expect(existsSync(DEFAULT_DATA_FILE)).toBe(defaultFileExisted);

    const second = await startServer({ dataFile: null });
    expect(await getJson(second, '/api/notes')).toStrictEqual([]);
  });

  it('persists _reset', async () => {
    const dataFile = join(await tempDir(), 'db.json');
    const server = await startServer({ dataFile });
    await send(server, 'POST', '/api/notes', { title: 'a' }, { key: 'op-1' });
    await send(server, 'POST', '/api/_reset');
    const onDisk = await readState(dataFile);
    expect(onDisk).toMatchObject({ notes: [], log: [], keys: {}, nextNoteNumber: 1 });
  });
});

describe('JsonFileDatabase', () => {
  it('runs updates one at a time, each on the result of the previous one', async () => {
    const file = join(await tempDir(), 'db.json');
    const db = await JsonFileDatabase.open(file, () => ({ items: [] as number[] }));
    await Promise.all(
      Array.from({ length: 10 }, (_, index) =>
        db.update(async (draft) => {
          await new Promise((resolve) => setTimeout(resolve, 10 - index));
          draft.items.push(index);
        }),
      ),
    );
    expect(db.current.items).toStrictEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(JSON.parse(await readFile(file, 'utf8'))).toStrictEqual({ items: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] });
  });

  it('keeps the current document when an update throws, and goes on with the next one', async () => {
    const db = await JsonFileDatabase.open(null, () => ({ count: 0 }));
    const failed = db.update((draft) => {
      draft.count = 99;
      throw new Error('boom');
    });
    await expect(failed).rejects.toThrow('boom');
    expect(db.current.count).toBe(0);
    await db.update((draft) => {
      draft.count += 1;
    });
    expect(db.current.count).toBe(1);
  });

  it('refuses updates after close()', async () => {
    const db = await JsonFileDatabase.open(null, () => ({}));
    await db.close();
    await expect(db.update(() => {})).rejects.toThrow(/closed/);
  });
});
