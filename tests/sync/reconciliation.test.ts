import { describe, expect, it, vi } from 'vitest';
import { type OperationRecord, toOperation } from '../../src/plugins/sync/operation.js';
import {
  type FailedOutcome,
  OutcomeLog,
  type OutcomeRecord,
  type SentOutcome,
} from '../../src/plugins/sync/outcomes.js';
import { WriteGroup } from '../../src/plugins/sync/write-group.js';
import { TestLockManager } from '../support/lock-manager.js';
import { MemoryStore } from '../support/memory-store.js';
import { faultServerPerTest, makeEngine, silentLogger, until } from './harness.js';

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
    const unhandled = await queue('POST', '/api/other', { body: {}, kind: 'no.handler' });
    online.value = true;
    await until(() => engine.pendingCount.value === 0);
    expect(failed.map((outcome) => [outcome.operation.id, outcome.error.status])).toStrictEqual([
      [bad.id, 400],
    ]);
    expect(failed[0]?.operation).toMatchObject({ meta: { localId: 'L1' } });
    expect(sent.map((outcome) => [outcome.operation.id, outcome.serverId, outcome.status])).toStrictEqual([
      [good.id, 'srv-1', 201],
    ]);
    // Delivered outcomes are forgotten; one of a kind with no handler waits for one.
    expect(await store.keys('o/')).toStrictEqual([`o/${unhandled.id}`]);
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
    // Each stored outcome is checked against storage when its turn comes (not a listing made before).
    await vi.waitFor(() => expect(store.data.has(`o/${stillPending.id}`)).toBe(false));
    expect(seen).toStrictEqual([`${delivered.id} {"serverId":"srv-x"}`]);
    second.online.value = true;
    await until(() => second.engine.pendingCount.value === 0);
    expect(seen).toHaveLength(2);
  });

  it('handlers unsubscribed at once (outcomes.ts still loading) never run; the outcome stays stored', async () => {
    const store = new MemoryStore();
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url, store });
    const seen: string[] = [];
    const off = engine.handle('k', { sent: ({ operation }) => void seen.push(operation.id) });
    off();
    await engine.start();
    const op = await queue('POST', '/api/a', { body: {}, kind: 'k' });
    await until(() => engine.pendingCount.value === 0, 'the op sent');
    await vi.waitFor(() => expect(store.data.has(`o/${op.id}`)).toBe(true));
    engine.handle('k', { sent: ({ operation }) => void seen.push(operation.id) });
    await vi.waitFor(() => expect(store.data.has(`o/${op.id}`)).toBe(false));
    expect(seen).toStrictEqual([op.id]);
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

  it('a handler registered only after the refusal runs once, and the stored outcome is then removed', async () => {
    fixture.server.script({ status: 422 });
    const { engine, queue, store } = engineFor({ baseUrl: fixture.server.url });
    await engine.start();
    const op = await queue('POST', '/api/notes', { body: {}, kind: 'note.create', meta: { localId: 'L7' } });
    await until(() => engine.failedCount.value === 1 && !engine.isSyncing.value);
    expect(await store.keys('o/')).toStrictEqual([`o/${op.id}`]);
    const runs: FailedOutcome[] = [];
    const ran = new Promise<void>((resolve) => {
      engine.handle('note.create', {
        failed: (outcome) => {
          runs.push(outcome);
          resolve();
        },
      });
    });
    // A second registration (another component) right away must not deliver it twice.
    engine.handle('note.create', {});
    await ran;
    await vi.waitFor(async () => expect(await store.keys('o/')).toStrictEqual([]));
    engine.handle('note.create', { failed: (outcome) => void runs.push(outcome) });
    await engine.flush();
    await vi.waitFor(async () => expect(await store.keys('o/')).toStrictEqual([]));
    expect(runs.map((outcome) => [outcome.operation.id, outcome.error.status])).toStrictEqual([[op.id, 422]]);
    expect(runs[0]?.operation).toMatchObject({ meta: { localId: 'L7' } });
  });

  it('a new engine over the same storage, with the handler, runs it once for an outcome nobody handled', async () => {
    fixture.server.script({ status: 409 }, 'ok');
    const store = new MemoryStore();
    const first = makeEngine({ baseUrl: fixture.server.url, store, retry: { maxAttempts: 1 } });
    await first.engine.start();
    const refused = await first.queue('POST', '/api/a', { body: {}, kind: 'k' });
    const accepted = await first.queue('POST', '/api/b', { body: {}, kind: 'k', tempId: 'tmp_later_0001' });
    await until(() => first.engine.pendingCount.value === 0 && !first.engine.isSyncing.value);
    await first.engine.dispose();
    expect((await store.keys('o/')).length).toBe(2);
    const seen: string[] = [];
    const handlers = {
      sent: ({ operation, serverId }: SentOutcome) => void seen.push(`sent ${operation.id} ${serverId}`),
      failed: ({ operation, error }: FailedOutcome) => void seen.push(`failed ${operation.id} ${error.code}`),
    };
    for (let session = 0; session < 2; session++) {
      const next = engineFor({ baseUrl: fixture.server.url, store, online: false });
      next.engine.handle('k', handlers);
      await next.engine.start();
      await vi.waitFor(async () => expect(await store.keys('o/')).toStrictEqual([]));
      await next.engine.dispose();
    }
    expect(seen).toStrictEqual([`failed ${refused.id} sync/max-attempts`, `sent ${accepted.id} srv-1`]);
  });

  it('a handler in a tab that does not flush runs once that tab takes over', async () => {
    fixture.server.script({ status: 400 });
    const store = new MemoryStore();
    const locks = new TestLockManager();
    const channel = `handover-${Math.random()}`;
    const sender = makeEngine({ baseUrl: fixture.server.url, store, locks, channel });
    const other = engineFor({ baseUrl: fixture.server.url, store, locks, channel });
    const runs: string[] = [];
    other.engine.handle('k', { failed: ({ operation }) => void runs.push(operation.id) });
    await sender.engine.start();
    await other.engine.start();
    const op = await sender.queue('POST', '/api/a', { body: {}, kind: 'k' });
    await until(() => sender.engine.failedCount.value === 1 && !sender.engine.isSyncing.value);
    expect(runs).toStrictEqual([]);
    await sender.engine.dispose();
    await vi.waitFor(() => expect(runs).toStrictEqual([op.id]));
    await vi.waitFor(async () => expect(await store.keys('o/')).toStrictEqual([]));
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

describe('stored outcomes (OutcomeLog)', () => {
  /** Stores an outcome on its own (the engine commits it with the operation's leaving the queue). */
  const record = async (log: OutcomeLog, store: MemoryStore, outcome: OutcomeRecord) => {
    const group = new WriteGroup();
    log.stageRecord(group, outcome);
    await group.commit(store);
  };
  const outcomeOf = (n: number, kind = 'nobody'): OutcomeRecord => {
    const id = `01a000000000-${n.toString(16).padStart(4, '0')}-0000000000000000`;
    const record: OperationRecord = {
      v: 1,
      id,
      method: 'POST',
      url: '/x',
      createdAt: 0,
      attempts: 1,
      rev: 1,
      kind,
    };
    return {
      v: 1,
      type: 'failed',
      record,
      error: { code: 'sync/http-error', message: '422', status: 422, at: 0 },
    };
  };

  it('outcomes of a kind nobody handles are capped: the oldest are dropped, with one warning', async () => {
    const store = new MemoryStore();
    const warnings: unknown[] = [];
    const log = new OutcomeLog(
      store,
      { ...silentLogger, warn: (...args) => void warnings.push(args) },
      toOperation,
      () => false,
      undefined,
      undefined,
      3,
    );
    for (let n = 1; n <= 5; n++) {
      const outcome = outcomeOf(n);
      await record(log, store, outcome);
      await log.deliver(outcome);
    }
    expect(await store.keys('o/')).toStrictEqual([3, 4, 5].map((n) => `o/${outcomeOf(n).record.id}`));
    expect(warnings).toHaveLength(1);
    const seen: string[] = [];
    log.handle('nobody', { failed: ({ operation }) => void seen.push(operation.id) });
    await log.deliverStored(() => false);
    expect(seen).toStrictEqual([3, 4, 5].map((n) => outcomeOf(n).record.id));
    expect(await store.keys('o/')).toStrictEqual([]);
  });

  it('overlapping deliveries run each handler once per outcome', async () => {
    const store = new MemoryStore();
    const log = new OutcomeLog(store, silentLogger, toOperation);
    const seen: string[] = [];
    log.handle('k', {
      failed: async ({ operation }) => {
        await new Promise((resolve) => setImmediate(resolve));
        seen.push(operation.id);
      },
    });
    const stored = [outcomeOf(1, 'k'), outcomeOf(2, 'k')];
    for (const outcome of stored) await store.set(`o/${outcome.record.id}`, outcome);
    const fresh = outcomeOf(3, 'k');
    await record(log, store, fresh);
    await Promise.all([log.deliverStored(() => false), log.deliverStored(() => false), log.deliver(fresh)]);
    expect(seen.sort()).toStrictEqual([1, 2, 3].map((n) => outcomeOf(n).record.id));
    expect(await store.keys('o/')).toStrictEqual([]);
  });
});
