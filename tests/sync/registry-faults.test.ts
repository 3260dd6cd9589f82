import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import { type App, createApp } from '../../src/core/app.js';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { minIterations, StoragePlugin } from '../../src/plugins/storage/index.js';
import { type FetchFunction, SyncPlugin } from '../../src/plugins/sync/index.js';
import { type Fault, FaultServer } from '../../src/testing/index.js';
import { rawContents } from '../support/raw-indexeddb.js';
import { exactlyOnceInOrder, silentLogger, until } from './harness.js';

/** A small deterministic PRNG (mulberry32), so a failing run can be replayed from its seed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const apps: App[] = [];
const servers: FaultServer[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.dispose();
  for (const server of servers.splice(0)) await server.close();
});

const faults: Fault[] = [
  'ok',
  'ok',
  'drop-before', // never applied: the retry must be applied
  'drop-after', // applied, answer lost: the retry must not be applied again
  { status: 500 },
  { status: 503, retryAfter: '0' },
  { status: 429, retryAfter: '0' },
  { delayMs: 3 }, // slow: a restart may come while it is on the wire
  { delayMs: 3, next: 'drop-after' },
];
const rounds = 6;
const perRound = 6;

/**
 * Queue `rounds × perRound` ops through apps made with the registry over one encrypted
 * fake-indexeddb database, restarting the app (a new one over the same database) after each
 * round once a few more requests reached the server — usually with one on the wire.
 */
async function runWithRestarts(seed: number, fetch?: FetchFunction) {
  const random = seeded(seed);
  const server = await FaultServer.start({
    choose: () => faults[Math.floor(random() * faults.length)] as Fault,
  });
  servers.push(server);
  const factory = new IDBFactory();
  const start = () => {
    const app = createApp({ logger: silentLogger });
    apps.push(app);
    app.register(
      new StoragePlugin({
        indexedDB: factory,
        secret: 'correct horse battery staple',
        iterations: minIterations,
      }),
    );
    app.register(new ConnectivityPlugin());
    const sync = app.register(
      new SyncPlugin({
        baseUrl: server.url,
        retry: { baseDelayMs: 1, maxDelayMs: 4, maxAttempts: 10_000 },
        random,
        ...(fetch ? { fetch } : {}),
      }),
    );
    return { app, sync };
  };
  const expected: string[] = [];
  let session = start();
  await session.app.ready();
  let raw = '';
  let restartsWhileSending = 0;
  for (let round = 0; round < rounds; round++) {
    for (let n = 0; n < perRound; n++) {
      const op = await session.sync.queue(n % 3 === 2 ? 'PATCH' : 'POST', `/api/${round}/${n}`, {
        body: { round, n, secret: 'PLAINTEXT' },
      });
      expected.push(op.id);
    }
    if (round === 0) raw = await rawContents(factory);
    const target = server.received.length + 1 + Math.floor(random() * 6);
    const { sync } = session;
    await Promise.race([
      server.waitForRequests(target),
      until(() => sync.pendingCount.value === 0 && !sync.isSyncing.value),
    ]);
    if (sync.isSyncing.value) restartsWhileSending++;
    await session.app.dispose();
    apps.splice(apps.indexOf(session.app), 1);
    session = start();
    await session.app.ready();
  }
  const { sync } = session;
  await until(() => sync.pendingCount.value === 0 && !sync.isSyncing.value);
  return { server, expected, sync, raw, restartsWhileSending };
}

describe('exactly once, in order, through the registry (StoragePlugin on fake-indexeddb, with a secret)', () => {
  for (const seed of [7, 2024]) {
    it(`random faults and restarts with a request in flight (seed ${seed})`, async () => {
      const { server, expected, sync, raw, restartsWhileSending } = await runWithRestarts(seed);
      expect(raw.length).toBeGreaterThan(0);
      expect(raw).not.toContain('PLAINTEXT'); // encrypted at rest
      expect(raw).not.toContain('/api/0/');
      expect(restartsWhileSending).toBeGreaterThan(0);
      expect(sync.failedCount.value).toBe(0);
      expect(server.received.length).toBeGreaterThan(expected.length); // faults did happen
      expect(
        exactlyOnceInOrder(
          server.applied.map((entry) => entry.key),
          expected,
        ),
      ).toStrictEqual([]);
      expect(server.applied.map((entry) => entry.path)).toStrictEqual(
        expected.map((_, index) => `/api/${Math.floor(index / perRound)}/${index % perRound}`),
      );
    }, 10_000);
  }

  it('the checker is calibrated: a client that makes a new key per attempt fails it', async () => {
    let attempt = 0;
    const broken: FetchFunction = (input, init) => {
      const headers = new Headers(init.headers);
      headers.set('Idempotency-Key', `broken-${attempt++}`);
      return fetch(input, { ...init, headers });
    };
    const { server, expected } = await runWithRestarts(7, broken);
    expect(
      exactlyOnceInOrder(
        server.applied.map((entry) => entry.key),
        expected,
      ),
    ).not.toStrictEqual([]);
  }, 10_000);
});
