import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/core/app.js';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import { SyncPlugin } from '../../src/plugins/sync/index.js';
import { resolveSyncOptions } from '../../src/plugins/sync/options.js';
import { FaultServer } from '../../src/testing/index.js';
import { MemoryStore } from '../support/memory-store.js';
import { faultServerPerTest, nextEvent, silentLogger, until } from './harness.js';

// Issue 17, finding 7: with baseUrl set, absolute URLs to any origin were accepted and the
// headers option (Authorization) went with them; per-op headers such as X-Api-Key were stored.
const fixture = faultServerPerTest();
const others: FaultServer[] = [];
afterEach(async () => {
  for (const server of others.splice(0)) await server.close();
});
async function otherOrigin(): Promise<FaultServer> {
  const server = await FaultServer.start();
  others.push(server);
  return server;
}

describe('origins', () => {
  it('through the plugin: queue() refuses another origin than baseUrl’s, storing nothing', async () => {
    const other = await otherOrigin();
    const app = createApp({ logger: silentLogger });
    try {
      const storage = app.register(new StoragePlugin({ driver: 'memory' }));
      app.register(new ConnectivityPlugin());
      const sync = app.register(
        new SyncPlugin({ baseUrl: `${fixture.server.url}/api`, headers: { Authorization: 'Bearer t' } }),
      );
      await app.ready();
      await expect(sync.queue('POST', `${other.url}/collect`, { body: {} })).rejects.toMatchObject({
        code: 'sync/origin-not-allowed',
      });
      expect(await storage.keys()).toStrictEqual([]);
      await sync.queue('POST', `${fixture.server.url}/api/notes`, { body: {} }); // its own origin, absolute
      await sync.queue('POST', '/notes', { body: {} });
      await until(() => sync.pendingCount.value === 0, 'both sent');
      expect(fixture.server.received.map((request) => request.path)).toStrictEqual([
        '/api/notes',
        '/api/notes',
      ]);
      expect(other.received).toStrictEqual([]);
    } finally {
      await app.dispose();
    }
  });

  it('allowedOrigins lets ops (and the headers option) go to the origins it lists', async () => {
    const other = await otherOrigin();
    const { engine, queue } = fixture.engineFor({
      baseUrl: fixture.server.url,
      allowedOrigins: [other.url],
      headers: { Authorization: 'Bearer t' },
    });
    await engine.start();
    await queue('POST', `${other.url}/upload`, { body: {} });
    await until(() => engine.pendingCount.value === 0, 'sent to the allowed origin');
    expect(other.received.map((request) => request.headers.authorization)).toStrictEqual(['Bearer t']);
  });

  it('a stored op to an origin no longer allowed fails unsent; the headers option is not even evaluated', async () => {
    const other = await otherOrigin();
    const store = new MemoryStore();
    const before = fixture.engineFor({
      baseUrl: fixture.server.url,
      allowedOrigins: [other.url],
      store,
      online: false,
    });
    await before.engine.start();
    const op = await before.queue('POST', `${other.url}/upload`, { body: {} });
    await before.engine.dispose();

    let evaluated = 0;
    const after = fixture.engineFor({
      baseUrl: fixture.server.url,
      allowedOrigins: [],
      store,
      headers: () => {
        evaluated++;
        return { Authorization: 'Bearer t' };
      },
    });
    const failed = nextEvent(after.engine, 'failed');
    await after.engine.start();
    const { operation, error } = await failed;
    expect(operation.id).toBe(op.id);
    expect(error).toMatchObject({ code: 'sync/origin-not-allowed' });
    expect(error.message).toContain(other.url);
    expect(other.received).toStrictEqual([]);
    expect(evaluated).toBe(0);
  });

  it('read() refuses another origin too, sending nothing: the headers option never goes there', async () => {
    // Failed before its fix: read() sent the headers option (Authorization) to any origin.
    const other = await otherOrigin();
    const app = createApp({ logger: silentLogger });
    try {
      app.register(new StoragePlugin({ driver: 'memory' }));
      app.register(new ConnectivityPlugin());
      const sync = app.register(
        new SyncPlugin({ baseUrl: `${fixture.server.url}/api`, headers: { Authorization: 'Bearer t' } }),
      );
      await app.ready();
      await expect(sync.read(`${other.url}/notes`)).rejects.toMatchObject({
        code: 'sync/origin-not-allowed',
      });
      expect(other.received).toStrictEqual([]);
      await sync.read('/notes'); // its own origin
      expect(
        fixture.server.received.map((request) => [request.path, request.headers.authorization]),
      ).toStrictEqual([['/api/notes', 'Bearer t']]);
    } finally {
      await app.dispose();
    }
  });

  it('allowedOrigins is validated', () => {
    for (const allowedOrigins of [
      'https://a.example',
      ['https://a.example/path'],
      ['ftp://a.example'],
      [1],
      ['*'],
    ]) {
      expect(() => resolveSyncOptions({ allowedOrigins })).toThrow(
        expect.objectContaining({ code: 'sync/invalid-options' }),
      );
    }
    expect(resolveSyncOptions({ allowedOrigins: ['https://A.example:443/'] }).allowedOrigins).toStrictEqual([
      'https://a.example',
    ]);
  });
});

describe('credential-like headers given to queue()', () => {
  it('are refused like Authorization, storing nothing', async () => {
    const store = new MemoryStore();
    const { engine, queue } = fixture.engineFor({ baseUrl: fixture.server.url, store, online: false });
    await engine.start();
    for (const name of [
      'X-Api-Key',
      'X-Auth-Token',
      'X-CSRF-Token',
      'Api-Key',
      'X-Client-Secret',
      'X-Session-Id',
      'X-Amz-Signature',
      'X-Password',
    ]) {
      await expect(
        queue('POST', '/api/x', { body: {}, headers: { [name]: 'v' } }),
        name,
      ).rejects.toMatchObject({
        code: 'sync/credentials-in-queue',
      });
    }
    expect(store.data.size).toBe(0);
    // Names that only contain such letters are fine, and Idempotency-Key keeps its own error.
    await queue('POST', '/api/x', {
      body: {},
      headers: { 'X-Keyboard-Layout': 'fr', 'X-Request-Source': 'ui' },
    });
    await expect(queue('POST', '/api/x', { headers: { 'Idempotency-Key': 'k' } })).rejects.toMatchObject({
      code: 'sync/invalid-headers',
    });
  });
});
