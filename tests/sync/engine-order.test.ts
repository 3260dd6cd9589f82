import { effect } from '@preact/signals-core';
import { describe, expect, it } from 'vitest';
import type { Fault } from '../../src/testing/index.js';
import { MemoryStore } from '../support/memory-store.js';
import { exactlyOnceInOrder, faultServerPerTest, makeEngine, until } from './harness.js';

const fixture = faultServerPerTest();
const { engineFor } = fixture;

describe('order and exactly-once', () => {
  it('sends each operation once, in enqueue order, with its id as Idempotency-Key', async () => {
    const { engine, queue, online } = engineFor({ baseUrl: fixture.server.url, online: false });
    await engine.start();
    const ops = [];
    for (let i = 0; i < 5; i++) ops.push(await queue('POST', '/api/notes', { body: { n: i } }));
    expect(fixture.server.received).toStrictEqual([]);
    expect(engine.pendingCount.value).toBe(5);
    online.value = true;
    await until(() => engine.pendingCount.value === 0);
    expect(fixture.server.applied.map((entry) => entry.key)).toStrictEqual(ops.map((op) => op.id));
    expect(fixture.server.applied.map((entry) => entry.body)).toStrictEqual(
      [0, 1, 2, 3, 4].map((n) => ({ n })),
    );
    expect(
      fixture.server.received.every((request) => request.headers['content-type'] === 'application/json'),
    ).toBe(true);
  });

  it('keeps the call order of concurrent queue() calls', async () => {
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url });
    await engine.start();
    const ops = await Promise.all(
      Array.from({ length: 60 }, (_, n) => queue('PUT', `/api/items/${n}`, { body: { n } })),
    );
    await until(() => engine.pendingCount.value === 0);
    expect(fixture.server.applied.map((entry) => entry.path)).toStrictEqual(
      ops.map((_, n) => `/api/items/${n}`),
    );
    expect(ops.map((op) => op.id)).toStrictEqual([...ops.map((op) => op.id)].sort());
  });

  it('sends no Content-Type without a body, and the method as given', async () => {
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url });
    await engine.start();
    await queue('delete', '/api/notes/1');
    await until(() => engine.pendingCount.value === 0);
    expect(fixture.server.received[0]?.method).toBe('DELETE');
    expect(fixture.server.received[0]?.headers['content-type']).toBeUndefined();
    expect(fixture.server.received[0]?.body).toBe('');
  });

  it('freezes the body at queue() time', async () => {
    const { engine, queue, online } = engineFor({ baseUrl: fixture.server.url, online: false });
    await engine.start();
    const body = { title: 'before', tags: ['a'] };
    await queue('POST', '/api/notes', { body });
    body.title = 'after';
    body.tags.push('b');
    online.value = true;
    await until(() => engine.pendingCount.value === 0);
    expect(fixture.server.applied[0]?.body).toStrictEqual({ title: 'before', tags: ['a'] });
  });

  it('a dropped request (before the server applied it) is retried with the same key and applied once', async () => {
    fixture.server.script('drop-before');
    const { engine, queue, reportFailure } = engineFor({ baseUrl: fixture.server.url });
    await engine.start();
    const op = await queue('POST', '/api/notes', { body: { a: 1 } });
    await until(() => engine.pendingCount.value === 0);
    expect(fixture.server.received.map((request) => request.key)).toStrictEqual([op.id, op.id]);
    expect(
      exactlyOnceInOrder(
        fixture.server.applied.map((entry) => entry.key),
        [op.id],
      ),
    ).toStrictEqual([]);
    expect(reportFailure).toHaveBeenCalledTimes(1);
  });

  it('a lost response (the server committed, then the connection dropped) is not applied twice', async () => {
    fixture.server.script('drop-after');
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url });
    await engine.start();
    const sent: unknown[] = [];
    engine.events.on('sent', ({ response }) => sent.push(response));
    const op = await queue('POST', '/api/notes', { body: { a: 1 } });
    await until(() => engine.pendingCount.value === 0);
    expect(fixture.server.received.map((request) => request.key)).toStrictEqual([op.id, op.id]);
    expect(fixture.server.applied).toHaveLength(1);
    expect(sent).toStrictEqual([{ id: 'srv-1', serverId: 'srv-1' }]);
  });

  it('under random faults every operation is applied exactly once, in order', async () => {
    const faults: Fault[] = [
      'ok',
      'ok',
      'drop-before',
      'drop-after',
      { status: 503 },
      { status: 500 },
      { status: 429, retryAfter: '0' },
      { delayMs: 5 },
    ];
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    await fixture.restart({ choose: () => faults[Math.floor(random() * faults.length)] as Fault });
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url, retry: { maxAttempts: 1000 } });
    await engine.start();
    const ops = [];
    for (let n = 0; n < 40; n++)
      ops.push(await queue(n % 3 === 0 ? 'PATCH' : 'POST', `/api/x/${n}`, { body: { n } }));
    await until(() => engine.pendingCount.value === 0);
    expect(engine.failedCount.value).toBe(0);
    expect(fixture.server.received.length).toBeGreaterThan(40);
    expect(
      exactlyOnceInOrder(
        fixture.server.applied.map((entry) => entry.key),
        ops.map((op) => op.id),
      ),
    ).toStrictEqual([]);
  });

  it('the exactly-once checker catches a client that changes its key on retry', async () => {
    fixture.server.script('drop-after', 'drop-after');
    let attempt = 0;
    const brokenFetch = (input: string, init: RequestInit) => {
      const headers = new Headers(init.headers);
      headers.set('Idempotency-Key', `broken-${attempt++}`);
      return fetch(input, { ...init, headers });
    };
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url, fetch: brokenFetch });
    await engine.start();
    const op = await queue('POST', '/api/notes', { body: {} });
    await until(() => engine.pendingCount.value === 0);
    expect(fixture.server.applied).toHaveLength(3);
    expect(
      exactlyOnceInOrder(
        fixture.server.applied.map((entry) => entry.key),
        [op.id],
      ),
    ).toContain(`lost ${op.id}`);
  });

  it('survives a restart: a new engine over the same storage sends what the first queued, same keys', async () => {
    const store = new MemoryStore();
    const first = makeEngine({ baseUrl: fixture.server.url, store, online: false });
    await first.engine.start();
    const ops = [];
    for (let n = 0; n < 3; n++) ops.push(await first.queue('POST', '/api/notes', { body: { n } }));
    await first.engine.dispose();

    const second = engineFor({ baseUrl: fixture.server.url, store, online: false });
    await second.engine.start();
    expect(second.engine.pendingCount.value).toBe(3);
    const later = await second.queue('POST', '/api/notes', { body: { n: 3 } });
    expect(later.id > (ops[2]?.id ?? '')).toBe(true);
    second.online.value = true;
    await until(() => second.engine.pendingCount.value === 0);
    expect(fixture.server.applied.map((entry) => entry.key)).toStrictEqual(
      [...ops, later].map((op) => op.id),
    );
  });

  it('status signals step by step, and pendingCount is always what storage holds', async () => {
    const { engine, queue, online, store } = engineFor({ baseUrl: fixture.server.url, online: false });
    await engine.start();
    await queue('POST', '/api/a', { body: 1 });
    await queue('POST', '/api/b', { body: 2 });
    const seen: string[] = [];
    const stop = effect(() => {
      seen.push(`${engine.status.value}/${engine.isSyncing.value}/${engine.pendingCount.value}`);
    });
    const mismatches: string[] = [];
    engine.events.on('sent', async () => {
      const stored = (await store.keys('p/')).length;
      if (stored !== engine.pendingCount.peek())
        mismatches.push(`${stored} vs ${engine.pendingCount.peek()}`);
    });
    online.value = true;
    await until(() => engine.pendingCount.value === 0 && !engine.isSyncing.value);
    stop();
    expect(seen).toStrictEqual([
      'offline/false/2',
      'syncing/true/2',
      'syncing/true/1',
      'syncing/true/0',
      'idle/false/0',
    ]);
    expect(mismatches).toStrictEqual([]);
    expect(engine.progress.value).toStrictEqual({ total: 2, done: 2 });
  });
});
