import { effect } from '@preact/signals-core';
import { describe, expect, it } from 'vitest';
import { resolveSyncOptions } from '../../src/plugins/sync/options.js';
import { MemoryStore } from '../support/memory-store.js';
import { faultServerPerTest, until } from './harness.js';

// Regressions for findings of a new-user review: each failed before its fix.
const fixture = faultServerPerTest();
const { engineFor } = fixture;

describe('review regressions', () => {
  it('clearQueue() during a request in flight: nothing queued behind it is sent afterwards', async () => {
    fixture.server.script({ delayMs: 200 });
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url });
    await engine.start();
    const inFlight = await queue('POST', '/api/d', { body: {} });
    await queue('POST', '/api/e', { body: {} });
    await queue('POST', '/api/f', { body: {} });
    await fixture.server.waitForRequests(1);
    expect(await engine.clearQueue()).toBe(2);
    await engine.flush();
    expect(fixture.server.received.map((request) => request.key)).toStrictEqual([inFlight.id]);
    expect([engine.pendingCount.value, engine.status.value, engine.isSyncing.value]).toStrictEqual([
      0,
      'idle',
      false,
    ]);
  });

  it('discard() of the operation in flight resolves false once the server accepted it', async () => {
    fixture.server.script({ delayMs: 100 });
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url });
    await engine.start();
    const op = await queue('POST', '/api/x', { body: {} });
    await fixture.server.waitForRequests(1);
    expect(await engine.discard(op.id)).toBe(false);
    expect(fixture.server.applied).toHaveLength(1);
  });

  it('an op discarded while the one before it is on the wire is not sent (its read-ahead copy is dropped)', async () => {
    fixture.server.script({ delayMs: 150 });
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url });
    await engine.start();
    const first = await queue('POST', '/api/a', { body: {} });
    const second = await queue('POST', '/api/b', { body: {} });
    const third = await queue('POST', '/api/c', { body: {} });
    await fixture.server.waitForRequests(1);
    expect(await engine.discard(second.id)).toBe(true);
    await until(() => engine.pendingCount.value === 0);
    expect(fixture.server.received.map((request) => request.key)).toStrictEqual([first.id, third.id]);
  });

  it('records read ahead in one flush are read again in the next (another tab may have rewritten them)', async () => {
    const store = new MemoryStore();
    const { engine, queue, online } = engineFor({ baseUrl: fixture.server.url, online: false, store });
    await engine.start();
    engine.pause();
    online.value = true;
    const ops = [];
    for (let n = 0; n < 4; n++) ops.push(await queue('POST', `/api/${n}`, { body: { n } }));
    // The first flush stops after the first op: the next ones were read ahead meanwhile.
    const off = engine.events.on('sent', () => engine.pause());
    engine.resume();
    await until(() => engine.pendingCount.value === 3 && !engine.isSyncing.value);
    off();
    // Rewritten in storage while this tab does not send (as another tab's flush would).
    const key = `p/${ops[3]?.id}`;
    const stored = JSON.parse(store.data.get(key) as string) as { body: string; rev: number };
    store.data.set(key, JSON.stringify({ ...stored, body: '{"n":"rewritten"}', rev: stored.rev + 1 }));
    engine.resume();
    await until(() => engine.pendingCount.value === 0);
    expect(fixture.server.received.map((request) => request.body)).toStrictEqual([
      '{"n":0}',
      '{"n":1}',
      '{"n":2}',
      '{"n":"rewritten"}',
    ]);
  });

  it('retry() of an op that exhausted its attempts on 409 keeps its key (409 is not a refusal)', async () => {
    fixture.server.script({ status: 409 }, { status: 409 });
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url, retry: { maxAttempts: 2 } });
    await engine.start();
    const op = await queue('POST', '/api/x', { body: {} });
    await until(() => engine.failedCount.value === 1);
    expect((await engine.failed())[0]?.lastError).toMatchObject({ code: 'sync/max-attempts', status: 409 });
    await engine.retry(op.id);
    await until(() => engine.pendingCount.value === 0 && engine.failedCount.value === 0);
    expect(fixture.server.received.map((request) => request.key)).toStrictEqual([op.id, op.id, op.id]);
  });

  it('every status signal is consistent in every state an effect can observe', async () => {
    fixture.server.script('ok', { status: 422 }, 'ok', { status: 401 });
    const { engine, queue, online } = engineFor({ baseUrl: fixture.server.url, online: false });
    await engine.start();
    for (let n = 0; n < 5; n++) await queue('POST', `/api/${n}`, { body: {} });
    const problems: string[] = [];
    const stop = effect(() => {
      const [pending, failed, syncing, status, { total, done }] = [
        engine.pendingCount.value,
        engine.failedCount.value,
        engine.isSyncing.value,
        engine.status.value,
        engine.progress.value,
      ];
      const state = `${status} syncing=${syncing} pending=${pending} failed=${failed} ${done}/${total}`;
      if (syncing && pending + done !== total) problems.push(`progress out of step: ${state}`);
      // A manual pause() during a request shows 'paused' while that last request finishes.
      if (syncing && status !== 'syncing' && status !== 'paused')
        problems.push(`syncing but status ${state}`);
      if (status === 'syncing' && !syncing) problems.push(`status syncing but not sending: ${state}`);
      if (done > total) problems.push(`done above total: ${state}`);
    });
    online.value = true;
    await until(() => engine.status.value === 'paused');
    expect(engine.isSyncing.value).toBe(false); // the 401 answered: nothing is going out
    const afterPause: string[] = [];
    const watch = effect(() => void afterPause.push(engine.status.value));
    engine.resume();
    await until(() => engine.pendingCount.value === 0 && !engine.isSyncing.value);
    watch();
    stop();
    expect(problems, problems.join('\n')).toStrictEqual([]);
    expect(afterPause.slice(0, 2)).toStrictEqual(['paused', 'syncing']);
    expect(engine.failedCount.value).toBe(1);
  });

  it('a duplicate tempId, or a tempId on GET/DELETE, is refused and stores nothing', async () => {
    const store = new MemoryStore();
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url, online: false, store });
    await engine.start();
    await queue('POST', '/api/notes', { body: {}, tempId: 'tmp_once_0001' });
    const before = [...store.data.keys()];
    await expect(queue('POST', '/api/notes', { body: {}, tempId: 'tmp_once_0001' })).rejects.toMatchObject({
      code: 'sync/invalid-options',
    });
    await expect(queue('DELETE', '/api/notes/1', { tempId: 'tmp_once_0002' })).rejects.toMatchObject({
      code: 'sync/invalid-options',
    });
    expect([...store.data.keys()]).toStrictEqual(before);
  });

  it('durations above what timers accept are refused', () => {
    for (const options of [
      { timeoutMs: 2 ** 31 },
      { intervalMs: 2 ** 40 },
      { retry: { maxDelayMs: 2 ** 31 } },
    ]) {
      expect(() => resolveSyncOptions(options)).toThrow(
        expect.objectContaining({ code: 'sync/invalid-options' }),
      );
    }
    expect(() => resolveSyncOptions({ headers: { 'X-Name': 'é€' } })).toThrow(/Latin-1/);
  });
});
