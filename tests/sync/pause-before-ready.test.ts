import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/core/app.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import { SyncPlugin } from '../../src/plugins/sync/index.js';
import { createTestApp, FaultServer, TestConnectivity } from '../../src/testing/index.js';
import { silentLogger, until } from './harness.js';

// An app that pauses at start-up (until the user logs in, say) calls sync.pause() before
// app.ready(): it was ignored (no engine yet), and the stored queue was sent at once.

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function withStoredOp() {
  const server = await FaultServer.start();
  closers.push(() => server.close());
  const storage = { driver: 'indexeddb' as const, indexedDB: new IDBFactory(), name: 'early' };
  const first = await createTestApp({
    sync: { baseUrl: server.url },
    storage,
    online: false,
    app: { logger: silentLogger },
  });
  const op = await first.sync.queue('POST', '/notes', { body: { title: 'stored' } });
  await first.dispose();
  const reopen = () => {
    const app = createApp({ logger: silentLogger });
    closers.push(() => app.dispose());
    app.register(new StoragePlugin(storage));
    app.register(new TestConnectivity({ online: true }));
    return { app, sync: app.register(new SyncPlugin({ baseUrl: server.url })) };
  };
  return { server, op, reopen };
}

describe('sync.pause() before ready()', () => {
  it('holds the stored queue from the start until resume(), then sends it once', async () => {
    const { server, op, reopen } = await withStoredOp();
    const { app, sync } = reopen();
    sync.pause();
    await app.ready();
    expect(sync.status.value).toBe('paused');
    expect(sync.pendingCount.value).toBe(1);
    expect(server.received).toHaveLength(0);
    sync.resume();
    await until(() => sync.pendingCount.value === 0, 'the stored op sent after resume()');
    expect(server.applied.map((entry) => entry.key)).toEqual([op.id]);
  });

  it('a resume() after that pause, still before ready(), leaves the queue running', async () => {
    const { server, op, reopen } = await withStoredOp();
    const { app, sync } = reopen();
    sync.pause();
    sync.resume();
    await app.ready();
    await until(() => sync.pendingCount.value === 0, 'the stored op sent');
    expect(server.applied.map((entry) => entry.key)).toEqual([op.id]);
  });
});
