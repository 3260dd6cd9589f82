import { rename } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import { SyncPlugin } from '../../src/plugins/sync/index.js';
import { tempDirsPerTest } from '../storage/fixtures.js';
import { registryPerTest, until } from './harness.js';

// Issue 17, finding 2: the rescans run by connectivity, the interval and other triggers had no
// catch: a storage error there (a data folder moved away for a moment, EMFILE) was an unhandled
// rejection, which ends a Node process. Now it is reported in lastError and the log, and retried.
const fixture = registryPerTest();
const tempDir = tempDirsPerTest();
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
beforeEach(() => {
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
});
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
});

describe('storage errors in the background', () => {
  it('the data folder moved away for a while: no unhandled rejection, lastError tells, and it recovers', async () => {
    const dir = await tempDir();
    const errors: unknown[] = [];
    const app = fixture.app({ debug() {}, info() {}, warn() {}, error: (...args) => errors.push(args) });
    app.register(new StoragePlugin({ driver: 'file', dir }));
    const connectivity = app.register(new ConnectivityPlugin());
    const sync = app.register(
      new SyncPlugin({ baseUrl: fixture.server.url, retry: { baseDelayMs: 10, maxDelayMs: 50 } }),
    );
    await app.ready();
    connectivity.setOnline(false);
    const op = await sync.queue('POST', '/api/notes', { body: { title: 'kept' } });

    await rename(dir, `${dir}.away`);
    connectivity.setOnline(true); // the trigger rescans storage: the folder is gone
    await until(
      () => sync.lastError.value?.code === 'sync/storage-failed',
      'the storage failure shown in lastError',
    );
    expect(sync.pendingCount.value).toBe(1);
    expect(errors.length).toBeGreaterThan(0);

    await rename(`${dir}.away`, dir);
    await until(
      () => sync.pendingCount.value === 0 && sync.lastError.value === null,
      'the op sent once the folder is back',
    );
    expect(fixture.server.applied.map((applied) => applied.key)).toStrictEqual([op.id]);
    // Let any stray rejection of the failed attempts reach the process before checking.
    await new Promise((resolve) => setImmediate(resolve));
    expect(unhandled).toStrictEqual([]);
  });

  it('a failure with nothing pending clears from lastError once storage answers again', async () => {
    const dir = await tempDir();
    const app = fixture.app();
    app.register(new StoragePlugin({ driver: 'file', dir }));
    const connectivity = app.register(new ConnectivityPlugin());
    const sync = app.register(
      new SyncPlugin({ baseUrl: fixture.server.url, retry: { baseDelayMs: 10, maxDelayMs: 50 } }),
    );
    await app.ready();
    connectivity.setOnline(false);
    await rename(dir, `${dir}.away`);
    connectivity.setOnline(true);
    await until(() => sync.lastError.value?.code === 'sync/storage-failed', 'the storage failure');
    expect(sync.status.value).toBe('idle'); // nothing waits to be sent
    await rename(`${dir}.away`, dir);
    await until(() => sync.lastError.value === null, 'lastError cleared after recovery');
    await new Promise((resolve) => setImmediate(resolve));
    expect(unhandled).toStrictEqual([]);
  });
});
