import { describe, expect, it, vi } from 'vitest';
import { FluxyError } from '../../src/core/errors.js';
import { MemoryStore } from '../support/memory-store.js';
import { faultServerPerTest, makeEngine, manualTimeouts, nextEvent, until } from './harness.js';

const fixture = faultServerPerTest();
const { engineFor } = fixture;

describe('classification and retry', () => {
  it('a 4xx other than 401 fails the operation at once and does not block the ones behind', async () => {
    fixture.server.script({ status: 422 });
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url });
    await engine.start();
    const failed = nextEvent(engine, 'failed');
    const bad = await queue('POST', '/api/bad', { body: {} });
    const good = await queue('POST', '/api/good', { body: {} });
    const { operation, error } = await failed;
    expect(operation.id).toBe(bad.id);
    expect(error).toMatchObject({ code: 'sync/http-error', status: 422 });
    await until(() => engine.pendingCount.value === 0);
    expect(fixture.server.applied.map((entry) => entry.key)).toStrictEqual([good.id]);
    expect(engine.failedCount.value).toBe(1);
    const [stored] = await engine.failed();
    expect(stored).toMatchObject({ id: bad.id, attempts: 1, lastError: { status: 422 } });
  });

  for (const status of [408, 409, 425, 500, 502, 503, 504]) {
    it(`${status} is retried with the same key, counting attempts`, async () => {
      fixture.server.script({ status });
      const { engine, queue } = engineFor({ baseUrl: fixture.server.url });
      await engine.start();
      const retry = nextEvent(engine, 'retry');
      const op = await queue('PUT', '/api/x', { body: {} });
      expect((await retry).operation.attempts).toBe(1);
      await until(() => engine.pendingCount.value === 0);
      expect(fixture.server.received.map((request) => request.key)).toStrictEqual([op.id, op.id]);
      expect(fixture.server.applied).toHaveLength(1);
    });
  }

  it('after maxAttempts retryable answers the operation becomes failed (sync/max-attempts)', async () => {
    fixture.server.script({ status: 500 }, { status: 503 }, { status: 500 });
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url, retry: { maxAttempts: 3 } });
    await engine.start();
    const failed = nextEvent(engine, 'failed');
    await queue('POST', '/api/x', { body: {} });
    const next = await queue('POST', '/api/y', { body: {} });
    expect((await failed).error).toMatchObject({ code: 'sync/max-attempts', status: 500 });
    await until(() => engine.pendingCount.value === 0);
    expect(fixture.server.applied.map((entry) => entry.key)).toStrictEqual([next.id]);
    expect(fixture.server.received).toHaveLength(4);
  });

  it('honours Retry-After (seconds) on 503, blocks the ones behind, and persists the time', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    fixture.server.script({ status: 503, retryAfter: '120' });
    const store = new MemoryStore();
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url, store });
    await engine.start();
    const retry = nextEvent(engine, 'retry');
    const head = await queue('POST', '/api/head', { body: {} });
    await queue('POST', '/api/behind', { body: {} });
    const { delayMs, operation } = await retry;
    expect(delayMs).toBe(120_000);
    expect(operation.nextAttemptAt).toBe(Date.now() + 120_000);
    await until(() => engine.status.value === 'error');
    expect(engine.isSyncing.value).toBe(false);
    const stored = JSON.parse(store.data.get(`p/${head.id}`) ?? '{}') as { nextAttemptAt?: number };
    expect(stored.nextAttemptAt).toBe(operation.nextAttemptAt);
    await vi.advanceTimersByTimeAsync(119_000);
    expect(fixture.server.received).toHaveLength(1);
    const sent = nextEvent(engine, 'sent');
    await vi.advanceTimersByTimeAsync(1_000);
    expect((await sent).operation.id).toBe(head.id);
    vi.useRealTimers();
    await until(() => engine.pendingCount.value === 0);
    expect(fixture.server.applied.map((entry) => entry.path)).toStrictEqual(['/api/head', '/api/behind']);
  });

  it('honours Retry-After as an HTTP date on 429', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    vi.setSystemTime(new Date('2026-11-22T10:00:00Z'));
    fixture.server.script({ status: 429, retryAfter: 'Sun, 22 Nov 2026 10:00:30 GMT' });
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url });
    await engine.start();
    const retry = nextEvent(engine, 'retry');
    await queue('POST', '/api/x', { body: {} });
    expect((await retry).delayMs).toBe(30_000);
  });

  for (const status of [500, 408]) {
    it(`honours Retry-After on ${status} too (every retryable answer, not only 429 and 503)`, async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
      fixture.server.script({ status, retryAfter: '45' });
      const { engine, queue } = engineFor({ baseUrl: fixture.server.url });
      await engine.start();
      const retry = nextEvent(engine, 'retry');
      await queue('POST', '/api/x', { body: {} });
      const { delayMs, operation } = await retry;
      expect(delayMs).toBe(45_000);
      expect(operation.nextAttemptAt).toBe(Date.now() + 45_000);
      await vi.advanceTimersByTimeAsync(44_000);
      expect(fixture.server.received).toHaveLength(1);
      const sent = nextEvent(engine, 'sent');
      await vi.advanceTimersByTimeAsync(1_000);
      await sent;
      expect(fixture.server.received).toHaveLength(2);
    });
  }

  it('a backoff stored before a restart is honoured by the next engine', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    fixture.server.script({ status: 503, retryAfter: '60' });
    const store = new MemoryStore();
    const first = makeEngine({ baseUrl: fixture.server.url, store });
    await first.engine.start();
    const retry = nextEvent(first.engine, 'retry');
    await first.queue('POST', '/api/x', { body: {} });
    await retry;
    await first.engine.dispose();
    const second = engineFor({ baseUrl: fixture.server.url, store });
    await second.engine.start();
    await second.engine.flush();
    await vi.advanceTimersByTimeAsync(59_000);
    expect(fixture.server.received).toHaveLength(1);
    const sent = nextEvent(second.engine, 'sent');
    await vi.advanceTimersByTimeAsync(1_000);
    await sent;
    expect(fixture.server.received).toHaveLength(2);
  });

  it('401 keeps the operation at the head and pauses until resume()', async () => {
    fixture.server.script({ status: 401 });
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url });
    await engine.start();
    const unauthorized = nextEvent(engine, 'unauthorized');
    const head = await queue('POST', '/api/a', { body: {} });
    await queue('POST', '/api/b', { body: {} });
    expect((await unauthorized).operation.id).toBe(head.id);
    await until(() => engine.status.value === 'paused');
    await engine.flush();
    expect(fixture.server.received).toHaveLength(1);
    expect(engine.pendingCount.value).toBe(2);
    expect((await engine.pending())[0]).toMatchObject({ id: head.id, attempts: 0 });
    engine.resume();
    await until(() => engine.pendingCount.value === 0);
    expect(fixture.server.applied.map((entry) => entry.path)).toStrictEqual(['/api/a', '/api/b']);
  });

  it('a timeout aborts the attempt; the retry uses the same key and the attempt is not counted', async () => {
    fixture.server.script('hang');
    // The hung request's timeout expires once the server has it, and no other one does (a real
    // 150 ms timeout also cut the retry on a loaded machine: a third request).
    const timeouts = manualTimeouts();
    const { engine, queue, reportFailure } = engineFor({
      baseUrl: fixture.server.url,
      timeoutMs: 150,
      ...timeouts,
    });
    await engine.start();
    const retry = nextEvent(engine, 'retry');
    const op = await queue('POST', '/api/slow', { body: {} });
    await fixture.server.waitForRequests(1, { label: 'the request that hangs' });
    expect(timeouts.set[0]).toMatchObject({ ms: 150, cleared: false });
    timeouts.set[0]?.run();
    const { error, operation } = await retry;
    expect(error.code).toBe('sync/timeout');
    expect(operation.attempts).toBe(0);
    expect(reportFailure).toHaveBeenCalled();
    await until(() => engine.pendingCount.value === 0);
    expect(fixture.server.received.map((request) => request.key)).toStrictEqual([op.id, op.id]);
  });

  it('network errors never exhaust maxAttempts', async () => {
    fixture.server.script('drop-before', 'drop-before', 'drop-before', 'drop-before');
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url, retry: { maxAttempts: 2 } });
    await engine.start();
    await queue('POST', '/api/x', { body: {} });
    await until(() => engine.pendingCount.value === 0);
    expect(engine.failedCount.value).toBe(0);
    expect(fixture.server.received).toHaveLength(5);
  });

  it('evaluates the headers option at send time, never storing it', async () => {
    fixture.server.script({ status: 503, retryAfter: '0' });
    let token = 'first';
    const store = new MemoryStore();
    const { engine, queue } = engineFor({
      baseUrl: fixture.server.url,
      store,
      headers: () => ({ Authorization: `Bearer ${token}` }),
    });
    await engine.start();
    // The token changes between the attempts (in the retry event, before the resend can start).
    const off = engine.events.on('retry', () => {
      token = 'second';
    });
    await queue('POST', '/api/x', { body: { a: 1 }, headers: { 'X-Source': 'editor' } });
    await until(() => engine.pendingCount.value === 0, 'the op sent after its retry');
    off();
    expect(fixture.server.received.map((request) => request.headers.authorization)).toStrictEqual([
      'Bearer first',
      'Bearer second',
    ]);
    expect(fixture.server.received.every((request) => request.headers['x-source'] === 'editor')).toBe(true);
    expect([...store.data.values()].join('')).not.toContain('Bearer');
  });

  it('a record that fails authentication is never sent: it is moved to failed as unreadable', async () => {
    const store = new MemoryStore();
    const { engine, queue, online } = engineFor({ baseUrl: fixture.server.url, store, online: false });
    await engine.start();
    const tampered = await queue('POST', '/api/secret', { body: { card: '4111' } });
    const fine = await queue('POST', '/api/fine', { body: {} });
    store.failReads.set(`p/${tampered.id}`, new FluxyError('storage/tampered', 'bad MAC'));
    const failed = nextEvent(engine, 'failed');
    online.value = true;
    const { error } = await failed;
    expect(error.code).toBe('sync/record-unreadable');
    await until(() => engine.pendingCount.value === 0);
    expect(fixture.server.received.map((request) => request.path)).toStrictEqual(['/api/fine']);
    expect(fixture.server.applied.map((entry) => entry.key)).toStrictEqual([fine.id]);
    // The next success does not hide it: lastError tells the app until the record is discarded.
    expect(engine.lastError.value).toMatchObject({ code: 'sync/record-unreadable' });
    expect(await engine.failed()).toMatchObject([{ id: tampered.id, unreadable: true }]);
    expect(await engine.discard(tampered.id)).toBe(true);
    expect(engine.failedCount.value).toBe(0);
    expect(engine.lastError.value).toBeNull();
  });
});
