import { describe, expect, it } from 'vitest';
import type { Note } from '../../examples/server/server.mjs';
import { getJson, send, startServer } from './helpers.js';

describe('notes API', () => {
  it('creates, lists, reads, replaces, patches and deletes notes', async () => {
    const server = await startServer();

    const created = await send(server, 'POST', '/api/notes', {
      title: 'First',
      body: 'hello',
      clientId: 'local-1',
    });
    expect(created.status).toBe(201);
    const first = (await created.json()) as Note;
    expect(first).toMatchObject({ title: 'First', body: 'hello', clientId: 'local-1', version: 1 });
    expect(first.id).toMatch(/^n_/);
    expect(first.createdAt).toBe(first.updatedAt);
    expect(created.headers.get('location')).toBe(`/api/notes/${first.id}`);

    const second = (await (await send(server, 'POST', '/api/notes', { title: 'Second' })).json()) as Note;
    expect(second).toMatchObject({ title: 'Second', body: '', clientId: null });
    expect(second.id).not.toBe(first.id);

    const list = await getJson<Note[]>(server, '/api/notes');
    expect(list.map((note) => note.id)).toStrictEqual([first.id, second.id]);
    expect(await getJson(server, `/api/notes/${first.id}`)).toStrictEqual(first);

    const replaced = await send(server, 'PUT', `/api/notes/${first.id}`, { title: 'First, edited' });
    expect(replaced.status).toBe(200);
    expect(await replaced.json()).toMatchObject({
      id: first.id,
      title: 'First, edited',
      body: '',
      version: 2,
    });

    const patched = await send(server, 'PATCH', `/api/notes/${first.id}`, { body: 'new body' });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ title: 'First, edited', body: 'new body', version: 3 });

    const deleted = await send(server, 'DELETE', `/api/notes/${first.id}`);
    expect(deleted.status).toBe(204);
    expect(await deleted.text()).toBe('');
    expect((await send(server, 'GET', `/api/notes/${first.id}`)).status).toBe(410);
    expect((await getJson<Note[]>(server, '/api/notes')).map((note) => note.id)).toStrictEqual([second.id]);
  });

  it('answers 404 for a missing note, also on DELETE', async () => {
    const server = await startServer();
    for (const method of ['GET', 'DELETE'] as const) {
      const response = await send(server, method, '/api/notes/n_404');
      expect(response.status).toBe(404);
      expect(await response.json()).toMatchObject({ error: 'not-found' });
    }
    expect((await send(server, 'PATCH', '/api/notes/n_404', { title: 'x' })).status).toBe(404);
  });

  it.each([
    ['POST', '/api/notes', {}, /title/],
    ['POST', '/api/notes', { title: '' }, /title/],
    ['POST', '/api/notes', { title: '   ' }, /title/],
    ['POST', '/api/notes', { title: 7 }, /title/],
    ['POST', '/api/notes', { title: 'x'.repeat(201) }, /200/],
    ['POST', '/api/notes', { title: 'ok', body: 5 }, /body/],
    ['POST', '/api/notes', { title: 'ok', clientId: 5 }, /clientId/],
    ['POST', '/api/notes', { title: 'ok', titel: 'typo' }, /titel/],
    ['POST', '/api/notes', ['title'], /object/],
    ['POST', '/api/notes', null, /object/],
    ['PUT', '/api/notes/:id', { body: 'no title' }, /title/],
    ['PATCH', '/api/notes/:id', {}, /at least one/],
    ['PATCH', '/api/notes/:id', { clientId: 'x' }, /clientId/],
  ])('refuses %s %s %j with 400 and changes nothing', async (method, path, body, message) => {
    const server = await startServer();
    const existing = (await (await send(server, 'POST', '/api/notes', { title: 'keep' })).json()) as Note;
    expect(existing.id).toBe(`n_1_${server.state.epoch}`);

    const response = await send(server, method, path.replace(':id', existing.id), body);
    expect(response.status).toBe(400);
    const error = (await response.json()) as { error: string; message: string };
    expect(error.error).toBe('validation');
    expect(error.message).toMatch(message);
    expect(await getJson(server, '/api/notes')).toStrictEqual([existing]);
    expect(await getJson<unknown[]>(server, '/api/_log')).toHaveLength(1);
  });

  it('refuses bad JSON (400), a body that is not JSON (415) and a body over 1 MiB (413)', async () => {
    const server = await startServer();
    const post = (body: string, contentType = 'application/json') =>
      fetch(`${server.url}/api/notes`, { method: 'POST', headers: { 'Content-Type': contentType }, body });

    const badJson = await post('{"title": ');
    expect(badJson.status).toBe(400);
    expect(await badJson.json()).toMatchObject({ error: 'invalid-json' });

    const notJson = await post('{"title":"x"}', 'text/plain');
    expect(notJson.status).toBe(415);
    expect(await notJson.json()).toMatchObject({ error: 'unsupported-media-type' });

    const huge = await post(JSON.stringify({ title: 'big', body: 'x'.repeat(1024 * 1024) }));
    expect(huge.status).toBe(413);
    expect(await huge.json()).toMatchObject({ error: 'payload-too-large' });

    // Just under the limit is fine: the limit is 1 MiB, not less.
    const large = await post(JSON.stringify({ title: 'large', body: 'x'.repeat(1024 * 1024 - 100) }));
    expect(large.status).toBe(201);
    expect((await getJson<Note[]>(server, '/api/notes')).map((note) => note.title)).toStrictEqual(['large']);
  });

  it('refuses a streamed (chunked) body with 413 once it passes 1 MiB', async () => {
    const server = await startServer();
    const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 20) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const init = { method: 'POST', body, duplex: 'half', headers: { 'Content-Type': 'application/json' } };
    const response = await fetch(`${server.url}/api/notes`, init as RequestInit);
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: 'payload-too-large' });
  });

  it('answers 404 for unknown routes and 405 with Allow for unsupported methods', async () => {
    const server = await startServer();
    expect((await send(server, 'GET', '/api/nothing')).status).toBe(404);
    expect((await send(server, 'POST', '/api/nothing', { title: 'x' })).status).toBe(404);

    const onCollection = await send(server, 'DELETE', '/api/notes');
    expect(onCollection.status).toBe(405);
    expect(onCollection.headers.get('allow')).toBe('GET, HEAD, POST');

    const onItem = await send(server, 'POST', '/api/notes/n_1', { title: 'x' });
    expect(onItem.status).toBe(405);
    expect(onItem.headers.get('allow')).toContain('PATCH');
    expect(await getJson(server, '/api/_log')).toStrictEqual([]);
  });

  it('serves /health uncached for connectivity probes', async () => {
    const server = await startServer();
    const response = await fetch(`${server.url}/health`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toStrictEqual({ ok: true });
    expect((await fetch(`${server.url}/health`, { method: 'HEAD' })).status).toBe(200);
  });

  it('logs every applied mutation in order, and _reset clears notes, keys and log', async () => {
    const server = await startServer({ now: () => Date.UTC(2030, 0, 1) });
    const n1 = `n_1_${server.state.epoch}`;
    await send(server, 'POST', '/api/notes', { title: 'a' }, { key: 'k-a' });
    await send(server, 'PATCH', `/api/notes/${n1}`, { body: 'b' });
    await send(server, 'POST', '/api/notes', { title: '' }); // refused: not applied, not logged
    await send(server, 'DELETE', `/api/notes/${n1}`, undefined, { key: 'k-del' });

    expect(await getJson(server, '/api/_log')).toStrictEqual([
      {
        seq: 1,
        key: 'k-a',
        method: 'POST',
        path: '/api/notes',
        body: { title: 'a' },
        at: '2030-01-01T00:00:00.000Z',
      },
      {
        seq: 2,
        key: null,
        method: 'PATCH',
        path: `/api/notes/${n1}`,
        body: { body: 'b' },
        at: '2030-01-01T00:00:00.000Z',
      },
      {
        seq: 3,
        key: 'k-del',
        method: 'DELETE',
        path: `/api/notes/${n1}`,
        body: null,
        at: '2030-01-01T00:00:00.000Z',
      },
    ]);

    expect((await send(server, 'POST', '/api/_reset')).status).toBe(204);
    expect(await getJson(server, '/api/_log')).toStrictEqual([]);
    expect(server.state.keys).toStrictEqual({});
    // The key is forgotten: the same request applies again, and numbering starts over, in the
    // data's new epoch: the new first note's id is not the old one's.
    const again = await send(server, 'POST', '/api/notes', { title: 'a' }, { key: 'k-a' });
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBeNull();
    expect(await again.json()).toMatchObject({ id: `n_1_${server.state.epoch}` });
    expect(`n_1_${server.state.epoch}`).not.toBe(n1);
  });

  it('_reset also forgets deletions: they do not apply to the notes created after it', async () => {
    const server = await startServer();
    const clock = (ms: number) => `${ms.toString(36).padStart(9, '0')}-0000-node`;
    const post = (title: string, ms: number) =>
      send(server, 'POST', '/api/notes', { title }, { headers: { 'Fluxy-Clock': clock(ms) } });
    const old = (await (await post('old', 1)).json()) as Note;
    expect((await send(server, 'DELETE', `/api/notes/${old.id}`)).status).toBe(204);
    await send(server, 'POST', '/api/_reset');
    // The deletion is forgotten: its note is unknown now, not deleted.
    expect((await send(server, 'GET', `/api/notes/${old.id}`)).status).toBe(404);

    const created = (await (await post('new', 2)).json()) as Note;
    const edit = await send(
      server,
      'PATCH',
      `/api/notes/${created.id}`,
      { body: 'b' },
      {
        headers: { 'Fluxy-Clock': clock(3) },
      },
    );
    expect(edit.status).toBe(200);
    // Before: the old n_1 came back from its tombstone next to the new one, and the feed
    // deleted the new one.
    expect(await getJson(server, '/api/notes')).toMatchObject([{ id: created.id, title: 'new', body: 'b' }]);
    expect(await getJson(server, '/api/notes?since=')).toMatchObject({
      changes: [{ id: created.id, title: 'new' }],
      deleted: [],
    });
  });
});
