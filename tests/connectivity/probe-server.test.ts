import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ConnectivityMonitor,
  type ConnectivityMonitorOptions,
  type FetchFunction,
} from '../../src/plugins/connectivity/index.js';
import { FakePlatform, ManualTimers, type ProbeServer, startProbeServer } from './helpers.js';

// A real HTTP server on 127.0.0.1; timers are manual so no test waits for real time.
const TIMEOUT_MS = 5000;
let server: ProbeServer;
let monitors: ConnectivityMonitor[] = [];

beforeEach(async () => {
  server = await startProbeServer();
});

afterEach(async () => {
  for (const monitor of monitors) monitor.dispose();
  monitors = [];
  await server.close();
});

function setup(options: Omit<ConnectivityMonitorOptions, 'probe'> & { method?: 'GET' | 'HEAD' } = {}) {
  const timers = new ManualTimers();
  const fetchCalls: string[] = [];
  const countingFetch: FetchFunction = (url, init) => {
    fetchCalls.push(url);
    return fetch(url, init);
  };
  const { method, ...rest } = options;
  const monitor = new ConnectivityMonitor({
    probe: {
      url: server.url,
      intervalMs: 100,
      maxIntervalMs: 800,
      timeoutMs: TIMEOUT_MS,
      ...(method ? { method } : {}),
    },
    fetch: countingFetch,
    timers,
    random: () => 1,
    ...rest,
  });
  monitors.push(monitor);
  const retryDelays = () => timers.pending.filter((t) => t.ms !== TIMEOUT_MS).map((t) => t.ms);
  return { monitor, timers, fetchCalls, retryDelays };
}

describe('probe against a real server', () => {
  it('is online when the server answers, with a HEAD request', async () => {
    const { monitor } = setup({ initial: false });
    monitor.start();
    await expect(monitor.check()).resolves.toBe(true);
    expect(monitor.reason.value).toBe('probe');
    expect(server.requests).toStrictEqual([{ method: 'HEAD', url: '/health' }]);
  });

  it('counts a 500 as online: the network works', async () => {
    server.mode = { kind: 'answer', status: 500 };
    const { monitor } = setup({ initial: false });
    monitor.start();
    await expect(monitor.check()).resolves.toBe(true);
  });

  it('uses GET when asked', async () => {
    const { monitor } = setup({ method: 'GET' });
    monitor.start();
    await monitor.check();
    expect(server.requests[0]?.method).toBe('GET');
  });

  it('is offline when the server drops the connection', async () => {
    server.mode = { kind: 'refuse' };
    const { monitor } = setup();
    monitor.start();
    await expect(monitor.check()).resolves.toBe(false);
    expect(monitor.isOnline.value).toBe(false);
    expect(monitor.reason.value).toBe('probe');
  });

  it('is offline when the server hangs past timeoutMs', async () => {
    server.mode = { kind: 'hang' };
    const { monitor, timers } = setup({ initial: true });
    monitor.start();
    await server.receivedCount(1);
    expect(monitor.isOnline.value).toBe(true);
    const result = monitor.check();
    timers.fire(TIMEOUT_MS);
    await expect(result).resolves.toBe(false);
    expect(monitor.isOnline.value).toBe(false);
  });

  it('follows the server: offline while it refuses, online once it answers again', async () => {
    server.mode = { kind: 'refuse' };
    const { monitor, timers, retryDelays } = setup();
    monitor.start();
    await monitor.check();
    expect(monitor.isOnline.value).toBe(false);
    server.mode = { kind: 'answer', status: 204 };
    const [delay] = retryDelays();
    timers.fire(delay ?? -1);
    await monitor.check();
    expect(monitor.isOnline.value).toBe(true);
    expect(retryDelays()).toStrictEqual([]);
  });

  it('backs off exponentially up to the cap while the server refuses', async () => {
    server.mode = { kind: 'refuse' };
    const { monitor, timers, retryDelays } = setup();
    monitor.start();
    const seen: number[] = [];
    for (let probe = 0; probe < 6; probe += 1) {
      await monitor.check(); // joins the probe in flight
      const [delay] = retryDelays();
      seen.push(delay ?? -1);
      timers.fire(delay ?? -1);
    }
    expect(seen).toStrictEqual([100, 200, 400, 800, 800, 800]);
    await monitor.check();
    expect(server.requests).toHaveLength(7);
  });

  it('never has more than one probe in flight', async () => {
    server.mode = { kind: 'hang' };
    const platform = new FakePlatform(true);
    const { monitor, fetchCalls } = setup();
    monitor.start({ platform });
    await server.receivedCount(1);
    const results = [monitor.check(), monitor.check(), monitor.check()];
    monitor.reportFailure();
    platform.emit(true);
    results.push(monitor.check());
    server.releaseHanging(204);
    await expect(Promise.all(results)).resolves.toStrictEqual([true, true, true, true]);
    expect(fetchCalls).toHaveLength(1);
    expect(server.requests).toHaveLength(1);
    expect(server.maxConcurrent).toBe(1);
    // The next check is a new probe.
    server.mode = { kind: 'answer', status: 204 };
    await monitor.check();
    expect(fetchCalls).toHaveLength(2);
  });

  it('reportFailure() goes offline at once and comes back when the probe answers', async () => {
    const { monitor } = setup();
    monitor.start();
    await monitor.check();
    monitor.reportFailure();
    expect(monitor.isOnline.value).toBe(false);
    expect(monitor.reason.value).toBe('request-failure');
    await expect(monitor.check()).resolves.toBe(true);
    expect(monitor.reason.value).toBe('probe');
    expect(server.requests).toHaveLength(2);
  });

  it('after reportFailure() against a dead server, keeps probing until it answers', async () => {
    const { monitor, timers, retryDelays } = setup();
    monitor.start();
    await monitor.check();
    server.mode = { kind: 'refuse' };
    monitor.reportFailure();
    await monitor.check();
    expect(monitor.isOnline.value).toBe(false);
    timers.fire(retryDelays()[0] ?? -1);
    await monitor.check();
    expect(monitor.isOnline.value).toBe(false);
    server.mode = { kind: 'answer', status: 204 };
    timers.fire(retryDelays()[0] ?? -1);
    await monitor.check();
    expect(monitor.isOnline.value).toBe(true);
    expect(server.requests).toHaveLength(4);
  });

  it('reportFailure() without a probe does not take the app offline', async () => {
    const fetchCalls: unknown[] = [];
    const monitor = new ConnectivityMonitor({
      fetch: (url, init) => {
        fetchCalls.push(url);
        return fetch(url, init);
      },
    });
    monitors.push(monitor);
    monitor.start();
    monitor.reportFailure();
    expect(monitor.isOnline.value).toBe(true);
    await expect(monitor.check()).resolves.toBe(true);
    expect(fetchCalls).toHaveLength(0);
    expect(server.requests).toHaveLength(0);
  });

  it('dispose() aborts the probe in flight: the server sees the connection close', async () => {
    server.mode = { kind: 'hang' };
    const { monitor, timers } = setup();
    monitor.start();
    await server.receivedCount(1);
    monitor.dispose();
    expect(timers.pending).toHaveLength(0);
    expect(server.openCount).toBe(1);
    await server.whenIdle(); // hangs (and the test times out) if the request was not aborted
    expect(server.openCount).toBe(0);
  });
});
