import { describe, expect, it } from 'vitest';
import {
  fingerprintOf,
  IdempotencyKeys,
  isValidKey,
  type KeyTable,
  shouldRemember,
} from '../../examples/server/idempotency.mjs';
import type { Note } from '../../examples/server/server.mjs';
import { getJson, queueFaults, send, startServer } from './helpers.js';

const response = { status: 201, headers: { 'Content-Type': 'application/json' }, body: '{"id":"n_1"}' };
const body = (text: string) => new TextEncoder().encode(text);

describe('IdempotencyKeys', () => {
  it('claims a new key, reports it in progress, then replays what was remembered', () => {
    const keys = new IdempotencyKeys(1000);
    const table: KeyTable = {};
    expect(keys.begin(table, 'k', 'fp', 0)).toStrictEqual({ kind: 'new' });
    expect(keys.begin(table, 'k', 'fp', 1)).toStrictEqual({ kind: 'in-progress' });
    expect(keys.begin(table, 'k', 'other', 1)).toStrictEqual({ kind: 'key-reuse' });

    keys.remember(table, 'k', 'fp', response, 2);
    keys.release('k');
    expect(keys.begin(table, 'k', 'fp', 3)).toStrictEqual({ kind: 'replay', response });
    expect(keys.begin(table, 'k', 'other', 3)).toStrictEqual({ kind: 'key-reuse' });
  });

  it('frees a released key that stored nothing, so the retry runs', () => {
    const keys = new IdempotencyKeys(1000);
    expect(keys.begin({}, 'k', 'fp', 0).kind).toBe('new');
    keys.release('k');
    expect(keys.begin({}, 'k', 'fp', 0).kind).toBe('new');
  });

  it('forgets a key once its TTL has passed', () => {
    const keys = new IdempotencyKeys(1000);
    const table: KeyTable = {};
    keys.remember(table, 'old', 'fp', response, 0);
    keys.remember(table, 'young', 'fp', response, 500);
    expect(keys.begin(table, 'old', 'fp', 999).kind).toBe('replay');
    expect(keys.begin(table, 'old', 'fp', 1000).kind).toBe('new');
    keys.forgetExpired(table, 1000);
    expect(Object.keys(table)).toStrictEqual(['young']);
  });

  it('treats "__proto__" and other Object.prototype names as ordinary keys', () => {
    const keys = new IdempotencyKeys(1000);
    const table: KeyTable = JSON.parse('{}');
    expect(keys.begin(table, 'constructor', 'fp', 0).kind).toBe('new');
    expect(keys.begin(table, '__proto__', 'fp', 0).kind).toBe('new');
    keys.remember(table, '__proto__', 'fp', response, 0);
    expect(Object.getPrototypeOf(table)).toBe(Object.prototype);
    const copy = JSON.parse(JSON.stringify(table)) as KeyTable;
    expect(keys.begin(copy, '__proto__', 'fp', 1)).toStrictEqual({ kind: 'replay', response });
  });

  it('fingerprints method, path and body bytes', () => {
    const base = fingerprintOf('POST', '/api/notes', body('{"title":"a"}'));
    expect(fingerprintOf('post', '/api/notes', body('{"title":"a"}'))).toBe(base);
    expect(fingerprintOf('PUT', '/api/notes', body('{"title":"a"}'))).not.toBe(base);
    expect(fingerprintOf('POST', '/api/notes?x=1', body('{"title":"a"}'))).not.toBe(base);
    expect(fingerprintOf('POST', '/api/notes', body('{"title":"b"}'))).not.toBe(base);
  });

  it.each([
    ['01J9Z3K5M2-abc', true],
    ['x'.repeat(255), true],
    ['', false],
    ['x'.repeat(256), false],
    ['caf\u00e9', false],
    ['tab\there', false],
  ])('isValidKey(%j) is %s', (key, valid) => {
    expect(isValidKey(key)).toBe(valid);
  });

  it('remembers client errors but not server errors', () => {
    expect([200, 201, 204, 400, 404, 422, 499].every(shouldRemember)).toBe(true);
    expect([500, 502, 503].some(shouldRemember)).toBe(false);
  });
});

describe('Idempotency-Key over HTTP', () => {
  it('replays a repeated key with the stored response and applies the effect once', async () => {
    const server = await startServer();
    const first = await send(server, 'POST', '/api/notes', { title: 'once' }, { key: 'op-1' });
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const firstBody = await first.text();

    const second = await send(server, 'POST', '/api/notes', { title: 'once' }, { key: 'op-1' });
    expect(second.status).toBe(201);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.headers.get('location')).toBe(first.headers.get('location'));
    expect(await second.text()).toBe(firstBody);

    expect(await getJson<Note[]>(server, '/api/notes')).toHaveLength(1);
    expect(await getJson<unknown[]>(server, '/api/_log')).toHaveLength(1);
  });

  it('without a key, the same request applies twice (what the key prevents)', async () => {
    const server = await startServer();
    await send(server, 'POST', '/api/notes', { title: 'twice' });
    await send(server, 'POST', '/api/notes', { title: 'twice' });
    expect(await getJson<Note[]>(server, '/api/notes')).toHaveLength(2);
  });

  it('replays a DELETE as 204 instead of a 404 for the already deleted note', async () => {
    const server = await startServer();
    const { id } = (await (await send(server, 'POST', '/api/notes', { title: 'doomed' })).json()) as Note;
    expect((await send(server, 'DELETE', `/api/notes/${id}`, undefined, { key: 'del-1' })).status).toBe(204);
    const retry = await send(server, 'DELETE', `/api/notes/${id}`, undefined, { key: 'del-1' });
    expect(retry.status).toBe(204);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect((await send(server, 'DELETE', `/api/notes/${id}`, undefined, { key: 'del-2' })).status).toBe(410);
  });

  it('answers 422 when a key comes back with a different body, method or path, and applies nothing', async () => {
    const server = await startServer();
    await send(server, 'POST', '/api/notes', { title: 'original' }, { key: 'op-1' });
    for (const [method, path, body] of [
      ['POST', '/api/notes', { title: 'changed' }],
      ['PUT', '/api/notes/n_1', { title: 'original' }],
      ['POST', '/api/notes?again=1', { title: 'original' }],
    ] as const) {
      const reused = await send(server, method, path, body, { key: 'op-1' });
      expect(reused.status).toBe(422);
      expect(await reused.json()).toMatchObject({ error: 'idempotency-key-reuse' });
    }
    expect((await getJson<Note[]>(server, '/api/notes')).map((note) => note.title)).toStrictEqual([
      'original',
    ]);
    expect(await getJson<unknown[]>(server, '/api/_log')).toHaveLength(1);
  });

  it('answers 409 to the same key while the first request is still running, then replays', async () => {
    const server = await startServer();
    await queueFaults(server, [{ delayMs: 500 }]);
    const slow = send(server, 'POST', '/api/notes', { title: 'slow' }, { key: 'op-1' });
    // The delayed request has claimed the key once the fault queue is empty.
    await expect.poll(() => getJson(server, '/api/_faults')).toStrictEqual([]);

    const concurrent = await send(server, 'POST', '/api/notes', { title: 'slow' }, { key: 'op-1' });
    expect(concurrent.status).toBe(409);
    expect(await concurrent.json()).toMatchObject({ error: 'in-progress' });
    expect(concurrent.headers.get('retry-after')).toBe('1');
    expect(await getJson(server, '/api/notes')).toStrictEqual([]);

    expect((await slow).status).toBe(201);
    const retried = await send(server, 'POST', '/api/notes', { title: 'slow' }, { key: 'op-1' });
    expect(retried.status).toBe(201);
    expect(retried.headers.get('idempotent-replayed')).toBe('true');
    expect(await getJson<unknown[]>(server, '/api/_log')).toHaveLength(1);
  });

  it('stores a validation error under its key and replays it', async () => {
    const server = await startServer();
    const first = await send(server, 'POST', '/api/notes', { title: '' }, { key: 'bad-1' });
    expect(first.status).toBe(400);
    const again = await send(server, 'POST', '/api/notes', { title: '' }, { key: 'bad-1' });
    expect(again.status).toBe(400);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.text()).toBe(await first.text());
  });

  it('refuses an invalid key with 400 before applying anything', async () => {
    const server = await startServer();
    const response = await send(server, 'POST', '/api/notes', { title: 'x' }, { key: 'k'.repeat(256) });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid-idempotency-key' });
    expect(await getJson(server, '/api/notes')).toStrictEqual([]);
  });

  it('keeps keys for idempotencyTtlMs, then forgets them', async () => {
    let now = Date.UTC(2030, 0, 1);
    const server = await startServer({ idempotencyTtlMs: 60_000, now: () => now });
    await send(server, 'POST', '/api/notes', { title: 'a' }, { key: 'op-1' });

    now += 59_999;
    const within = await send(server, 'POST', '/api/notes', { title: 'a' }, { key: 'op-1' });
    expect(within.headers.get('idempotent-replayed')).toBe('true');

    now += 1;
    const after = await send(server, 'POST', '/api/notes', { title: 'a' }, { key: 'op-1' });
    expect(after.status).toBe(201);
    expect(after.headers.get('idempotent-replayed')).toBeNull();
    expect(await getJson<Note[]>(server, '/api/notes')).toHaveLength(2);

    now += 60_000;
    await send(server, 'POST', '/api/notes', { title: 'b' }, { key: 'op-2' });
    expect(Object.keys(server.state.keys)).toStrictEqual(['op-2']); // expired keys leave the data file
  });
});
