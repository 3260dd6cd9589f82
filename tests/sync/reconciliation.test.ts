import { describe, expect, it, vi } from 'vitest';
import type { FailedOutcome, SentOutcome } from '../../src/plugins/sync/outcomes.js';
import { TestLockManager } from '../support/lock-manager.js';
import { MemoryStore } from '../support/memory-store.js';
import { faultServerPerTest, makeEngine, until } from './harness.js';

const fixture = faultServerPerTest();
const { engineFor } = fixture;

describe('temporary ids', () => {
  it('the server id replaces a temp id in the URL and body of every later operation', async () => {
    const { engine, queue, online } = engineFor({ baseUrl: fixture.server.url, online: false });
    await engine.start();
    const sentIds: Array<string | undefined> = [];
    engine.events.on('sent', ({ serverId }) => sentIds.push(serverId));
    await queue('POST', '/api/notes', {
      body: { title: 'a', clientId: 'tmp_note_0001' },
      tempId: 'tmp_note_0001',
    });
    await queue('PATCH', '/api/notes/tmp_note_0001', { body: { title: 'b' } });
    await queue('POST', '/api/links', { body: { from: 'tmp_note_0001', to: 'other' } });
    online.value = true;
    await until(() => engine.pendingCount.value === 0);
    expect(fixture.server.applied.map((entry) => `${entry.method} ${entry.path}`)).toStrictEqual([
      'POST /api/notes',
      'PATCH /api/notes/srv-1',
      'POST /api/links',
    ]);
    expect(fixture.server.applied[0]?.body).toStrictEqual({ title: 'a', clientId: 'tmp_note_0001' });
    expect(fixture.server.applied[2]?.body).toStrictEqual({ from: 'srv-1', to: 'other' });
    expect(sentIds).toStrictEqual(['srv-1', undefined, undefined]);
    expect(await engine.resolveId('tmp_note_0001')).toBe('srv-1');
  });

  it('an operation queued after the create succeeded is rewritten too', async () => {
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url });
    await engine.start();
    await queue('POST', '/api/notes', { body: {}, tempId: 'tmp_note_0002' });
    await until(() => engine.pendingCount.value === 0);
    await queue('DELETE', '/api/notes/tmp_note_0002');
    await until(() => engine.pendingCount.value === 0);
    expect(fixture.server.applied.map((entry) => entry.path)).toStrictEqual([
      '/api/notes',
      '/api/notes/srv-1',
    ]);
  });

  it('the rewrite is durable: a restart between the create and its dependents still sends the server id', async () => {
    const store = new MemoryStore();
    const first = makeEngine({ baseUrl: fixture.server.url, store, online: false });
    await first.engine.start();
    await first.queue('POST', '/api/notes', { body: {}, tempId: 'tmp_note_0003' });
    await first.queue('PUT', '/api/notes/tmp_note_0003', { body: { v: 2 } });
    fixture.server.script('ok', 'hang');
    first.online.value = true;
    await fixture.server.waitForRequests(2);
    await first.engine.dispose();
    const second = engineFor({ baseUrl: fixture.server.url, store });
    await second.engine.start();
    await until(() => second.engine.pendingCount.value === 0);
    expect(fixture.server.received.map((request) => request.path)).toStrictEqual([
      '/api/notes',
      '/api/notes/srv-1',
      '/api/notes/srv-1',
    ]);
    expect(fixture.server.applied.map((entry) => entry.path)).toStrictEqual([
      '/api/notes',
      '/api/notes/srv-1',
    ]);
  });

  it('dependents of a refused create fail with sync/dependency-failed; retry() of all sends them resolved', async () => {
    fixture.server.script({ status: 422 });
    const { engine, queue, online } = engineFor({ baseUrl: fixture.server.url, online: false });
    await engine.start();
    const create = await queue('POST', '/api/notes', { body: {}, tempId: 'tmp_note_0004' });
    const edit = await queue('PATCH', '/api/notes/tmp_note_0004', { body: { t: 1 } });
    online.value = true;
    await until(() => engine.failedCount.value === 2);
    const failed = await engine.failed();
    expect(failed.map((op) => op.lastError?.code)).toStrictEqual([
      'sync/http-error',
      'sync/dependency-failed',
    ]);
    expect(fixture.server.received).toHaveLength(1);
    expect(await engine.retry()).toBe(2);
    await until(() => engine.pendingCount.value === 0 && engine.failedCount.value === 0);
    expect(fixture.server.received.map((request) => `${request.key} ${request.path}`)).toStrictEqual([
      `${create.id} /api/notes`,
      `${create.id}.1 /api/notes`,
      `${edit.id}.1 /api/notes/srv-1`,
    ]);
  });
});

describe('temporary ids across tabs', () => {
  it('an op queued in another tab that did not know the temp id yet is still rewritten', async () => {
    const store = new MemoryStore();
    const locks = new TestLockManager();
    const channel = `tmp-tabs-${Math.random()}`;
    const tabA = engineFor({ baseUrl: fixture.server.url, store, locks, channel, online: false });
    const tabB = engineFor({ baseUrl: fixture.server.url, store, locks, channel, online: false });
    await tabA.engine.start();
    await tabB.engine.start();
    // Tab B (not the sender: A holds the lock) creates; tab A hears of the note, as its UI
    // would after the queue's own message, and edits it — A never saw the temp id introduced.
    await tabB.queue('POST', '/api/notes', { body: { title: 'x' }, tempId: 'tmp_cross_0001' });
    await until(() => tabA.engine.pendingCount.value === 1);
    await tabA.queue('PATCH', '/api/notes/tmp_cross_0001', { body: { title: 'y' } });
    await until(() => tabA.engine.pendingCount.value === 2 && tabB.engine.pendingCount.value === 2);
    tabA.online.value = true;
    tabB.online.value = true;
    await until(() => tabA.engine.pendingCount.value === 0 && tabB.engine.pendingCount.value === 0);
    expect(fixture.server.applied.map((entry) => `${entry.method} ${entry.path}`)).toStrictEqual([
      'POST /api/notes',
      'PATCH /api/notes/srv-1',
    ]);
  });
});

describe('discarding a create', () => {
  it('fails the operations that refer to its temporary id instead of sending an id the server never issued', async () => {
    const { engine, queue, online } = engineFor({ baseUrl: fixture.server.url, online: false });
    await engine.start();
    const create = await queue('POST', '/api/notes', { body: {}, tempId: 'tmp_note_0006' });
    await queue('DELETE', '/api/notes/tmp_note_0006');
    const unrelated = await queue('POST', '/api/other', { body: {} });
    expect(await engine.discard(create.id)).toBe(true);
    online.value = true;
    await until(() => engine.pendingCount.value === 0);
    expect(fixture.server.received.map((request) => request.key)).toStrictEqual([unrelated.id]);
    expect((await engine.failed()).map((op) => op.lastError?.code)).toStrictEqual(['sync/dependency-failed']);
  });
});

describe('durable outcome handlers', () => {
  it('sent and failed handlers run once per outcome, with the response and the server id', async () => {
    fixture.server.script({ status: 400 });
    const { engine, queue, online, store } = engineFor({ baseUrl: fixture.server.url, online: false });
    const sent: SentOutcome[] = [];
    const failed: FailedOutcome[] = [];
    engine.handle('note.create', {
      sent: (outcome) => void sent.push(outcome),
      failed: (outcome) => void failed.push(outcome),
    });
    await engine.start();
    const bad = await queue('POST', '/api/notes', { body: {}, kind: 'note.create', meta: { localId: 'L1' } });
    const good = await queue('POST', '/api/notes', {
      body: {},
      kind: 'note.create',
      tempId: 'tmp_note_0005',
    });
    await queue('POST', '/api/other', { body: {}, kind: 'no.handler' });
    online.value = true;
    await until(() => engine.pendingCount.value === 0);
    expect(failed.map((outcome) => [outcome.operation.id, outcome.error.status])).toStrictEqual([
      [bad.id, 400],
    ]);
    expect(failed[0]?.operation).toMatchObject({ meta: { localId: 'L1' } });
    expect(sent.map((outcome) => [outcome.operation.id, outcome.serverId, outcome.status])).toStrictEqual([
      [good.id, 'srv-1', 201],
    ]);
    expect(await store.keys('o/')).toStrictEqual([]);
  });

  it('an outcome stored before a crash is delivered by the next session; one whose op is still pending is dropped', async () => {
    const store = new MemoryStore();
    const first = makeEngine({ baseUrl: fixture.server.url, store, online: false });
    await first.engine.start();
    const delivered = await first.queue('POST', '/api/a', { body: {}, kind: 'k' });
    const stillPending = await first.queue('POST', '/api/b', { body: {}, kind: 'k' });
    await first.engine.dispose();
    // As if the first session crashed after storing the outcome of `delivered` and removing it,
    // and after storing an outcome of `stillPending` but before removing it from the queue.
    const recordOf = (id: string) => JSON.parse(store.data.get(`p/${id}`) ?? '{}') as unknown;
    store.data.set(
      `o/${delivered.id}`,
      JSON.stringify({
        v: 1,
        type: 'sent',
        record: recordOf(delivered.id),
        status: 201,
        response: { serverId: 'srv-x' },
      }),
    );
    store.data.delete(`p/${delivered.id}`);
    store.data.set(
      `o/${stillPending.id}`,
      JSON.stringify({ v: 1, type: 'sent', record: recordOf(stillPending.id), status: 201, response: {} }),
    );
    const second = engineFor({ baseUrl: fixture.server.url, store, online: false });
    const seen: string[] = [];
    second.engine.handle('k', {
      sent: ({ operation, response }) => void seen.push(`${operation.id} ${JSON.stringify(response)}`),
    });
    await second.engine.start();
    await until(() => second.engine.pendingCount.value === 1);
    await vi.waitFor(() => expect(store.data.has(`o/${delivered.id}`)).toBe(false));
    expect(seen).toStrictEqual([`${delivered.id} {"serverId":"srv-x"}`]);
    expect(store.data.has(`o/${stillPending.id}`)).toBe(false);
    second.online.value = true;
    await until(() => second.engine.pendingCount.value === 0);
    expect(seen).toHaveLength(2);
  });

  it('a throwing handler is logged and does not stop the queue', async () => {
    const errors: unknown[] = [];
    const logger = {
      debug() {},
      info() {},
      warn() {},
      error: (...args: unknown[]) => void errors.push(args),
    };
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url, logger });
    engine.handle('k', {
      sent: () => {
        throw new Error('handler bug');
      },
    });
    await engine.start();
    await queue('POST', '/api/a', { body: {}, kind: 'k' });
    await queue('POST', '/api/b', { body: {}, kind: 'k' });
    await until(() => engine.pendingCount.value === 0);
    expect(fixture.server.applied).toHaveLength(2);
    expect(errors).toHaveLength(2);
  });

  it('with two tabs, a handler runs once per outcome (in the flushing tab only)', async () => {
    const store = new MemoryStore();
    const locks = new TestLockManager();
    const channel = `handlers-${Math.random()}`;
    const runs: string[] = [];
    const tabs = [0, 1].map((index) => {
      const tab = engineFor({ baseUrl: fixture.server.url, store, locks, channel, online: false });
      tab.engine.handle('k', { sent: ({ operation }) => void runs.push(`${index}:${operation.id}`) });
      return tab;
    });
    for (const tab of tabs) await tab.engine.start();
    const op = await tabs[1]?.queue('POST', '/api/a', { body: {}, kind: 'k' });
    await until(() => tabs.every((tab) => tab.engine.pendingCount.value === 1));
    for (const tab of tabs) tab.online.value = true;
    await until(() => tabs.every((tab) => tab.engine.pendingCount.value === 0));
    expect(runs).toStrictEqual([`0:${op?.id}`]);
  });
});
