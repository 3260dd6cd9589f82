import { signal } from '@preact/signals-core';
import { describe, expect, it } from 'vitest';
import { FluxyError } from '../../src/core/errors.js';
import type { Logger } from '../../src/core/logger.js';
import { GatedStore, gate } from '../support/memory-store.js';
import { countingLogger, faultServerPerTest, until, withTimeout } from './harness.js';

// An adversarial review of the overlap of a sent operation's removal commit with the next
// request (issue 15, see SyncEngine #removing): what must still hold while that commit is held,
// fails, or races with the app's edits.
const fixture = faultServerPerTest();

const diskFull = () => Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });

/** Let the event loop turn `turns` times (for "this has not happened" checks). */
async function turns(count = 20): Promise<void> {
  for (let turn = 0; turn < count; turn++) await new Promise((resolve) => setImmediate(resolve));
}

/** An engine on a GatedStore, offline until the test goes online; records the events in order. */
async function gatedEngine(options: { logger?: Logger } = {}) {
  const store = new GatedStore();
  const made = fixture.engineFor({ baseUrl: fixture.server.url, store, online: false, ...options });
  await made.engine.start();
  const events: string[] = [];
  made.engine.events.on('sent', ({ operation }) => void events.push(`sent ${operation.id}`));
  made.engine.events.on('failed', ({ operation }) => void events.push(`failed ${operation.id}`));
  made.engine.events.on('retry', ({ operation }) => void events.push(`retry ${operation.id}`));
  made.engine.events.on('unauthorized', ({ operation }) => void events.push(`unauthorized ${operation.id}`));
  const post = (title: string) => made.queue('POST', '/api/notes', { body: { title } });
  return { ...made, store, events, post };
}

const keysOf = (requests: ReadonlyArray<{ key: string | null }>) => requests.map((request) => request.key);

describe('the removal overlap: storage failures', () => {
  // Fails if the answer stashed for the op sent meanwhile (#later) is dropped when the removal
  // fails a second time: that op is then sent again.
  it('the removal fails twice in a row: neither op is sent again, both leave once storage recovers', async () => {
    const { logger, failures } = countingLogger();
    const { engine, store, online, post, events } = await gatedEngine({ logger });
    const first = await post('a');
    const second = await post('b');
    let failed = 0;
    store.hold = async (id) => {
      if (id !== first.id || failed >= 2) return;
      failed++;
      if (failed === 1) await fixture.server.waitForRequests(2, { label: 'the second request' });
      throw diskFull();
    };
    online.value = true;
    await failures(2);
    await until(() => engine.pendingCount.value === 0, 'both removals committed on the third attempt');
    expect(keysOf(fixture.server.received)).toStrictEqual([first.id, second.id]);
    expect(keysOf(fixture.server.applied)).toStrictEqual([first.id, second.id]);
    expect(events).toStrictEqual([`sent ${first.id}`, `sent ${second.id}`]);
    expect(await store.keys()).toStrictEqual([]);
    expect(engine.lastError.value).toBeNull();
  });
});

describe('the removal overlap: the app’s edits meanwhile', () => {
  // Fails if discard() of the op in flight does not wait for that op's own removal, which now
  // commits after its request's step ended: it removes a sent op and resolves true.
  it('discard() of the op on the wire, while the last removal commits, finds it sent (false)', async () => {
    const { engine, store, online, post, events } = await gatedEngine();
    const first = await post('a');
    const second = await post('b');
    const stray = await post('c');
    expect(await engine.discard(stray.id)).toBe(true); // loads the edits module now
    const firstHeld = gate();
    const secondHeld = gate();
    const held = new Set<string>();
    store.hold = (id) => {
      if (held.has(id)) return Promise.resolve(); // discard()'s own removal is not held
      held.add(id);
      return id === first.id ? firstHeld.promise : id === second.id ? secondHeld.promise : Promise.resolve();
    };
    online.value = true;
    await fixture.server.waitForRequests(2, { label: 'the second request while the first removal is held' });
    const discarding = engine.discard(second.id);
    firstHeld.open();
    await until(() => engine.pendingCount.value === 1, 'the first removed');
    await turns();
    secondHeld.open();
    expect(await withTimeout(discarding, 'discard() of the second')).toBe(false);
    await until(() => engine.pendingCount.value === 0, 'the second removed');
    expect(events).toStrictEqual([`sent ${first.id}`, `sent ${second.id}`]);
    expect(keysOf(fixture.server.applied)).toStrictEqual([first.id, second.id]);
  });

  // Fails if the removal being committed is forgotten by discard() once the next answer came
  // back and waits for it (#removed() dropping #removing before it settled): discard() then
  // removes an op the server applied and resolves true.
  it('discard() of the op being removed, after the next answer came back, still waits for it', async () => {
    const answered = signal(0);
    const store = new GatedStore();
    const { engine, queue, online } = fixture.engineFor({
      baseUrl: fixture.server.url,
      store,
      online: false,
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        const text = await response.text();
        answered.value++;
        return new Response(text, { status: response.status, headers: response.headers });
      },
    });
    await engine.start();
    const sent: string[] = [];
    engine.events.on('sent', ({ operation }) => void sent.push(operation.id));
    const first = await queue('POST', '/api/notes', { body: { title: 'a' } });
    const second = await queue('POST', '/api/notes', { body: { title: 'b' } });
    const stray = await queue('POST', '/api/notes', { body: { title: 'c' } });
    expect(await engine.discard(stray.id)).toBe(true); // loads the edits module now
    const held = gate();
    let holding = false;
    store.hold = (id) => {
      if (id !== first.id || holding) return Promise.resolve(); // discard()'s own removal is not held
      holding = true;
      return held.promise;
    };
    online.value = true;
    await until(() => answered.value === 2, 'the second answer while the first removal is held');
    await turns(); // the flush now waits for the first removal
    let settled = false;
    const discarding = engine.discard(first.id).then((found) => {
      settled = true;
      return found;
    });
    await turns();
    expect(settled).toBe(false);
    held.open();
    expect(await withTimeout(discarding, 'discard() after the removal')).toBe(false);
    await until(() => engine.pendingCount.value === 0, 'the second removed too');
    expect(sent).toStrictEqual([first.id, second.id]);
  });

  // Fails if a durable `sent` handler that awaits discard() of an unrelated op waits for the
  // removal that runs that handler: the flush hangs for good.
  it('a sent outcome handler that awaits discard() of a later op does not hang the flush', async () => {
    const { engine, online, post, events, queue } = await gatedEngine();
    const first = await queue('POST', '/api/notes', { body: { title: 'a' }, kind: 'note.create' });
    await post('b');
    const later = await post('c');
    let discarded: boolean | undefined;
    engine.handle('note.create', {
      sent: async () => {
        discarded = await engine.discard(later.id);
      },
    });
    // The second request is still on the wire while the first one's handler runs.
    fixture.server.script('ok', { delayMs: 200 });
    online.value = true;
    await until(() => engine.pendingCount.value === 0, 'the queue drained');
    expect(discarded).toBe(true);
    expect(events.filter((event) => event.startsWith('sent')).length).toBe(2);
    expect(events[0]).toBe(`sent ${first.id}`);
    expect(keysOf(fixture.server.applied)).not.toContain(later.id);
  });
});

describe('the removal overlap: operations with outcome handlers (a kind) are not overlapped', () => {
  // Fails if an op with a kind lets the next request go out before its handlers ran: the handler
  // would see the next op on the wire, and awaiting discard() of it would hang the flush for good.
  it('a sent handler runs before the next op is sent, and may discard that op', async () => {
    const { engine, online, post, queue } = await gatedEngine();
    const first = await queue('POST', '/api/notes', { body: { title: 'a' }, kind: 'note.create' });
    const next = await post('b');
    const after = await post('c');
    let seen: Array<string | null> | undefined;
    let discarded: boolean | undefined;
    engine.handle('note.create', {
      sent: async () => {
        seen = keysOf(fixture.server.received);
        discarded = await engine.discard(next.id);
      },
    });
    online.value = true;
    await until(() => engine.pendingCount.value === 0, 'the queue drained');
    expect(seen).toStrictEqual([first.id]);
    expect(discarded).toBe(true);
    expect(keysOf(fixture.server.applied)).toStrictEqual([first.id, after.id]);
  });
});

describe('the removal overlap: order of what the app is told', () => {
  // Fails if the next record, found unreadable, is moved to failed (and told) while the last
  // removal is still committing: 'failed' of the second before 'sent' of the first.
  it('an unreadable next record is told after the op before it', async () => {
    const { engine, store, online, post, events } = await gatedEngine();
    const first = await post('a');
    const broken = await post('b');
    const third = await post('c');
    store.failReads.set(`p/${broken.id}`, new FluxyError('storage/tampered', 'bad MAC'));
    const held = gate();
    store.hold = (id) => (id === first.id ? held.promise : Promise.resolve());
    online.value = true;
    await fixture.server.waitForRequests(1, { label: 'the first request' });
    await turns();
    held.open();
    await until(() => engine.pendingCount.value === 0, 'the queue drained');
    expect(events).toStrictEqual([`sent ${first.id}`, `failed ${broken.id}`, `sent ${third.id}`]);
    expect(engine.failedCount.value).toBe(1);
    expect(keysOf(fixture.server.applied)).toStrictEqual([first.id, third.id]);
  });
});

describe('the removal overlap: answers to the op sent meanwhile', () => {
  // Could fail if the 401 were handled (paused, told) before the removal committed, or the
  // removal were dropped on the way to the pause.
  it('a 401 to the op sent meanwhile: told after the first is sent; the first leaves, it stays', async () => {
    const { engine, store, online, post, events } = await gatedEngine();
    const first = await post('a');
    const second = await post('b');
    fixture.server.script('ok', { status: 401 });
    const held = gate();
    store.hold = (id) => (id === first.id ? held.promise : Promise.resolve());
    online.value = true;
    await fixture.server.waitForRequests(2, { label: 'the second request while the first removal is held' });
    await turns();
    expect(engine.status.value).not.toBe('paused'); // the 401 waits for the removal
    expect(events).toStrictEqual([]);
    held.open();
    await until(() => engine.status.value === 'paused', 'paused by the 401');
    expect(events).toStrictEqual([`sent ${first.id}`, `unauthorized ${second.id}`]);
    expect(engine.pendingCount.value).toBe(1);
    expect(await store.keys()).toStrictEqual([`p/${second.id}`]);
    expect(engine.lastError.value).toMatchObject({ status: 401 });
    expect(engine.isSyncing.value).toBe(false);
  });

  // Could fail if the 422 stashed meanwhile were lost (the op resent) or committed before the
  // first op's removal (told out of order).
  it('a 422 to the op sent meanwhile, and the removal fails: both committed later, in order, unsent', async () => {
    const { logger, failures } = countingLogger();
    const { engine, store, online, post, events } = await gatedEngine({ logger });
    const first = await post('a');
    const second = await post('b');
    fixture.server.script('ok', { status: 422 });
    let failed = false;
    store.hold = async (id) => {
      if (id !== first.id || failed) return;
      failed = true;
      await fixture.server.waitForRequests(2, { label: 'the second request' });
      throw diskFull();
    };
    online.value = true;
    await failures(1);
    await until(() => engine.failedCount.value === 1 && engine.pendingCount.value === 0, 'both committed');
    expect(keysOf(fixture.server.received)).toStrictEqual([first.id, second.id]);
    expect(events).toStrictEqual([`sent ${first.id}`, `failed ${second.id}`]);
    expect(await store.keys()).toStrictEqual([`f/${second.id}`]);
    expect(engine.lastError.value).toMatchObject({ status: 422 });
  });

  // Could fail if the no-answer were handled before the removal (retry told first), or if the
  // op were taken as answered.
  it('no answer to the op sent meanwhile: the first leaves, the second is retried and applied once', async () => {
    const { engine, store, online, post, events } = await gatedEngine();
    const first = await post('a');
    const second = await post('b');
    fixture.server.script('ok', 'drop-before');
    const held = gate();
    store.hold = (id) => (id === first.id ? held.promise : Promise.resolve());
    online.value = true;
    await fixture.server.waitForRequests(2, { label: 'the second request while the first removal is held' });
    await turns();
    held.open();
    await until(() => engine.pendingCount.value === 0, 'both sent');
    expect(events).toStrictEqual([`sent ${first.id}`, `retry ${second.id}`, `sent ${second.id}`]);
    expect(keysOf(fixture.server.applied)).toStrictEqual([first.id, second.id]);
    expect(await store.keys()).toStrictEqual([]);
  });
});

describe('the removal overlap: the flush around it', () => {
  // Could fail if the flush ended (isSyncing false, flush() resolved) before the last removal
  // committed, or counted it before.
  it('flush() resolves after the last removal commits; until then the op is counted and syncing', async () => {
    const { engine, store, post, online } = await gatedEngine();
    const first = await post('a');
    const second = await post('b');
    const held = gate();
    store.hold = (id) => (id === second.id ? held.promise : Promise.resolve());
    online.value = true;
    let summary: { sent: number; remaining: number } | undefined;
    void engine.flush().then((result) => (summary = result));
    await fixture.server.waitForRequests(2, { label: 'both requests' });
    await until(() => engine.pendingCount.value === 1, 'the first removed');
    await turns();
    expect(summary).toBeUndefined();
    expect(engine.isSyncing.value).toBe(true);
    expect(await store.keys()).toStrictEqual([`p/${second.id}`]);
    held.open();
    await until(() => engine.pendingCount.value === 0 && !engine.isSyncing.value, 'the flush ended');
    expect(await withTimeout(engine.flush(), 'a flush with nothing to send')).toMatchObject({ remaining: 0 });
    expect(engine.progress.value).toStrictEqual({ total: 2, done: 2 });
    expect(keysOf(fixture.server.applied)).toStrictEqual([first.id, second.id]);
  });

  // Could fail if an op queued while the removal commits were skipped or sent before the one
  // already on the wire.
  it('an op queued during the overlap is sent after the one on the wire', async () => {
    const { engine, store, post, online } = await gatedEngine();
    const first = await post('a');
    const second = await post('b');
    const held = gate();
    store.hold = (id) => (id === first.id ? held.promise : Promise.resolve());
    online.value = true;
    await fixture.server.waitForRequests(2, { label: 'the second request while the first removal is held' });
    const third = await post('c');
    expect(engine.pendingCount.value).toBe(3);
    held.open();
    await until(() => engine.pendingCount.value === 0, 'all three sent');
    expect(keysOf(fixture.server.received)).toStrictEqual([first.id, second.id, third.id]);
    expect(await store.keys()).toStrictEqual([]);
  });

  // Could fail if a create went out while the removal before it commits (the claim: only plain
  // ops overlap), e.g. if the tempId check were dropped.
  it('a create behind a plain op is not sent until that op’s removal commits', async () => {
    const { engine, store, post, online, queue } = await gatedEngine();
    const first = await post('a');
    const create = await queue('POST', '/api/notes', { body: { title: 'b' }, tempId: 'tmp_note_0001' });
    const held = gate();
    store.hold = (id) => (id === first.id ? held.promise : Promise.resolve());
    online.value = true;
    await fixture.server.waitForRequests(1, { label: 'the first request' });
    await turns(40);
    expect(fixture.server.received).toHaveLength(1);
    held.open();
    await until(() => engine.pendingCount.value === 0, 'both sent');
    expect(keysOf(fixture.server.received)).toStrictEqual([first.id, create.id]);
    expect(await engine.resolveId('tmp_note_0001')).toBe('srv-2');
  });

  // Could fail if pause() during the overlap left the removal uncommitted, the flush running,
  // or sent a third op.
  it('pause() during the overlap: the answer on the wire is committed, nothing more is sent', async () => {
    const { engine, store, post, online } = await gatedEngine();
    const first = await post('a');
    const second = await post('b');
    const third = await post('c');
    const held = gate();
    store.hold = (id) => (id === first.id ? held.promise : Promise.resolve());
    online.value = true;
    await fixture.server.waitForRequests(2, { label: 'the second request while the first removal is held' });
    engine.pause();
    held.open();
    await until(() => engine.pendingCount.value === 1 && !engine.isSyncing.value, 'the flush stopped');
    expect(await store.keys()).toStrictEqual([`p/${third.id}`]);
    expect(engine.status.value).toBe('paused');
    expect(keysOf(fixture.server.received)).toStrictEqual([first.id, second.id]);
  });

  // Could fail if dispose() resolved before the removal settled, lost it, or left the op sent
  // meanwhile out of storage; or if the next session sent the first op again.
  it('dispose() during the overlap: the removal commits, the aborted op is sent by the next session', async () => {
    const { engine, store, post, online } = await gatedEngine();
    const first = await post('a');
    const second = await post('b');
    fixture.server.script('ok', 'hang');
    const held = gate();
    store.hold = (id) => (id === first.id ? held.promise : Promise.resolve());
    online.value = true;
    await fixture.server.waitForRequests(2, { label: 'the second request while the first removal is held' });
    let disposed = false;
    const disposing = engine.dispose().then(() => (disposed = true));
    await turns();
    expect(disposed).toBe(false);
    held.open();
    await withTimeout(disposing, 'dispose()');
    expect(await store.keys()).toStrictEqual([`p/${second.id}`]);
    store.hold = undefined;
    const next = fixture.engineFor({ baseUrl: fixture.server.url, store });
    await next.engine.start();
    await until(() => next.engine.pendingCount.value === 0, 'the next session sent the second');
    expect(keysOf(fixture.server.received)).toStrictEqual([first.id, second.id, second.id]);
    expect(keysOf(fixture.server.applied)).toStrictEqual([first.id, second.id]); // the hang applied nothing
  });
});
