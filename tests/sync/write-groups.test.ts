import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/core/app.js';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import { SyncPlugin } from '../../src/plugins/sync/index.js';
import { GatedStore, gate, MemoryStore } from '../support/memory-store.js';
import { countingLogger, faultServerPerTest, silentLogger, until, withTimeout } from './harness.js';

// Issue 17, findings 8 and 5: what must land together is committed in one write group.
const fixture = faultServerPerTest();

describe('an operation and the temporary id it introduces (finding 8)', () => {
  it('a queue() refused by a full store leaves no mapping: the same create can be queued again', async () => {
    const app = createApp({ logger: silentLogger });
    try {
      const storage = app.register(new StoragePlugin({ driver: 'memory', quota: 2000 }));
      const connectivity = app.register(new ConnectivityPlugin());
      const sync = app.register(new SyncPlugin({ baseUrl: fixture.server.url }));
      await app.ready();
      connectivity.setOnline(false);
      await expect(
        sync.queue('POST', '/api/notes', { body: { text: 'x'.repeat(5000) }, tempId: 'tmp_note_0001' }),
      ).rejects.toMatchObject({ code: 'storage/quota-exceeded' });
      expect(await storage.keys()).toStrictEqual([]);
      const op = await sync.queue('POST', '/api/notes', { body: { text: 'short' }, tempId: 'tmp_note_0001' });
      const keys = await storage.keys();
      expect(keys).toHaveLength(2);
      expect(keys[0]).toBe(`sync/p/${op.id}`);
      expect(keys[1]).toMatch(/^sync\/t\/#[0-9a-f]{32}$/);
    } finally {
      await app.dispose();
    }
  });
});

describe('a sent operation’s removal and outcome (finding 5)', () => {
  it('a disk that takes neither: the op is not resent, and the answer is committed once it can be', async () => {
    const store = new MemoryStore();
    const { logger, failures } = countingLogger();
    const { engine, queue, online } = fixture.engineFor({
      baseUrl: fixture.server.url,
      store,
      logger,
      online: false,
    });
    await engine.start();
    const delivered: string[] = [];
    engine.handle('note.create', { sent: ({ operation }) => void delivered.push(operation.id) });
    const op = await queue('POST', '/api/notes', { body: { title: 'a' }, kind: 'note.create' });
    store.failWrites = Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    online.value = true;
    await failures(4);
    expect(fixture.server.received.map((request) => request.key)).toStrictEqual([op.id]);
    expect(await store.keys()).toStrictEqual([`p/${op.id}`]); // neither half of the group landed
    expect(engine.lastError.value?.code).toBe('sync/storage-failed');

    store.failWrites = undefined;
    await until(() => engine.pendingCount.value === 0, 'the answer committed once storage takes it');
    await until(() => delivered.length === 1, 'the outcome delivered');
    expect(delivered).toStrictEqual([op.id]);
    expect(fixture.server.received.map((request) => request.key)).toStrictEqual([op.id]);
    expect(await store.keys()).toStrictEqual([]);
    expect(engine.lastError.value).toBeNull();
  });

  it('a failed op (422) whose outcome cannot be stored is not resent either', async () => {
    const store = new MemoryStore();
    const { logger, failures } = countingLogger();
    fixture.server.script({ status: 422 });
    const { engine, queue, online } = fixture.engineFor({
      baseUrl: fixture.server.url,
      store,
      logger,
      online: false,
    });
    await engine.start();
    const op = await queue('POST', '/api/notes', { body: {}, kind: 'note.create' });
    store.failWrites = new Error('quota');
    online.value = true;
    await failures(3);
    store.failWrites = undefined;
    await until(() => engine.failedCount.value === 1, 'the op in the failed list');
    expect(fixture.server.received.map((request) => request.key)).toStrictEqual([op.id]);
    expect((await engine.failed())[0]?.lastError).toMatchObject({ code: 'sync/http-error', status: 422 });
  });
});

describe('the removal of a sent operation commits while the next request is on the wire', () => {
  it('the next op is sent before the last removal is committed; the count stays true to storage', async () => {
    const store = new GatedStore();
    const { engine, queue, online } = fixture.engineFor({
      baseUrl: fixture.server.url,
      store,
      online: false,
    });
    await engine.start();
    const first = await queue('POST', '/api/notes', { body: { title: 'a' } });
    const second = await queue('POST', '/api/notes', { body: { title: 'b' } });
    const held = gate();
    store.hold = (id) => (id === first.id ? held.promise : Promise.resolve());
    online.value = true;
    // Fails (times out) if the second request waits for the first one's removal.
    await fixture.server.waitForRequests(2, { label: 'the second request while the first removal is held' });
    expect(fixture.server.received.map((request) => request.key)).toStrictEqual([first.id, second.id]);
    expect(engine.pendingCount.value).toBe(2); // the first is still stored
    expect(await store.keys()).toStrictEqual([`p/${first.id}`, `p/${second.id}`]);
    held.open();
    await until(() => engine.pendingCount.value === 0, 'both removals committed');
    expect(await store.keys()).toStrictEqual([]);
    expect(fixture.server.applied.map((applied) => applied.key)).toStrictEqual([first.id, second.id]);
  });

  it('a removal that fails meanwhile: neither that op nor the one sent meanwhile is sent again', async () => {
    const store = new GatedStore();
    const { logger, failures } = countingLogger();
    const { engine, queue, online } = fixture.engineFor({
      baseUrl: fixture.server.url,
      store,
      logger,
      online: false,
    });
    await engine.start();
    const sent: string[] = [];
    engine.events.on('sent', ({ operation }) => void sent.push(operation.id));
    const first = await queue('POST', '/api/notes', { body: { title: 'a' } });
    const second = await queue('POST', '/api/notes', { body: { title: 'b' } });
    let failed = false;
    store.hold = async (id) => {
      if (id !== first.id || failed) return;
      failed = true;
      await fixture.server.waitForRequests(2, {
        label: 'the second request while the first removal is held',
      });
      throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    };
    online.value = true;
    await failures(1);
    await until(() => engine.pendingCount.value === 0, 'both removals committed on the next attempt');
    // Both answers were kept and committed on the next attempt.
    expect(fixture.server.received.map((request) => request.key)).toStrictEqual([first.id, second.id]);
    expect(fixture.server.applied.map((applied) => applied.key)).toStrictEqual([first.id, second.id]);
    expect(sent).toStrictEqual([first.id, second.id]);
    expect(await store.keys()).toStrictEqual([]);
    expect(engine.lastError.value).toBeNull();
  });

  it('discard() of an op whose removal is committing waits for it, and finds it gone', async () => {
    const store = new GatedStore();
    const { engine, queue, online } = fixture.engineFor({
      baseUrl: fixture.server.url,
      store,
      online: false,
    });
    await engine.start();
    const first = await queue('POST', '/api/notes', { body: { title: 'a' } });
    await queue('POST', '/api/notes', { body: { title: 'b' } });
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
    await fixture.server.waitForRequests(2, { label: 'the second request while the first removal is held' });
    let settled = false;
    const discarding = engine.discard(first.id).then((found) => {
      settled = true;
      return found;
    });
    // Turns of the event loop in which a discard() that does not wait would remove the op.
    for (let turn = 0; turn < 20 && !settled; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    held.open();
    expect(await withTimeout(discarding, 'discard() after the removal')).toBe(false);
    await until(() => engine.pendingCount.value === 0, 'the second removed too');
    expect(fixture.server.applied).toHaveLength(2);
  });
});
