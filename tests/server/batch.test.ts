import { describe, expect, it } from 'vitest';
import type { RunningServer } from '../../examples/server/server.mjs';
import { expectNetworkError, queueFaults, send, startServer } from './helpers.js';

interface BatchAnswer {
  results: Array<{ id: string; status: number; body?: { id?: string; title?: string; error?: string } }>;
}

const post = (id: string, title: string) => ({ id, method: 'POST', url: '/api/notes', body: { title } });

async function batch(server: RunningServer, ops: unknown[]): Promise<{ status: number; json: BatchAnswer }> {
  const response = await send(server, 'POST', '/api/batch', { ops });
  return { status: response.status, json: (await response.json()) as BatchAnswer };
}

const logKeys = (server: RunningServer) => server.state.log.map((entry) => entry.key);

describe('POST /api/batch', () => {
  it('applies each op in order and answers one result per op', async () => {
    const server = await startServer();
    const { status, json } = await batch(server, [post('k1', 'a'), post('k2', 'b')]);
    expect(status).toBe(200);
    expect(json.results.map(({ id, status: s, body }) => [id, s, body?.title])).toEqual([
      ['k1', 201, 'a'],
      ['k2', 201, 'b'],
    ]);
    expect(logKeys(server)).toEqual(['k1', 'k2']);
  });

  it('stops at the first op that does not succeed: the rest are not applied', async () => {
    const server = await startServer();
    const { json } = await batch(server, [
      post('k1', 'a'),
      { id: 'k2', method: 'PATCH', url: '/api/notes/missing', body: { title: 'x' } },
      post('k3', 'c'),
    ]);
    expect(json.results.map((result) => [result.id, result.status])).toEqual([
      ['k1', 201],
      ['k2', 404],
    ]);
    expect(logKeys(server)).toEqual(['k1']);
  });

  it('dedupes each op by its id, with single requests too, and honours per-op headers', async () => {
    const server = await startServer();
    const single = await send(server, 'POST', '/api/notes', { title: 'a' }, { key: 'k1' });
    const created = (await single.json()) as { id: string; version: number };
    const { json } = await batch(server, [
      post('k1', 'a'), // replayed
      post('k2', 'b'),
      {
        id: 'k3',
        method: 'PATCH',
        url: `/api/notes/${created.id}`,
        headers: { 'If-Match': `"${created.version + 5}"` },
        body: { title: 'z' },
      },
    ]);
    expect(json.results.map((result) => result.status)).toEqual([201, 201, 412]);
    expect(json.results[0]?.body?.id).toBe(created.id);
    const again = await batch(server, [post('k2', 'b')]);
    expect(again.json.results[0]?.status).toBe(201);
    expect(logKeys(server)).toEqual(['k1', 'k2']);
  });

  it('takes a fault for the batch, then one per op', async () => {
    const server = await startServer();
    await queueFaults(server, ['ok', 'ok', { status: 503, retryAfter: '7' }]);
    const response = await send(server, 'POST', '/api/batch', {
      ops: [post('k1', 'a'), post('k2', 'b'), post('k3', 'c')],
    });
    const json = (await response.json()) as BatchAnswer;
    expect(json.results.map((result) => result.status)).toEqual([201, 503]);
    expect(response.headers.get('Retry-After')).toBe('7'); // the stopping op's, on the batch
    await queueFaults(server, ['drop-after']);
    await expectNetworkError(send(server, 'POST', '/api/batch', { ops: [post('k2', 'b'), post('k3', 'c')] }));
    await queueFaults(server, [{ status: 500 }]);
    expect((await batch(server, [post('k4', 'd')])).status).toBe(500);
    expect(logKeys(server)).toEqual(['k1', 'k2', 'k3']);
  });

  it.each([
    ['no ops', {}],
    ['an empty list', { ops: [] }],
    ['an op without id', { ops: [{ method: 'POST', url: '/api/notes' }] }],
    ['a GET', { ops: [{ id: 'k', method: 'GET', url: '/api/notes' }] }],
    ['a full URL', { ops: [{ id: 'k', method: 'POST', url: 'http://x/api/notes' }] }],
    [
      'headers that are not strings',
      { ops: [{ id: 'k', method: 'POST', url: '/api/notes', headers: { a: 1 } }] },
    ],
  ])('refuses %s with 400, applying nothing', async (_, body) => {
    const server = await startServer();
    const response = await send(server, 'POST', '/api/batch', body);
    expect(response.status).toBe(400);
    expect(server.state.log).toEqual([]);
  });

  it('never runs control endpoints through a batch', async () => {
    const server = await startServer();
    await send(server, 'POST', '/api/notes', { title: 'kept' }, { key: 'k0' });
    const { json } = await batch(server, [{ id: 'k1', method: 'POST', url: '/api/_reset' }]);
    expect(json.results[0]?.status).toBe(404);
    expect(server.state.notes).toHaveLength(1);
  });
});
