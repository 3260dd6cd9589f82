// fluxy/testing as an app author tries it (review, session 17): cases the other files do not show.
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, FaultServer, type TestApp } from '../../src/testing/index.js';
import { until } from '../sync/harness.js';

let server: FaultServer;
let t: TestApp | undefined;

beforeEach(async () => {
  server = await FaultServer.start();
});
afterEach(async () => {
  await t?.dispose();
  t = undefined;
  await server.close();
});

describe('createTestApp({ storage })', () => {
  it('storage options that choose no driver stay in memory (Node would write .fluxy/ for the next run)', async () => {
    t = await createTestApp({
      sync: { baseUrl: server.url },
      storage: { secret: 'correct horse battery staple', iterations: 10_000 },
      online: false,
    });
    expect([t.storage.driver, t.storage.encrypted]).toStrictEqual(['memory', true]);
    await t.dispose();
    // A second app with the same options starts empty: nothing of the first one's queue.
    t = await createTestApp({
      sync: { baseUrl: server.url },
      storage: { name: 'other', driver: undefined } as never,
    });
    expect(t.storage.driver).toBe('memory');
  });

  it('options that choose a driver keep it: indexedDB (a simulated restart) and driver', async () => {
    const indexedDB = new IDBFactory();
    t = await createTestApp({ sync: { baseUrl: server.url }, storage: { indexedDB }, online: false });
    expect(t.storage.driver).toBe('indexeddb');
    await t.sync.queue('POST', '/notes', { body: {} });
    await t.dispose();
    t = await createTestApp({ sync: { baseUrl: server.url }, storage: { driver: 'indexeddb', indexedDB } });
    expect(t.sync.pendingCount.value).toBe(1);
  });

  it('storage options that are no plain object are still refused by StoragePlugin', async () => {
    await expect(createTestApp({ storage: 5 as never })).rejects.toMatchObject({ code: 'invalid-argument' });
  });
});

describe('settled(): a timeout while an operation waits for a Retry-After', () => {
  it('says which option shortens that wait (baseDelayMs alone does not)', async () => {
    // Retries already fast, as docs/testing.md advises: the wait is the server's Retry-After.
    t = await createTestApp({ sync: { baseUrl: server.url, retry: { baseDelayMs: 10 } } });
    server.script({ status: 429, retryAfter: '3600' });
    await t.sync.queue('POST', '/notes', { body: {} });
    // The 429 answered first: on a loaded machine 300 ms may pass before it is, and a timeout
    // then finds no Retry-After to name.
    await until(() => t?.sync.lastError.value?.status === 429, 'the 429 answered', 10_000);
    await expect(t.settled({ timeoutMs: 300, label: 'after a 429' })).rejects.toThrow(
      "or the server's Retry-After (up to retry.maxRetryAfterMs, 1 h by default) — keep both short in tests, e.g. createTestApp({ sync: { retry: { baseDelayMs: 10, maxRetryAfterMs: 100 } } })",
    );
  });

  it('the advice works: with maxRetryAfterMs the same test settles', async () => {
    t = await createTestApp({
      sync: { baseUrl: server.url, retry: { baseDelayMs: 10, maxRetryAfterMs: 100 } },
    });
    server.script({ status: 429, retryAfter: '3600' });
    await t.sync.queue('POST', '/notes', { body: {} });
    await t.settled({ timeoutMs: 2000, label: 'Retry-After clamped to 100 ms' });
    expect(server.applied).toHaveLength(1);
  });
});

describe('FaultServer: a key that comes back with another request', () => {
  const send = (method: string, path: string, body: string, key: string) =>
    fetch(server.url + path, { method, headers: { 'Idempotency-Key': key }, body }).then(
      async (response) => ({
        status: response.status,
        body: (await response.json()) as unknown,
      }),
    );

  it('is answered 422 as a contract server does (a client bug), applying and storing nothing', async () => {
    const first = await send('POST', '/notes', '{"title":"a"}', 'k1');
    expect(first).toStrictEqual({ status: 201, body: { id: 'srv-1', serverId: 'srv-1' } });
    expect(await send('POST', '/notes', '{"title":"a"}', 'k1')).toStrictEqual(first); // a retry: replayed
    for (const [method, path, body] of [
      ['POST', '/notes', '{"title":"b"}'],
      ['POST', '/other', '{"title":"a"}'],
      ['PUT', '/notes', '{"title":"a"}'],
    ] as const) {
      expect(await send(method, path, body, 'k1'), `${method} ${path} ${body}`).toStrictEqual({
        status: 422,
        body: { error: 'idempotency-key-reuse' },
      });
    }
    expect(await send('POST', '/notes', '{"title":"a"}', 'k1')).toStrictEqual(first); // still the first answer
    expect(server.applied.map((applied) => applied.body)).toStrictEqual([{ title: 'a' }]);
  });

  it('with dedupe: false every request is applied, as before', async () => {
    const loose = await FaultServer.start({ dedupe: false });
    try {
      for (const body of ['{"n":1}', '{"n":2}']) {
        await fetch(`${loose.url}/notes`, { method: 'POST', headers: { 'Idempotency-Key': 'k' }, body });
      }
      expect(loose.applied.map((applied) => applied.body)).toStrictEqual([{ n: 1 }, { n: 2 }]);
    } finally {
      await loose.close();
    }
  });
});
