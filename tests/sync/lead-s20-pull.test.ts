import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import type { RunningServer } from '../../examples/server/server.mjs';
import { createApp } from '../../src/core/app.js';
import { Collection } from '../../src/plugins/collections/index.js';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import { SyncPlugin } from '../../src/plugins/sync/index.js';
import { faults, type Note, referenceServer, untimed } from '../collections/harness.js';
import { silentLogger, until } from './harness.js';

// Audit 20, M1: a pull that gets no answer tells connectivity, as a send that gets none does —
// with a probe, "online" then stops claiming so while the server is unreachable and nothing is
// sent. An answer (a 4xx or 5xx included) is no connectivity failure, nor is the caller's abort.

/** A device with a probe on the server's /health, nothing queued, and a collection pulled by hand. */
async function device(server: RunningServer) {
  const app = createApp({ logger: silentLogger });
  app.register(new StoragePlugin({ indexedDB: new IDBFactory(), name: 'lead-s20-pull' }));
  const connectivity = app.register(new ConnectivityPlugin({ probe: { url: `${server.url}/health` } }));
  const sync = app.register(new SyncPlugin({ baseUrl: `${server.url}/api` }));
  const notes = app.register(
    new Collection<Note>('notes', { url: '/notes', pullIntervalMs: untimed, locks: false }),
  );
  await app.ready();
  await until(() => connectivity.isOnline.value, 'the first probe answers');
  await until(() => notes.lastPulledAt.value !== null, 'the first pull');
  return { app, connectivity, sync, notes };
}

describe('a pull without an answer (audit 20 M1)', () => {
  it('the server stopped: the failed pull takes the device offline, and the probe keeps it so', async () => {
    const server = await referenceServer();
    const { app, connectivity, notes } = await device(server);
    try {
      await server.close();
      await expect(notes.pull()).rejects.toThrow(/no answer/);
      expect(connectivity.isOnline.value).toBe(false);
      expect(connectivity.reason.value).toBe('request-failure');
      expect(await connectivity.check()).toBe(false);
    } finally {
      await app.dispose();
    }
  });

  it('a dropped connection is reported; a 503 answer and an aborted read are not', async () => {
    const server = await referenceServer();
    const { app, connectivity, sync, notes } = await device(server);
    try {
      const changes: boolean[] = [];
      const stop = connectivity.isOnline.subscribe((online) => changes.push(online));
      await faults(server, [{ status: 503 }]);
      await expect(notes.pull()).rejects.toThrow(/answered 503/);
      await expect(sync.read('/notes', { signal: AbortSignal.abort() })).rejects.toMatchObject({
        code: 'sync/network-error',
      });
      expect(changes).toStrictEqual([true]);
      expect(connectivity.reason.value).toBe('probe');
      await faults(server, ['drop-before']);
      await expect(notes.pull()).rejects.toThrow(/no answer/);
      // Offline at once; the probe (the server is up) brings it back.
      expect(changes).toStrictEqual([true, false]);
      await until(() => connectivity.isOnline.value, 'the probe answers again');
      stop();
    } finally {
      await app.dispose();
      await server.close();
    }
  });
});
