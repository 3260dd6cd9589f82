import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../support/memory-store.js';
import { faultServerPerTest, makeEngine, until } from './harness.js';

const fixture = faultServerPerTest();
const { engineFor } = fixture;

describe('lifecycle and management', () => {
  it('dispose() aborts the request in flight; the operation stays queued with its attempts untouched', async () => {
    fixture.server.script('hang');
    const store = new MemoryStore();
    const { engine, queue } = makeEngine({ baseUrl: fixture.server.url, store });
    await engine.start();
    const op = await queue('POST', '/api/x', { body: {} });
    await fixture.server.waitForRequests(1);
    expect(engine.isSyncing.value).toBe(true);
    await engine.dispose();
    expect(JSON.parse(store.data.get(`p/${op.id}`) ?? 'null')).toMatchObject({ id: op.id, attempts: 0 });
    await expect(queue('POST', '/api/y')).rejects.toMatchObject({ code: 'app/disposed' });
    const next = engineFor({ baseUrl: fixture.server.url, store });
    await next.engine.start();
    await until(() => next.engine.pendingCount.value === 0);
    expect(fixture.server.applied.map((entry) => entry.key)).toStrictEqual([op.id]);
  });

  it('flush() is not re-entrant: concurrent calls share one run and each op is sent once', async () => {
    fixture.server.script({ delayMs: 30 });
    const { engine, queue, online } = engineFor({ baseUrl: fixture.server.url, online: false });
    await engine.start();
    for (let n = 0; n < 3; n++) await queue('POST', `/api/${n}`, { body: {} });
    online.value = true;
    const runs = await Promise.all([engine.flush(), engine.flush(), engine.flush()]);
    expect(runs[0]).toBe(runs[1]);
    await until(() => engine.pendingCount.value === 0);
    expect(fixture.server.received).toHaveLength(3);
  });

  it('an operation whose write is still committing is sent before a later one that committed first', async () => {
    const store = new MemoryStore();
    const realSet = store.set.bind(store);
    let releaseFirst: () => void = () => {};
    let calls = 0;
    store.set = async (key, value) => {
      if (key.startsWith('p/') && calls++ === 0)
        await new Promise<void>((resolve) => (releaseFirst = resolve));
      return realSet(key, value);
    };
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url, store });
    await engine.start();
    const first = queue('POST', '/api/first', { body: {} });
    const second = await queue('POST', '/api/second', { body: {} });
    expect(fixture.server.received).toHaveLength(0);
    releaseFirst();
    const firstOp = await first;
    await until(() => engine.pendingCount.value === 0);
    expect(fixture.server.applied.map((entry) => entry.key)).toStrictEqual([firstOp.id, second.id]);
  });

  it('a failed write (e.g. quota) rejects queue() and stores nothing', async () => {
    const store = new MemoryStore();
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url, store, online: false });
    await engine.start();
    store.failWrites = Object.assign(new Error('full'), { code: 'storage/quota-exceeded' });
    await expect(queue('POST', '/api/x', { body: {} })).rejects.toThrow('full');
    expect(engine.pendingCount.value).toBe(0);
    expect(store.data.size).toBe(0);
  });

  it('discard() removes a pending operation so it is never sent; unknown ids resolve false', async () => {
    const { engine, queue, online } = engineFor({ baseUrl: fixture.server.url, online: false });
    await engine.start();
    const a = await queue('POST', '/api/a', { body: {} });
    const b = await queue('POST', '/api/b', { body: {} });
    expect(await engine.discard(a.id)).toBe(true);
    expect(await engine.discard(a.id)).toBe(false);
    expect(engine.pendingCount.value).toBe(1);
    online.value = true;
    await until(() => engine.pendingCount.value === 0);
    expect(fixture.server.applied.map((entry) => entry.key)).toStrictEqual([b.id]);
  });

  it('retry() of a refused (4xx) operation keeps its id and place but sends a new key generation', async () => {
    fixture.server.script({ status: 400 });
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url });
    await engine.start();
    const op = await queue('POST', '/api/a', { body: { v: 1 } });
    await until(() => engine.failedCount.value === 1);
    expect(await engine.retry(op.id)).toBe(1);
    await until(() => engine.pendingCount.value === 0 && engine.failedCount.value === 0);
    // A contract-following server replays its stored refusal for the old key: a new key is needed.
    expect(fixture.server.received.map((request) => request.key)).toStrictEqual([op.id, `${op.id}.1`]);
    expect(fixture.server.applied).toHaveLength(1);
  });

  it('clearQueue() removes pending and failed operations', async () => {
    fixture.server.script({ status: 404 });
    const { engine, queue, online, store } = engineFor({ baseUrl: fixture.server.url });
    await engine.start();
    await queue('DELETE', '/api/gone');
    await until(() => engine.failedCount.value === 1);
    online.value = false;
    await queue('POST', '/api/a', { body: {} });
    await queue('POST', '/api/b', { body: {} });
    expect(await engine.clearQueue()).toBe(3);
    expect([engine.pendingCount.value, engine.failedCount.value]).toStrictEqual([0, 0]);
    expect(await store.keys()).toStrictEqual([]);
  });

  it('pause() stops sending until resume()', async () => {
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url });
    await engine.start();
    engine.pause();
    expect(engine.status.value).toBe('paused');
    await queue('POST', '/api/a', { body: {} });
    expect(await engine.flush()).toStrictEqual({ sent: 0, failed: 0, remaining: 1 });
    expect(fixture.server.received).toHaveLength(0);
    engine.resume();
    await until(() => engine.pendingCount.value === 0);
    expect(fixture.server.applied).toHaveLength(1);
  });

  it('a crash between the two writes of a move leaves one copy after restart (the newer)', async () => {
    fixture.server.script({ status: 400 });
    const store = new MemoryStore();
    const first = makeEngine({ baseUrl: fixture.server.url, store });
    await first.engine.start();
    const op = await first.queue('POST', '/api/a', { body: {} });
    await until(() => first.engine.failedCount.value === 1);
    await first.engine.dispose();
    // Re-create the pending copy as if the process died before removing it.
    const failedCopy = JSON.parse(store.data.get(`f/${op.id}`) ?? '{}') as { rev: number };
    store.data.set(
      `p/${op.id}`,
      JSON.stringify({ ...failedCopy, rev: failedCopy.rev - 1, lastError: undefined }),
    );
    const second = engineFor({ baseUrl: fixture.server.url, store, online: false });
    await second.engine.start();
    expect([second.engine.pendingCount.value, second.engine.failedCount.value]).toStrictEqual([0, 1]);
    expect(await store.keys()).toStrictEqual([`f/${op.id}`]);
  });
});
