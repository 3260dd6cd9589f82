// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../src/core/app.js';
import { browserPlatform, ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { controlledFetch, until } from './helpers.js';

type Listener = Parameters<typeof globalThis.addEventListener>[1];

/** Records every listener added to and removed from the global, by type. */
function spyOnGlobalListeners() {
  const added: Array<[string, Listener]> = [];
  const removed: Array<[string, Listener]> = [];
  const add = globalThis.addEventListener.bind(globalThis);
  const remove = globalThis.removeEventListener.bind(globalThis);
  vi.spyOn(globalThis, 'addEventListener').mockImplementation((type, listener, options) => {
    added.push([type, listener]);
    add(type, listener, options);
  });
  vi.spyOn(globalThis, 'removeEventListener').mockImplementation((type, listener, options) => {
    removed.push([type, listener]);
    remove(type, listener, options);
  });
  return { added, removed };
}

function dispatch(type: 'online' | 'offline'): void {
  globalThis.dispatchEvent(new Event(type));
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('ConnectivityPlugin in a browser (happy-dom)', () => {
  it('adds no listener at construction; reads navigator.onLine and listens from init', async () => {
    const listeners = spyOnGlobalListeners();
    const onLine = vi.spyOn(navigator, 'onLine', 'get').mockReturnValue(false);
    const app = createApp();
    const connectivity = app.register(new ConnectivityPlugin());
    expect(listeners.added).toHaveLength(0);
    expect(onLine).not.toHaveBeenCalled();
    expect(connectivity.isOnline.value).toBe(true);
    await app.ready();
    expect(connectivity.isOnline.value).toBe(false);
    expect(connectivity.reason.value).toBe('platform');
    expect(listeners.added.map(([type]) => type).sort()).toStrictEqual(['offline', 'online']);
    await app.dispose();
  });

  it('flips with the online/offline events', async () => {
    const app = createApp();
    const connectivity = app.register(new ConnectivityPlugin());
    await app.ready();
    expect(connectivity.isOnline.value).toBe(true);
    const onLine = vi.spyOn(navigator, 'onLine', 'get').mockReturnValue(false);
    dispatch('offline');
    expect(connectivity.isOnline.value).toBe(false);
    expect(connectivity.reason.value).toBe('platform');
    onLine.mockReturnValue(true);
    dispatch('online');
    expect(connectivity.isOnline.value).toBe(true);
    await app.dispose();
  });

  it('check() re-reads navigator.onLine', async () => {
    const app = createApp();
    const connectivity = app.register(new ConnectivityPlugin());
    await app.ready();
    vi.spyOn(navigator, 'onLine', 'get').mockReturnValue(false);
    await expect(connectivity.check()).resolves.toBe(false);
    await app.dispose();
  });

  it('removes every listener it added on dispose, and ignores events afterwards', async () => {
    const listeners = spyOnGlobalListeners();
    const app = createApp();
    const connectivity = app.register(new ConnectivityPlugin());
    await app.ready();
    expect(listeners.added).toHaveLength(2);
    await app.dispose();
    expect(listeners.removed).toHaveLength(listeners.added.length);
    for (const [type, listener] of listeners.added) {
      expect(listeners.removed).toContainEqual([type, listener]);
    }
    dispatch('offline');
    expect(connectivity.isOnline.value).toBe(true);
  });

  it('resolves a relative probe URL against location.href and probes when the platform says online', async () => {
    const network = controlledFetch();
    const app = createApp();
    const connectivity = app.register(
      new ConnectivityPlugin({ probe: { url: '/api/health' }, fetch: network.fetch }),
    );
    await app.ready();
    expect(network.calls.map((call) => call.url)).toStrictEqual([new URL('/api/health', location.href).href]);
    expect(connectivity.isOnline.value).toBe(false); // offline until the first probe answers
    expect(connectivity.reason.value).toBe('initial');
    network.fail();
    await until(connectivity.reason, 'probe');
    expect(connectivity.isOnline.value).toBe(false);
    const onLine = vi.spyOn(navigator, 'onLine', 'get').mockReturnValue(false);
    dispatch('offline');
    expect(connectivity.reason.value).toBe('platform');
    const callsWhileOffline = network.calls.length;
    onLine.mockReturnValue(true);
    dispatch('online');
    expect(connectivity.isOnline.value).toBe(false); // not until the probe answers
    expect(network.calls).toHaveLength(callsWhileOffline + 1);
    network.answer(204);
    await connectivity.check();
    expect(connectivity.isOnline.value).toBe(true);
    expect(connectivity.reason.value).toBe('probe');
    await app.dispose();
  });

  it('reportFailure() without a probe keeps following the platform', async () => {
    const app = createApp();
    const connectivity = app.register(new ConnectivityPlugin());
    await app.ready();
    connectivity.reportFailure();
    expect(connectivity.isOnline.value).toBe(true);
    dispatch('offline');
    expect(connectivity.isOnline.value).toBe(false);
    dispatch('online');
    expect(connectivity.isOnline.value).toBe(true);
    await app.dispose();
  });
});

describe('browserPlatform', () => {
  it('is undefined where there is no navigator.onLine or no event target', () => {
    expect(browserPlatform({})).toBeUndefined();
    expect(
      browserPlatform({ navigator: {}, addEventListener() {}, removeEventListener() {} }),
    ).toBeUndefined();
    expect(browserPlatform({ navigator: { onLine: true } })).toBeUndefined();
    expect(browserPlatform(undefined)).toBeDefined(); // the default: this happy-dom global
  });

  it('works on any worker-like global with navigator.onLine and events', () => {
    const target = new EventTarget();
    const scope = Object.assign(target, { navigator: { onLine: false } });
    const platform = browserPlatform(scope);
    expect(platform?.isOnline()).toBe(false);
    const seen: boolean[] = [];
    const stop = platform?.subscribe((online) => seen.push(online));
    target.dispatchEvent(new Event('online'));
    target.dispatchEvent(new Event('offline'));
    stop?.();
    stop?.();
    target.dispatchEvent(new Event('online'));
    expect(seen).toStrictEqual([true, false]);
  });
});
