import { describe, expect, it, vi } from 'vitest';
import { FluxyError } from '../../src/core/errors.js';
import type { Operation } from '../../src/plugins/sync/operation.js';
import { resolveOperationUrl, resolveSyncOptions } from '../../src/plugins/sync/options.js';
import { type HeadersOption, sendOperation } from '../../src/plugins/sync/transport.js';
import { TestLockManager } from '../support/lock-manager.js';
import { MemoryStore } from '../support/memory-store.js';
import { faultServerPerTest, nextEvent, until } from './harness.js';

// Regressions for findings of a second review: each failed before its fix.
const fixture = faultServerPerTest();
const { engineFor } = fixture;

const fakeTimers = ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] as const;

describe('the headers option', () => {
  it('a function returning a string is not spread into headers "0", "1", "2": the attempt is headers-failed', async () => {
    let given: unknown = 'abc';
    const { engine, queue } = engineFor({
      baseUrl: fixture.server.url,
      headers: () => given as Record<string, string>,
    });
    await engine.start();
    const first = Promise.race([nextEvent(engine, 'retry'), nextEvent(engine, 'sent')]);
    await queue('POST', '/api/x', { body: {} });
    const outcome = await first;
    expect(fixture.server.received.map((request) => request.headers['0'])).toStrictEqual([]);
    expect(outcome).toHaveProperty('error');
    const { error, operation } = outcome as Awaited<ReturnType<typeof nextEvent<'retry'>>>;
    expect(error.code).toBe('sync/headers-failed');
    expect(error.message).toMatch(/plain object/);
    expect(operation.attempts).toBe(0);
    expect(fixture.server.received).toStrictEqual([]);
    given = { 'X-Token': 't' };
    await until(() => engine.pendingCount.value === 0);
    expect(fixture.server.received).toHaveLength(1);
    expect(fixture.server.received[0]?.headers['x-token']).toBe('t');
    expect(Object.keys(fixture.server.received[0]?.headers ?? {})).not.toContain('0');
  });

  const operation: Operation = {
    id: '019ab3c4d5e6-0000-9f1c2b7a4d3e8f60',
    idempotencyKey: '019ab3c4d5e6-0000-9f1c2b7a4d3e8f60',
    method: 'POST',
    url: '/api/x',
    createdAt: 0,
    attempts: 0,
  };
  const send = (headers: HeadersOption) =>
    sendOperation(
      operation,
      '{}',
      {
        fetch: (input, init) => fetch(input, init),
        resolveUrl: (url) => resolveOperationUrl(url, fixture.server.url),
        headers,
        timeoutMs: 5000,
        setTimer: (callback, ms) => setTimeout(callback, ms),
        clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
      },
      new AbortController().signal,
    );

  it.each([
    ['a string', 'abc'],
    ['an array', [['X-A', '1']]],
    ['null', null],
    ['a number', 42],
    ['a Map', new Map([['X-A', '1']])],
    ['a Headers object', new Headers({ 'X-A': '1' })],
    ['an invalid name', { 'bad name': 'x' }],
    ['a number value', { 'X-A': 1 }],
    ['CR/LF in a value', { 'X-A': 'a\r\nX-B: b' }],
    ['a non-Latin-1 value', { 'X-A': '€' }],
    ['a name given twice in different cases', { 'X-A': '1', 'x-a': '2' }],
    ['a forbidden header', { Host: 'evil.example' }],
    ['its own Idempotency-Key', { 'Idempotency-Key': 'mine' }],
    ['a __proto__ header', JSON.parse('{"__proto__":"x"}') as unknown],
  ])('a function result that is %s → headers-failed, nothing sent', async (_name, result) => {
    const sync = await send(() => result as Record<string, string>);
    expect(sync.kind).toBe('headers-failed');
    const later = await send(async () => result as Record<string, string>);
    expect(later.kind).toBe('headers-failed');
    expect((later as { cause: unknown }).cause).toBeInstanceOf(FluxyError);
    expect(fixture.server.received).toStrictEqual([]);
  });

  it('a valid result is sent as given (credentials belong here), and undefined means none', async () => {
    expect(await send(() => ({ Authorization: 'Bearer t', 'X-A': 'é' }))).toMatchObject({ status: 201 });
    expect(await send(() => undefined as unknown as Record<string, string>)).toMatchObject({ status: 201 });
    expect(fixture.server.received[0]?.headers).toMatchObject({ authorization: 'Bearer t' });
    expect(fixture.server.received).toHaveLength(2);
  });

  it('a headers object given to the constructor is checked the same way, at once', () => {
    for (const headers of [{ 'bad name': 'x' }, { Host: 'x' }, { 'X-A': '1', 'x-a': '2' }]) {
      expect(() => resolveSyncOptions({ headers })).toThrow(
        expect.objectContaining({ code: 'sync/invalid-options' }),
      );
    }
    expect(resolveSyncOptions({ headers: { Authorization: 'Bearer t' } }).headers).toStrictEqual({
      Authorization: 'Bearer t',
    });
  });
});

describe('discard() of a blocked head', () => {
  it('restarts sending at once: the op behind it does not wait for the timers, and the head’s error goes', async () => {
    vi.useFakeTimers({ toFake: [...fakeTimers] });
    fixture.server.script({ status: 503, retryAfter: '60' });
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url });
    await engine.start();
    const retry = nextEvent(engine, 'retry');
    const head = await queue('POST', '/api/head', { body: {} });
    const behind = await queue('POST', '/api/behind', { body: {} });
    await retry;
    await until(() => engine.status.value === 'error');
    const sent = nextEvent(engine, 'sent');
    expect(await engine.discard(head.id)).toBe(true);
    expect(engine.lastError.value).toBeNull();
    expect(engine.status.value).not.toBe('error');
    expect((await sent).operation.id).toBe(behind.id); // no timer advanced
    await until(() => engine.pendingCount.value === 0 && !engine.isSyncing.value);
    expect([engine.status.value, engine.lastError.value]).toStrictEqual(['idle', null]);
    await vi.advanceTimersByTimeAsync(120_000); // the head's old wake-up, and the interval
    expect(fixture.server.received.map((request) => request.key)).toStrictEqual([head.id, behind.id]);
  });

  it('discarding another op leaves the head’s backoff alone', async () => {
    vi.useFakeTimers({ toFake: [...fakeTimers] });
    fixture.server.script({ status: 503, retryAfter: '60' });
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url });
    await engine.start();
    const retry = nextEvent(engine, 'retry');
    const head = await queue('POST', '/api/head', { body: {} });
    const middle = await queue('POST', '/api/middle', { body: {} });
    const last = await queue('POST', '/api/last', { body: {} });
    await retry;
    expect(await engine.discard(middle.id)).toBe(true);
    expect(engine.lastError.value).toMatchObject({ status: 503 });
    expect(engine.status.value).toBe('error');
    await vi.advanceTimersByTimeAsync(59_000);
    expect(fixture.server.received).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1_000);
    vi.useRealTimers();
    await until(() => engine.pendingCount.value === 0);
    expect(fixture.server.applied.map((entry) => entry.key)).toStrictEqual([head.id, last.id]);
  });

  it('discarded in another tab: the flushing tab restarts too, and every tab clears the error', async () => {
    fixture.server.script({ status: 503, retryAfter: '60' });
    const store = new MemoryStore();
    const locks = new TestLockManager();
    const channel = `discard-${Math.random()}`;
    const leader = engineFor({ baseUrl: fixture.server.url, store, locks, channel });
    const follower = engineFor({ baseUrl: fixture.server.url, store, locks, channel });
    await leader.engine.start();
    await follower.engine.start();
    const head = await follower.queue('POST', '/api/head', { body: {} });
    const behind = await follower.queue('POST', '/api/behind', { body: {} });
    await until(() => follower.engine.status.value === 'error' && leader.engine.status.value === 'error');
    expect(await follower.engine.discard(head.id)).toBe(true);
    await until(() => leader.engine.pendingCount.value === 0 && follower.engine.pendingCount.value === 0);
    await until(() => follower.engine.status.value === 'idle');
    expect(fixture.server.applied.map((entry) => entry.key)).toStrictEqual([behind.id]);
    expect([leader.engine.lastError.value, follower.engine.lastError.value]).toStrictEqual([null, null]);
  });
});

describe('lastError of an operation that became failed', () => {
  it('a 422 stays in lastError after the next success (status idle), until that op is retried', async () => {
    fixture.server.script({ status: 422 });
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url });
    await engine.start();
    const bad = await queue('POST', '/api/bad', { body: {} });
    const good = await queue('POST', '/api/good', { body: {} });
    await until(() => engine.pendingCount.value === 0 && !engine.isSyncing.value);
    expect(fixture.server.applied.map((entry) => entry.key)).toStrictEqual([good.id]);
    expect(engine.lastError.value).toMatchObject({ code: 'sync/http-error', status: 422 });
    expect([engine.status.value, engine.failedCount.value]).toStrictEqual(['idle', 1]);
    const retried = engine.retry(bad.id);
    await retried;
    expect(engine.lastError.value).toBeNull();
    await until(() => engine.pendingCount.value === 0 && engine.failedCount.value === 0);
    expect(engine.lastError.value).toBeNull();
  });

  it('is cleared by discard() of that op and by clearQueue(), not by discarding another', async () => {
    fixture.server.script({ status: 400 }, { status: 404 });
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url });
    await engine.start();
    const first = await queue('POST', '/api/a', { body: {} });
    const second = await queue('POST', '/api/b', { body: {} });
    await until(() => engine.failedCount.value === 2 && !engine.isSyncing.value);
    expect(engine.lastError.value).toMatchObject({ status: 404 });
    await engine.discard(first.id);
    expect(engine.lastError.value).toMatchObject({ status: 404 });
    await engine.discard(second.id);
    expect(engine.lastError.value).toBeNull();

    fixture.server.script({ status: 410 });
    await queue('POST', '/api/c', { body: {} });
    await until(() => engine.failedCount.value === 1);
    expect(engine.lastError.value).toMatchObject({ status: 410 });
    expect(await engine.clearQueue()).toBe(1);
    expect(engine.lastError.value).toBeNull();
  });

  it('a retryable error of a later op shows while it lasts; after its success the dead-letter error is back', async () => {
    fixture.server.script({ status: 422 }, { status: 503, retryAfter: '0' });
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url });
    await engine.start();
    const seen: Array<number | undefined> = [];
    engine.events.on('retry', () => void seen.push(engine.lastError.peek()?.status));
    await queue('POST', '/api/bad', { body: {} });
    await queue('POST', '/api/flaky', { body: {} });
    await until(() => engine.pendingCount.value === 0 && !engine.isSyncing.value);
    expect(seen).toStrictEqual([503]);
    expect(engine.lastError.value).toMatchObject({ status: 422 });
    expect(engine.status.value).toBe('idle');
  });

  it('an unreadable (tampered) record keeps lastError sync/record-unreadable after the next success', async () => {
    const store = new MemoryStore();
    const { engine, queue, online } = engineFor({ baseUrl: fixture.server.url, store, online: false });
    await engine.start();
    const tampered = await queue('POST', '/api/secret', { body: {} });
    await queue('POST', '/api/fine', { body: {} });
    store.failReads.set(`p/${tampered.id}`, new FluxyError('storage/tampered', 'bad MAC'));
    online.value = true;
    await until(() => engine.pendingCount.value === 0 && !engine.isSyncing.value);
    expect(engine.lastError.value).toMatchObject({ code: 'sync/record-unreadable' });
    expect(engine.status.value).toBe('idle');
    expect(await engine.discard(tampered.id)).toBe(true);
    expect(engine.lastError.value).toBeNull();
  });

  it('other tabs show the same lastError and status, and a discard there clears it everywhere', async () => {
    fixture.server.script({ status: 422 });
    const store = new MemoryStore();
    const locks = new TestLockManager();
    const channel = `dead-letter-${Math.random()}`;
    const leader = engineFor({ baseUrl: fixture.server.url, store, locks, channel });
    const follower = engineFor({ baseUrl: fixture.server.url, store, locks, channel });
    await leader.engine.start();
    await follower.engine.start();
    const bad = await follower.queue('POST', '/api/bad', { body: {} });
    await follower.queue('POST', '/api/good', { body: {} });
    await until(() => !leader.engine.isSyncing.value && leader.engine.pendingCount.value === 0);
    // The follower mirrors the flushing tab's state one message later.
    await until(() => follower.engine.status.value === 'idle' && follower.engine.lastError.value !== null);
    for (const tab of [leader, follower]) {
      expect([tab.engine.status.value, tab.engine.failedCount.value]).toStrictEqual(['idle', 1]);
    }
    expect(follower.engine.lastError.value).toStrictEqual(leader.engine.lastError.value);
    // A new op queued in the follower while the dead-letter error shows: status stays honest.
    follower.online.value = false;
    await follower.queue('POST', '/api/later', { body: {} });
    expect(follower.engine.status.value).toBe('offline');
    follower.online.value = true;
    await until(() => follower.engine.pendingCount.value === 0 && follower.engine.status.value === 'idle');
    expect(await follower.engine.discard(bad.id)).toBe(true);
    await until(() => leader.engine.lastError.value === null && follower.engine.lastError.value === null);
  });
});

describe('headers given to queue()', () => {
  it('what is stored is what is sent (a __proto__ header is refused, not dropped)', async () => {
    const { engine, queue, online, store } = engineFor({ baseUrl: fixture.server.url, online: false });
    await engine.start();
    const refused = JSON.parse('{"X-B":"2","__proto__":"x"}') as Record<string, string>;
    await expect(queue('POST', '/api/x', { headers: refused })).rejects.toMatchObject({
      code: 'sync/invalid-headers',
    });
    expect(await store.keys('p/')).toStrictEqual([]);
    const headers = { 'X-A': '1', constructor: 'c', toString: 't' };
    const op = await queue('POST', '/api/x', { body: {}, headers });
    expect(op.headers).toStrictEqual(headers);
    expect(((await engine.pending())[0] as Operation | undefined)?.headers).toStrictEqual(headers);
    online.value = true;
    await until(() => engine.pendingCount.value === 0);
    const received = fixture.server.received[0]?.headers ?? {};
    expect([received['x-a'], received.constructor, received.tostring]).toStrictEqual(['1', 'c', 't']);
  });
});
