import { describe, expect, it, vi } from 'vitest';
import { sha256Hex } from '../../src/plugins/sync/digest.js';
import type { OperationRecord } from '../../src/plugins/sync/operation.js';
import { substituteTempIds } from '../../src/plugins/sync/temp-id-tokens.js';
import { TempIds } from '../../src/plugins/sync/temp-ids.js';
import { WriteGroup } from '../../src/plugins/sync/write-group.js';
import { TestLockManager } from '../support/lock-manager.js';
import { MemoryStore } from '../support/memory-store.js';
import { faultServerPerTest, until } from './harness.js';

/** Stores that operation `operationId` introduces `tempId`, on its own (the engine commits it with the operation). */
async function introduce(
  tempIds: TempIds,
  store: MemoryStore,
  tempId: string,
  operationId: string,
): Promise<void> {
  const group = new WriteGroup();
  tempIds.stageIntroduce(group, tempId, operationId);
  await group.commit(store);
}

/** Stores the outcome of the create that introduced `tempId`, on its own. */
async function settle(
  tempIds: TempIds,
  store: MemoryStore,
  tempId: string,
  operationId: string,
  outcome: { serverId: string } | { failed: true },
): Promise<void> {
  const group = new WriteGroup();
  tempIds.stageSettle(group, tempId, operationId, outcome);
  await group.commit(store);
}

/** Where a temporary id's record is kept: under a digest of it, not under the id itself. */
const slotOf = (tempId: string) => `#${sha256Hex(tempId).slice(0, 32)}`;
const keysOf = (...tempIds: string[]) => tempIds.map((tempId) => `t/${slotOf(tempId)}`).sort();

const fixture = faultServerPerTest();
const { engineFor } = fixture;

describe('a temporary id is matched only as a whole token', () => {
  it('a longer temp id and free text that merely contain it are left alone (review reproducer)', async () => {
    const { engine, queue, online } = engineFor({ baseUrl: fixture.server.url, online: false });
    await engine.start();
    await queue('POST', '/api/notes', { body: { title: 'one' }, tempId: 'note-0001' });
    await queue('POST', '/api/notes', { body: { title: 'two' }, tempId: 'note-00012' });
    await queue('PATCH', '/api/notes/note-00012', { body: { text: 'see note-0001x' } });
    online.value = true;
    await until(() => engine.pendingCount.value === 0);
    expect(fixture.server.applied.map((entry) => `${entry.method} ${entry.path}`)).toStrictEqual([
      'POST /api/notes',
      'POST /api/notes',
      'PATCH /api/notes/srv-2',
    ]);
    expect(fixture.server.applied[2]?.body).toStrictEqual({ text: 'see note-0001x' });
  });

  it('path segments, query values, whole JSON strings, array items and keys are rewritten; text inside strings is not', async () => {
    const { engine, queue, online } = engineFor({ baseUrl: fixture.server.url, online: false });
    await engine.start();
    await queue('POST', '/api/notes', { body: { clientId: 'note-0001' }, tempId: 'note-0001' });
    await queue('POST', '/api/notes/note-0001/items?note=note-0001&x=1', {
      body: {
        noteId: 'note-0001',
        ids: ['note-0001', 'other'],
        byNote: { 'note-0001': 1 },
        text: 'see note-0001',
        quoted: 'say "note-0001"',
        file: 'note-0001.json',
      },
    });
    await queue('DELETE', '/api/files/note-0001.json');
    online.value = true;
    await until(() => engine.pendingCount.value === 0);
    expect(fixture.server.applied.map((entry) => entry.path)).toStrictEqual([
      '/api/notes',
      '/api/notes/srv-1/items?note=srv-1&x=1',
      '/api/files/note-0001.json',
    ]);
    expect(fixture.server.applied[0]?.body).toStrictEqual({ clientId: 'note-0001' });
    expect(fixture.server.applied[1]?.body).toStrictEqual({
      noteId: 'srv-1',
      ids: ['srv-1', 'other'],
      byNote: { 'srv-1': 1 },
      text: 'see note-0001',
      quoted: 'say "note-0001"',
      file: 'note-0001.json',
    });
  });
});

describe('matching rules (TempIds.referencesIn, substituteTempIds)', () => {
  async function known(...tempIds: string[]): Promise<TempIds> {
    const store = new MemoryStore();
    const registry = new TempIds(store);
    for (const [index, tempId] of tempIds.entries()) await introduce(registry, store, tempId, `op-${index}`);
    return registry;
  }

  it.each([
    ['/notes/note-0001', true],
    ['/notes/note-0001/items', true],
    ['/notes?id=note-0001', true],
    ['/notes?id=note-0001&x=1', true],
    ['/notes?ids=a,note-0001,b', true],
    ['/notes/note-0001#top', true],
    ['/notes/note-0001:archive', true],
    ['/notes?q=%22note-0001%22', true],
    ['/notes/a%2Fnote-0001', true],
    ['https://api.example.com/notes/note-0001', true],
    ['/notes/note-00012', false],
    ['/notes/xnote-0001', false],
    ['/notes/note-0001x', false],
    ['/notes/note-0001.json', false],
    ['/notes/note-0001_v2', false],
    ['/notes/note-0001~1', false],
    ['/notes/v1-note-0001', false],
    ['/notes/%41note-0001', false],
    ['/notes/note-0001%2E', false],
  ])('URL %s mentions note-0001: %s', async (url, expected) => {
    expect((await known('note-0001')).referencesIn(url)).toStrictEqual(expected ? ['note-0001'] : []);
  });

  it.each([
    ['{"noteId":"note-0001"}', true],
    ['["a","note-0001"]', true],
    ['{"note-0001":{"pos":1}}', true],
    ['"note-0001"', true],
    ['{"text":"see note-0001"}', false],
    ['{"text":"note-0001 "}', false],
    ['{"text":"note-0001x"}', false],
    ['{"text":"say \\"note-0001\\""}', false],
    ['{"text":"\\\\","b":"x note-0001"}', false],
    ['{"path":"/notes/note-0001"}', false],
  ])('body %s mentions note-0001: %s', async (body, expected) => {
    expect((await known('note-0001')).referencesIn('/x', body)).toStrictEqual(expected ? ['note-0001'] : []);
  });

  it('overlapping temp ids each match only themselves, and replacement is one pass', async () => {
    const tempIds = await known('note-0001', 'note-00012', 'note-0001.v2');
    expect(tempIds.referencesIn('/n/note-00012', '{"a":"note-0001.v2","b":"note-0001"}')).toStrictEqual([
      'note-00012',
      'note-0001.v2',
      'note-0001',
    ]);
    const replacements = new Map([
      ['note-0001', 'note-00012'], // a server id that looks like another temp id is not rewritten again
      ['note-00012', 'srv 2/β'],
      ['note-0001.v2', 'srv-3'],
    ]);
    expect(
      substituteTempIds(
        '/n/note-00012/note-0001',
        '{"a":"note-0001.v2","b":"note-0001","c":"note-0001 x"}',
        replacements,
      ),
    ).toStrictEqual({
      url: '/n/srv%202%2F%CE%B2/note-00012',
      bodyText: '{"a":"srv-3","b":"note-00012","c":"note-0001 x"}',
    });
  });
});

describe('settled temporary ids are forgotten', () => {
  it('once the creates and the ops that refer to them are sent, the t/ records are removed', async () => {
    const { engine, queue, online, store } = engineFor({
      baseUrl: fixture.server.url,
      online: false,
      tempIdRetentionMs: 0,
    });
    await engine.start();
    await queue('POST', '/api/notes', { body: {}, tempId: 'tmp_gc_0001' });
    await queue('POST', '/api/notes', { body: {}, tempId: 'tmp_gc_0002' });
    await queue('PATCH', '/api/notes/tmp_gc_0001', { body: { link: 'tmp_gc_0002' } });
    expect(await store.keys('t/')).toStrictEqual(keysOf('tmp_gc_0001', 'tmp_gc_0002'));
    online.value = true;
    await until(() => engine.pendingCount.value === 0);
    await vi.waitFor(async () => expect(await store.keys('t/')).toStrictEqual([]));
    expect(fixture.server.applied[2]).toMatchObject({ path: '/api/notes/srv-1', body: { link: 'srv-2' } });
    // Forgotten in memory too: the engine no longer resolves it.
    expect(await engine.resolveId('tmp_gc_0001')).toBeUndefined();
  });

  it('a settled mapping is kept for the retention time (an op queued after the create still gets the server id)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { engine, queue, store } = engineFor({ baseUrl: fixture.server.url });
    await engine.start();
    await queue('POST', '/api/notes', { body: {}, tempId: 'tmp_keep_0001' });
    await until(() => engine.pendingCount.value === 0);
    await queue('DELETE', '/api/notes/tmp_keep_0001');
    await until(() => engine.pendingCount.value === 0);
    expect(fixture.server.applied.map((entry) => entry.path)).toStrictEqual([
      '/api/notes',
      '/api/notes/srv-1',
    ]);
    expect(await store.keys('t/')).toStrictEqual(keysOf('tmp_keep_0001'));
    vi.setSystemTime(Date.now() + 10 * 60_000);
    engine.wake(); // the periodic look for work also collects
    await vi.waitFor(async () => expect(await store.keys('t/')).toStrictEqual([]));
  });

  it('a failed op that mentions a temp id keeps its mapping, so retry() still resolves it', async () => {
    fixture.server.script('ok', { status: 422 });
    const { engine, queue, online, store } = engineFor({
      baseUrl: fixture.server.url,
      online: false,
      tempIdRetentionMs: 0,
    });
    await engine.start();
    await queue('POST', '/api/notes', { body: {}, tempId: 'tmp_fail_000A' }); // srv-1
    await queue('POST', '/api/notes', { body: {}, tempId: 'tmp_fail_000B' }); // refused
    await queue('POST', '/api/notes', { body: {}, tempId: 'tmp_fail_000C' }); // srv-2, nothing refers to it
    await queue('POST', '/api/links', { body: { from: 'tmp_fail_000A', to: 'tmp_fail_000B' } });
    online.value = true;
    await until(() => engine.pendingCount.value === 0 && engine.failedCount.value === 2);
    // C is forgotten; A and B stay: the failed link still mentions them.
    await vi.waitFor(async () =>
      expect(await store.keys('t/')).toStrictEqual(keysOf('tmp_fail_000A', 'tmp_fail_000B')),
    );
    expect((await engine.failed()).map((op) => op.lastError?.code)).toStrictEqual([
      'sync/http-error',
      'sync/dependency-failed',
    ]);
    expect(await engine.retry()).toBe(2);
    await until(() => engine.pendingCount.value === 0 && engine.failedCount.value === 0);
    expect(fixture.server.applied.at(-1)).toMatchObject({
      path: '/api/links',
      body: { from: 'srv-1', to: 'srv-3' },
    });
    await vi.waitFor(async () => expect(await store.keys('t/')).toStrictEqual([]));
  });

  it('discarding the last failed op that mentions a temp id lets its mapping go', async () => {
    fixture.server.script({ status: 422 });
    const { engine, queue, online, store } = engineFor({
      baseUrl: fixture.server.url,
      online: false,
      tempIdRetentionMs: 0,
    });
    await engine.start();
    const create = await queue('POST', '/api/notes', { body: {}, tempId: 'tmp_disc_0001' });
    const edit = await queue('PATCH', '/api/notes/tmp_disc_0001', { body: { t: 1 } });
    online.value = true;
    await until(() => engine.failedCount.value === 2);
    expect(await engine.discard(edit.id)).toBe(true);
    await vi.waitFor(async () => expect(await store.keys('t/')).toStrictEqual([]));
    expect(await engine.discard(create.id)).toBe(true);
    await vi.waitFor(async () => expect(await store.keys('t/')).toStrictEqual([]));
  });

  it('an op queued in another tab that had not seen the temp id is still rewritten, then the mapping goes', async () => {
    const store = new MemoryStore();
    const locks = new TestLockManager();
    const channel = `tmp-gc-tabs-${Math.random()}`;
    const setup = { baseUrl: fixture.server.url, store, locks, channel, online: false, tempIdRetentionMs: 0 };
    const tabA = engineFor(setup);
    const tabB = engineFor(setup);
    await tabA.engine.start();
    await tabB.engine.start();
    await tabB.queue('POST', '/api/notes', { body: { title: 'x' }, tempId: 'tmp_gcx_0001' });
    await until(() => tabA.engine.pendingCount.value === 1);
    await tabA.queue('PATCH', '/api/notes/tmp_gcx_0001', { body: { title: 'y' } });
    await until(() => tabA.engine.pendingCount.value === 2 && tabB.engine.pendingCount.value === 2);
    tabA.online.value = true;
    tabB.online.value = true;
    await until(() => tabA.engine.pendingCount.value === 0 && tabB.engine.pendingCount.value === 0);
    expect(fixture.server.applied.map((entry) => `${entry.method} ${entry.path}`)).toStrictEqual([
      'POST /api/notes',
      'PATCH /api/notes/srv-1',
    ]);
    await vi.waitFor(async () => expect(await store.keys('t/')).toStrictEqual([]));
  });

  it('at start-up, mappings left by an earlier session are removed without reading them', async () => {
    const store = new MemoryStore();
    store.data.set('t/tmp_old_0001', JSON.stringify({ v: 1, operationId: 'x', serverId: 'srv-9' }));
    store.data.set('t/tmp_old_0002', JSON.stringify({ v: 1, operationId: 'y', failed: true }));
    const reads: string[] = [];
    const get = store.get.bind(store);
    store.get = async (key: string) => {
      reads.push(key);
      return get(key);
    };
    const { engine } = engineFor({ baseUrl: fixture.server.url, store, tempIdRetentionMs: 0 });
    await engine.start();
    await vi.waitFor(async () => expect(await store.keys('t/')).toStrictEqual([]));
    expect(reads.filter((key) => key.startsWith('t/'))).toStrictEqual([]);
  });
});

/** A stand-in for the outbox that collect() reads failed operations from. */
function readerOf(failed: Record<string, { url: string; body?: string; tempId?: string }>) {
  return {
    read: async (list: string, id: string) =>
      list === 'failed' ? (failed[id] as OperationRecord | undefined) : undefined,
  };
}

describe('TempIds.collect and load (the in-memory set)', () => {
  function setup(retentionMs = 1000) {
    let now = 0;
    const store = new MemoryStore();
    const tempIds = new TempIds(store, () => now);
    // What the engine does while the queue stays quiet: collect, then drop what was found.
    const collect = async (failed: Record<string, { url: string; body?: string; tempId?: string }> = {}) =>
      tempIds.drop(await tempIds.collect(retentionMs, Object.keys(failed), readerOf(failed)), retentionMs);
    const advance = (ms: number) => {
      now += ms;
    };
    return { store, tempIds, collect, advance };
  }

  it('a settled temp id leaves memory and storage once the retention time has passed', async () => {
    const { store, tempIds, collect, advance } = setup();
    await introduce(tempIds, store, 'tmp_unit_0001', 'op-1');
    await introduce(tempIds, store, 'tmp_unit_0002', 'op-2');
    await settle(tempIds, store, 'tmp_unit_0001', 'op-1', { serverId: 's1' });
    await settle(tempIds, store, 'tmp_unit_0002', 'op-2', { failed: true });
    expect(tempIds.size).toBe(2);
    expect(await collect()).toStrictEqual([]);
    advance(999);
    expect(await collect()).toStrictEqual([]);
    advance(1);
    expect((await collect()).sort()).toStrictEqual(['tmp_unit_0001', 'tmp_unit_0002'].map(slotOf).sort());
    expect(tempIds.size).toBe(0);
    expect(tempIds.isKnown('tmp_unit_0001')).toBe(false);
    expect(await store.keys('t/')).toStrictEqual([]);
  });

  it('one that a failed op mentions is kept; an unsettled one is timed from when the queue was first seen quiet', async () => {
    const { store, tempIds, collect, advance } = setup();
    await introduce(tempIds, store, 'tmp_unit_000A', 'op-1');
    await settle(tempIds, store, 'tmp_unit_000A', 'op-1', { serverId: 's1' });
    await introduce(tempIds, store, 'tmp_unit_000B', 'op-2'); // e.g. its create was sent but gave no server id
    const failed = {
      'op-3': { url: '/links', body: '{"from":"tmp_unit_000A"}' },
      'op-2': { url: '/notes', body: '{"clientId":"tmp_unit_000B"}', tempId: 'tmp_unit_000B' },
    };
    advance(1000);
    expect(await collect(failed)).toStrictEqual([]); // B's clock starts now
    advance(1000);
    expect(await collect(failed)).toStrictEqual([slotOf('tmp_unit_000B')]); // its own create does not hold it
    expect(await collect({})).toStrictEqual([slotOf('tmp_unit_000A')]);
    expect(tempIds.size).toBe(0);
  });

  it('nothing is removed when the queue stops being quiet meanwhile', async () => {
    const store = new MemoryStore();
    const tempIds = new TempIds(store, () => 0);
    await introduce(tempIds, store, 'tmp_unit_0003', 'op-1');
    await settle(tempIds, store, 'tmp_unit_0003', 'op-1', { serverId: 's1' });
    // collect() only finds what is due: the engine drops it only if the queue is still quiet.
    const due = await tempIds.collect(0, ['op-9'], readerOf({}));
    expect(due).toStrictEqual([slotOf('tmp_unit_0003')]);
    expect(tempIds.size).toBe(1);
    expect(await store.keys('t/')).toHaveLength(1);
    // An op queued meanwhile introduced it again (a new create): not removed.
    await introduce(tempIds, store, 'tmp_unit_0003', 'op-10');
    expect(await tempIds.drop(due, 0)).toStrictEqual([]);
    expect(tempIds.isKnown('tmp_unit_0003')).toBe(true);
  });

  it('a listing forgets temp ids whose records are gone, but not one whose record is being written', async () => {
    const { store, tempIds } = setup();
    tempIds.load(['t/tmp_unit_0004', 't/tmp_unit_0005', 'p/x'], tempIds.mark());
    expect(tempIds.size).toBe(2);
    let release: () => void = () => {};
    const set = store.set.bind(store);
    store.set = (key, value) =>
      new Promise<void>((resolve) => {
        release = () => void set(key, value).then(resolve);
      });
    const introducing = introduce(tempIds, store, 'tmp_unit_0006', 'op-6');
    tempIds.load(['t/tmp_unit_0005'], tempIds.mark());
    expect(tempIds.isKnown('tmp_unit_0004')).toBe(false);
    expect(tempIds.isKnown('tmp_unit_0006')).toBe(true);
    release();
    await introducing;
    expect(tempIds.size).toBe(2);
  });
});

describe('temp-ids.ts loaded on first use (issue 15)', () => {
  it('a create and its dependant queued in the same turn, online, while the module loads: in order, resolved', async () => {
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url });
    await engine.start();
    // Not awaited one by one: the PATCH is stored while the create still waits for temp-ids.ts.
    await Promise.all([
      queue('POST', '/api/notes', { body: { title: 'a' }, tempId: 'tmp_lazy_0001' }),
      queue('PATCH', '/api/notes/tmp_lazy_0001', { body: { title: 'b' } }),
      queue('POST', '/api/notes', { tempId: 'tmp_lazy_0001' }).then(
        () => 'accepted',
        (error: { code?: string }) => error.code,
      ),
    ]).then(([, , duplicate]) => expect(duplicate).toBe('sync/invalid-options'));
    await until(() => engine.pendingCount.value === 0, 'the create and its dependant sent');
    expect(fixture.server.applied.map((entry) => `${entry.method} ${entry.path}`)).toStrictEqual([
      'POST /api/notes',
      'PATCH /api/notes/srv-1',
    ]);
  });

  it('a restart that lists stored temp ids (keys only) knows them before the first send', async () => {
    const store = new MemoryStore();
    const first = engineFor({ baseUrl: fixture.server.url, store });
    await first.engine.start();
    await first.queue('POST', '/api/notes', { body: { title: 'a' }, tempId: 'tmp_lazy_0002' });
    await until(() => first.engine.pendingCount.value === 0, 'the create sent');
    await first.engine.dispose();
    const again = engineFor({ baseUrl: fixture.server.url, store, online: false });
    await again.engine.start();
    expect(await again.engine.resolveId('tmp_lazy_0002')).toBe('srv-1');
    await again.queue('DELETE', '/api/notes/tmp_lazy_0002');
    again.online.value = true;
    await until(() => again.engine.pendingCount.value === 0, 'the dependant sent');
    expect(fixture.server.applied.map((entry) => `${entry.method} ${entry.path}`)).toStrictEqual([
      'POST /api/notes',
      'DELETE /api/notes/srv-1',
    ]);
  });
});

describe('temporary ids at rest (issue 17, finding 9)', () => {
  it('are stored under a digest, so keys (file names) do not show them; their mapping still works', async () => {
    const store = new MemoryStore();
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url, store, online: false });
    await engine.start();
    await queue('POST', '/api/notes', { body: { title: 'a' }, tempId: 'tmp_secret-project_0001' });
    await queue('PATCH', '/api/notes/tmp_secret-project_0001', { body: { title: 'b' } });
    expect([...store.data.keys()].join(' ')).not.toContain('secret-project');
    expect(await store.keys('t/')).toStrictEqual(keysOf('tmp_secret-project_0001'));
    await expect(queue('POST', '/api/notes', { tempId: 'tmp_secret-project_0001' })).rejects.toMatchObject({
      code: 'sync/invalid-options',
    });
    await engine.dispose();
    const again = engineFor({ baseUrl: fixture.server.url, store });
    await again.engine.start();
    await until(() => again.engine.pendingCount.value === 0, 'the create and its dependant sent');
    expect(fixture.server.applied.map((entry) => `${entry.method} ${entry.path}`)).toStrictEqual([
      'POST /api/notes',
      'PATCH /api/notes/srv-1',
    ]);
    expect(await again.engine.resolveId('tmp_secret-project_0001')).toBe('srv-1');
  });

  it('a mapping stored under the temp id itself (by an earlier version) is still used', async () => {
    const store = new MemoryStore();
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url, store, online: false });
    store.data.set('t/tmp_legacy_0001', JSON.stringify({ v: 1, operationId: 'x', serverId: 'srv-old' }));
    await engine.start();
    await queue('PATCH', '/api/notes/tmp_legacy_0001', { body: { title: 'b' } });
    await expect(queue('POST', '/api/notes', { tempId: 'tmp_legacy_0001' })).rejects.toMatchObject({
      code: 'sync/invalid-options',
    });
    expect(await engine.resolveId('tmp_legacy_0001')).toBe('srv-old');
    await engine.dispose();
    const again = engineFor({ baseUrl: fixture.server.url, store });
    await again.engine.start();
    await until(() => again.engine.pendingCount.value === 0, 'the dependant sent');
    expect(fixture.server.applied.map((entry) => entry.path)).toStrictEqual(['/api/notes/srv-old']);
  });
});
