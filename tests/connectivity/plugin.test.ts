import { afterEach, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../src/core/app.js';
import { isFluxyError } from '../../src/core/errors.js';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { holdsEventLoop, type ProbeServer, recordSourceTimers, startProbeServer } from './helpers.js';

let server: ProbeServer | undefined;
let recording: ReturnType<typeof recordSourceTimers> | undefined;

afterEach(async () => {
  vi.useRealTimers();
  recording?.restore();
  recording = undefined;
  await server?.close();
  server = undefined;
});

describe('ConnectivityPlugin through the registry (Node)', () => {
  it('registers as "connectivity", typed by name and by class', async () => {
    const app = createApp();
    const connectivity = app.register(new ConnectivityPlugin());
    const byName: ConnectivityPlugin = app.use('connectivity');
    expect(byName).toBe(connectivity);
    expect(app.use(ConnectivityPlugin)).toBe(connectivity);
    await app.dispose();
  });

  it('has the public signals as own properties, and no other (they are copied from the monitor)', () => {
    const connectivity = new ConnectivityPlugin();
    expect(Object.keys(connectivity)).toStrictEqual(['name', 'isOnline', 'lastChangedAt', 'reason']);
    expect(typeof connectivity.lastChangedAt.value).toBe('number');
  });

  it('is online in Node without a probe, before and after ready()', async () => {
    const app = createApp();
    const connectivity = app.register(new ConnectivityPlugin());
    expect(connectivity.isOnline.value).toBe(true);
    await app.ready();
    expect(connectivity.isOnline.value).toBe(true);
    expect(connectivity.reason.value).toBe('initial');
    await app.dispose();
  });

  it('setOnline() works synchronously before ready(), and the state survives init', async () => {
    const app = createApp();
    const connectivity = app.register(new ConnectivityPlugin());
    const before = connectivity.lastChangedAt.value;
    connectivity.setOnline(false);
    expect(connectivity.isOnline.value).toBe(false);
    expect(connectivity.reason.value).toBe('manual');
    expect(connectivity.lastChangedAt.value).toBeGreaterThanOrEqual(before);
    await app.ready();
    expect(connectivity.isOnline.value).toBe(false);
    connectivity.setOnline(true);
    expect(connectivity.isOnline.value).toBe(true);
    await app.dispose();
  });

  it('check() initialises the app and probes the real server', async () => {
    server = await startProbeServer({ kind: 'answer', status: 503 });
    const app = createApp();
    const connectivity = app.register(new ConnectivityPlugin({ probe: { url: server.url }, initial: false }));
    await expect(connectivity.check()).resolves.toBe(true);
    expect(connectivity.reason.value).toBe('probe');
    expect(server.requests.length).toBeGreaterThanOrEqual(1);
    await app.dispose();
  });

  it('check() rejects with plugin/not-registered when never registered', async () => {
    await expect(new ConnectivityPlugin().check()).rejects.toMatchObject({ code: 'plugin/not-registered' });
  });

  it('waitForOnline() waits for setOnline(true) and can be aborted', async () => {
    const app = createApp();
    const connectivity = app.register(new ConnectivityPlugin({ initial: false }));
    const controller = new AbortController();
    const aborted = connectivity.waitForOnline(controller.signal);
    const waiting = connectivity.waitForOnline();
    await app.ready();
    controller.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    connectivity.setOnline(true);
    await expect(waiting).resolves.toBeUndefined();
    await app.dispose();
  });

  it('a relative probe URL fails init in Node with connectivity/invalid-probe', async () => {
    const app = createApp();
    const connectivity = app.register(new ConnectivityPlugin({ probe: { url: '/health' } }));
    const error = await app.ready().catch((e: unknown) => e);
    expect(isFluxyError(error, 'plugin/init-failed')).toBe(true);
    expect(isFluxyError((error as Error).cause, 'connectivity/invalid-probe')).toBe(true);
    expect(connectivity.isOnline.value).toBe(false); // never probed: still the initial state
    expect(connectivity.reason.value).toBe('initial');
    await app.dispose();
  });

  it('reportFailure() without a probe keeps the app online; with one it probes until back', async () => {
    server = await startProbeServer({ kind: 'answer', status: 204 });
    const app = createApp();
    const plain = app.register(new ConnectivityPlugin());
    await app.ready();
    plain.reportFailure();
    expect(plain.isOnline.value).toBe(true);
    await app.dispose();

    const other = createApp();
    const probed = other.register(new ConnectivityPlugin({ probe: { url: server.url } }));
    await probed.check();
    probed.reportFailure();
    expect(probed.isOnline.value).toBe(false);
    await expect(probed.check()).resolves.toBe(true);
    await other.dispose();
  });

  it('leaves no timer after app.dispose() while probing a dead network (fake timers)', async () => {
    vi.useFakeTimers();
    const app = createApp();
    const connectivity = app.register(
      new ConnectivityPlugin({
        probe: { url: 'http://127.0.0.1:9/health', intervalMs: 1000 },
        fetch: () => Promise.reject(new TypeError('fetch failed')),
      }),
    );
    await app.ready();
    await vi.advanceTimersByTimeAsync(0);
    expect(connectivity.isOnline.value).toBe(false);
    expect(vi.getTimerCount()).toBe(1);
    await app.dispose();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('leaves no active Node timer after app.dispose() with a probe in flight (real timers)', async () => {
    server = await startProbeServer({ kind: 'hang' });
    // Only Fluxy's timers, each checked on its own: vitest's and undici's come and go meanwhile.
    recording = recordSourceTimers();
    const app = createApp();
    app.register(new ConnectivityPlugin({ probe: { url: server.url, timeoutMs: 600_000 } }));
    await app.ready();
    await server.receivedCount(1);
    const { timers } = recording;
    expect(timers.filter(holdsEventLoop)).toHaveLength(1); // the probe's timeout
    await app.dispose();
    expect(timers.filter(holdsEventLoop)).toEqual([]);
    await server.whenIdle();
  });

  it('with a probe and no `initial`: offline (reason "initial") until the first probe answers', async () => {
    server = await startProbeServer({ kind: 'hang' });
    const app = createApp();
    const connectivity = app.register(new ConnectivityPlugin({ probe: { url: server.url } }));
    // A captive portal must not look online before the probe answered: Sync would flush.
    expect(connectivity.isOnline.value).toBe(false);
    expect(connectivity.reason.value).toBe('initial');
    await app.ready();
    await server.receivedCount(1);
    expect(connectivity.isOnline.value).toBe(false);
    expect(connectivity.reason.value).toBe('initial');
    const online = connectivity.waitForOnline();
    server.releaseHanging(204);
    await online;
    expect(connectivity.reason.value).toBe('probe');
    await app.dispose();
  });

  it('with a probe and `initial: true`: online until the first probe says otherwise', async () => {
    server = await startProbeServer({ kind: 'hang' });
    const app = createApp();
    const connectivity = app.register(new ConnectivityPlugin({ probe: { url: server.url }, initial: true }));
    expect(connectivity.isOnline.value).toBe(true);
    await app.ready();
    expect(connectivity.isOnline.value).toBe(true);
    await app.dispose();
  });

  it('after app.dispose(): setOnline() throws app/disposed and isOnline stays; check() and waitForOnline() reject', async () => {
    const app = createApp();
    const connectivity = app.register(new ConnectivityPlugin({ initial: false }));
    await app.ready();
    await app.dispose();
    const error = (() => {
      try {
        connectivity.setOnline(true);
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(isFluxyError(error, 'app/disposed')).toBe(true);
    expect(connectivity.isOnline.value).toBe(false);
    expect(connectivity.reason.value).toBe('initial');
    await expect(connectivity.check()).rejects.toMatchObject({ code: 'app/disposed' });
    await expect(connectivity.waitForOnline()).rejects.toMatchObject({ code: 'app/disposed' });
    // A hint from an HTTP layer still finishing its requests is ignored, not an error.
    expect(() => connectivity.reportFailure()).not.toThrow();
  });

  it('after app.dispose() of a never-initialised plugin: setOnline() throws app/disposed too', async () => {
    const app = createApp();
    const connectivity = app.register(new ConnectivityPlugin());
    await app.dispose();
    expect(() => connectivity.setOnline(false)).toThrow(expect.objectContaining({ code: 'app/disposed' }));
    expect(connectivity.isOnline.value).toBe(true);
  });

  it('probes at most once per millisecond with the smallest intervals (fake timers)', async () => {
    vi.useFakeTimers();
    let probes = 0;
    const app = createApp();
    const connectivity = app.register(
      new ConnectivityPlugin({
        probe: { url: 'http://127.0.0.1:9/health', intervalMs: 1, maxIntervalMs: 1 },
        fetch: () => {
          probes += 1;
          return Promise.reject(new TypeError('fetch failed'));
        },
      }),
    );
    await app.ready();
    await vi.advanceTimersByTimeAsync(100);
    expect(connectivity.isOnline.value).toBe(false);
    // One probe at init, then one per 1 ms delay (jitter rounds up to 1 ms, never down to 0).
    expect(probes).toBeLessThanOrEqual(101);
    expect(probes).toBeGreaterThan(10);
    await app.dispose();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('touches no global at import or construction', async () => {
    const touched: string[] = [];
    const saved = new Map<string, PropertyDescriptor | undefined>();
    for (const name of ['navigator', 'window', 'location', 'fetch', 'addEventListener']) {
      saved.set(name, Object.getOwnPropertyDescriptor(globalThis, name));
      Object.defineProperty(globalThis, name, {
        configurable: true,
        get() {
          touched.push(name);
          return undefined;
        },
      });
    }
    try {
      vi.resetModules();
      const module = await import('../../src/plugins/connectivity/index.js');
      const plugin = new module.ConnectivityPlugin({ probe: { url: '/health' } });
      expect(plugin.isOnline.value).toBe(false);
    } finally {
      for (const [name, descriptor] of saved) {
        if (descriptor) Object.defineProperty(globalThis, name, descriptor);
        else delete (globalThis as Record<string, unknown>)[name];
      }
    }
    expect(touched).toStrictEqual([]);
  });
});
