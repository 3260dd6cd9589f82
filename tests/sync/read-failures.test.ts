import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/core/app.js';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import { type SyncOptions, SyncPlugin } from '../../src/plugins/sync/index.js';
import { silentLogger } from './harness.js';

// A review of 01ee574: a fetch (or a body read) that rejected with undefined made read() reject with
// undefined itself (taken for the redirect refusal), not with sync/network-error.
const apps: Array<ReturnType<typeof createApp>> = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.dispose();
});
async function syncFor(options: SyncOptions): Promise<SyncPlugin> {
  const app = createApp({ logger: silentLogger });
  apps.push(app);
  app.register(new StoragePlugin({ driver: 'memory' }));
  app.register(new ConnectivityPlugin());
  const sync = app.register(new SyncPlugin(options));
  await app.ready();
  return sync;
}

describe('read() failures without a reason', () => {
  it('a fetch rejecting with undefined still rejects with sync/network-error', async () => {
    const sync = await syncFor({
      baseUrl: 'http://127.0.0.1:9',
      // A fetch that rejects without a reason (as Promise.reject() does).
      fetch: () => Promise.reject(undefined),
    });
    const error = await sync.read('/notes').then(
      () => 'resolved',
      (caught: unknown) => caught,
    );
    expect(error).toMatchObject({ code: 'sync/network-error' });
  });

  it('a body read rejecting with undefined still rejects with sync/network-error', async () => {
    const sync = await syncFor({
      baseUrl: 'http://127.0.0.1:9',
      fetch: async () =>
        ({
          status: 200,
          type: 'basic',
          redirected: false,
          headers: new Headers(),
          text: () => Promise.reject(undefined),
        }) as unknown as Response,
    });
    const error = await sync.read('/notes').then(
      () => 'resolved',
      (caught: unknown) => caught,
    );
    expect(error).toMatchObject({ code: 'sync/network-error' });
  });
});
