import { signal } from '@preact/signals-core';
import { afterEach, expect, it, vi } from 'vitest';
import { ConnectivityMonitor } from '../../src/plugins/connectivity/monitor.js';
import { faultServerPerTest, until } from './harness.js';

// The request of an attempt is sent by a lazy chunk (send-request.ts). A tab left open across a
// deploy that deleted that chunk cannot load it: no request is made, so the attempt must never
// count toward maxAttempts — not even while the connectivity probe answers (which makes a request
// that gets no answer count) — and connectivity is not told (the network is fine). The op waits,
// retried with backoff and the same key, and is sent once the chunk loads.
// (The engine and the connectivity monitor from the sources: `npm run test:dist` runs this file
// too, and a mock of the source chunk would not reach a built one.)

const fixture = faultServerPerTest();
let monitor: ConnectivityMonitor | undefined;
afterEach(() => {
  vi.doUnmock('../../src/plugins/sync/send-request.js');
  monitor?.dispose();
});

it('a send chunk that cannot load never counts as an attempt, even while the probe answers', async () => {
  vi.doMock('../../src/plugins/sync/send-request.js', () => {
    throw new Error('Failed to fetch dynamically imported module: /assets/send-request-OLD.js');
  });
  const connectivity = new ConnectivityMonitor({
    probe: { url: `${fixture.server.url}/health`, intervalMs: 1, timeoutMs: 2_000 },
  });
  monitor = connectivity;
  connectivity.start();
  await until(() => connectivity.isOnline.value, 'the first probe answers');
  const { engine, queue } = fixture.engineFor({
    baseUrl: fixture.server.url,
    connectivity,
    retry: { maxAttempts: 2 },
  });
  const retries = signal(0);
  engine.events.on('retry', () => retries.value++);
  let offline = 0;
  connectivity.isOnline.subscribe((online) => {
    if (!online) offline++;
  });
  await engine.start();
  const op = await queue('POST', '/api/notes', { body: { n: 1 } });
  // Three times maxAttempts; before the fix the op failed after two.
  await until(() => retries.value >= 6 || engine.failedCount.value > 0, 'six retries, or the op failed');
  expect(engine.failedCount.value).toBe(0);
  expect(engine.pendingCount.value).toBe(1);
  const [head] = await engine.pending();
  expect(head?.id).toBe(op.id);
  expect(head && 'attempts' in head ? head.attempts : undefined).toBe(0);
  expect(engine.lastError.value?.code).toBe('sync/network-error');
  expect(offline).toBe(0); // not reported to connectivity: no request was made
  expect(fixture.server.received.filter((request) => request.method !== 'HEAD')).toStrictEqual([]); // probes only

  // The chunk loads again (the next attempt imports it anew): sent, with the same key.
  vi.doUnmock('../../src/plugins/sync/send-request.js');
  await until(() => engine.pendingCount.value === 0, 'the op sent once the chunk loads');
  expect(engine.failedCount.value).toBe(0);
  expect(fixture.server.applied.map((applied) => applied.key)).toStrictEqual([op.id]);
});
