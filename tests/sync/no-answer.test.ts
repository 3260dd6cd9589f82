import { IDBFactory } from 'fake-indexeddb';
import { beforeEach, expect, it } from 'vitest';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import { SyncPlugin } from '../../src/plugins/sync/index.js';
import { holdTimeouts, registryPerTest, until, withTimeout } from './harness.js';

// A request that never gets an answer (a dead host, a proxy that drops it) while the server's
// health probe answers: its attempts count, so it ends in the failed list instead of blocking
// the queue for ever. Without a probe nothing can tell "this host" from "the network".

// The request timeout is one no other timer uses, held (holdTimeouts): a request to /stuck times
// out as soon as the server has it, and no other one ever does. (With a real 50 ms timeout a
// loaded machine also timed out /fine, three times: two ops failed, and the wait below ran out.)
const timeoutMs = 98_765;
let timeouts: ReturnType<typeof holdTimeouts> | undefined;
beforeEach(() => {
  timeouts = holdTimeouts(timeoutMs);
});
const fixture = registryPerTest({
  choose: (request) => {
    if (request.path !== '/stuck') return 'ok';
    queueMicrotask(() => timeouts?.expire());
    return 'hang';
  },
});

const deadHost = 'http://127.0.0.1:1/nobody-listens';

function bootstrap(probe: boolean) {
  const app = fixture.app();
  app.register(new StoragePlugin({ indexedDB: new IDBFactory() }));
  const connectivity = app.register(
    new ConnectivityPlugin(
      probe ? { probe: { url: `${fixture.server.url}/health`, intervalMs: 1, timeoutMs: 2_000 } } : {},
    ),
  );
  const sync = app.register(
    new SyncPlugin({
      baseUrl: fixture.server.url,
      allowedOrigins: [new URL(deadHost).origin], // another origin than baseUrl's
      timeoutMs,
      retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
    }),
  );
  return { app, connectivity, sync };
}

it.each([
  ['a dead host (network error)', deadHost],
  ['a request that times out', '/stuck'],
])(
  'with a probe that answers, %s counts its attempts, ends failed, and the ones behind are sent',
  async (_, url) => {
    const { app, sync } = bootstrap(true);
    await app.ready();
    const stuck = await sync.queue('POST', url, { body: { n: 0 } });
    const fine = await sync.queue('POST', '/fine', { body: { n: 1 } });
    await until(
      () => sync.failedCount.value === 1 && sync.pendingCount.value === 0,
      'the stuck op failed and the fine one sent',
    );
    const [failed] = await sync.failed();
    expect(failed?.id).toBe(stuck.id);
    expect(failed && 'attempts' in failed ? failed.attempts : undefined).toBe(3);
    expect(failed?.lastError?.code).toBe('sync/max-attempts');
    expect(sync.lastError.value?.code).toBe('sync/max-attempts');
    expect(
      fixture.server.applied.filter((applied) => applied.key !== null).map((applied) => applied.key),
    ).toStrictEqual([fine.id]);
    // Still retryable by the app, with the same key (the server may have applied a timed-out request).
    await until(() => sync.status.value === 'idle', 'the sync idle');
  },
);

it('without a probe, no-answer attempts are not counted: the op stays at the head, still pending', async () => {
  const { app, sync } = bootstrap(false);
  await app.ready();
  let retries = 0;
  const enoughRetries = new Promise<void>((resolve) => {
    sync.on('retry', () => {
      if (++retries === 6) resolve();
    });
  });
  const stuck = await sync.queue('POST', deadHost, { body: { n: 0 } });
  await sync.queue('POST', '/fine', { body: { n: 1 } });
  await withTimeout(enoughRetries, 'six retry events');
  expect(sync.failedCount.value).toBe(0);
  expect(sync.pendingCount.value).toBe(2);
  const [head] = await sync.pending();
  expect(head?.id).toBe(stuck.id);
  expect(head && 'attempts' in head ? head.attempts : undefined).toBe(0);
  expect(fixture.server.applied.filter((applied) => applied.key !== null)).toStrictEqual([]);
});
