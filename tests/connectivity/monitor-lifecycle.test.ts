import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConnectivityMonitor } from '../../src/plugins/connectivity/index.js';
import { FakePlatform, PROBE, setupMonitor as setup } from './helpers.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('waitForOnline', () => {
  it('resolves at once when online, and when the state turns online', async () => {
    const { monitor } = setup({ initial: false });
    monitor.start();
    let resolved = false;
    const waiting = monitor.waitForOnline().then(() => {
      resolved = true;
    });
    await Promise.resolve();
    expect(resolved).toBe(false);
    monitor.setOnline(true);
    await waiting;
    expect(resolved).toBe(true);
    await expect(monitor.waitForOnline()).resolves.toBeUndefined();
  });

  it('rejects with the signal reason on abort and removes its listener', async () => {
    const { monitor } = setup({ initial: false });
    monitor.start();
    const controller = new AbortController();
    const add = vi.spyOn(controller.signal, 'addEventListener');
    const remove = vi.spyOn(controller.signal, 'removeEventListener');
    const waiting = monitor.waitForOnline(controller.signal);
    const reason = new Error('user gave up');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect(add).toHaveBeenCalledTimes(1);
    expect(remove).toHaveBeenCalledTimes(1);
    expect(remove.mock.calls[0]?.[1]).toBe(add.mock.calls[0]?.[1]);
  });

  it('removes its abort listener when it resolves', async () => {
    const { monitor } = setup({ initial: false });
    monitor.start();
    const controller = new AbortController();
    const remove = vi.spyOn(controller.signal, 'removeEventListener');
    const waiting = monitor.waitForOnline(controller.signal);
    monitor.setOnline(true);
    await waiting;
    expect(remove).toHaveBeenCalledTimes(1);
  });

  it('rejects at once for an aborted signal, even when online', async () => {
    const { monitor } = setup();
    const reason = new Error('already aborted');
    await expect(monitor.waitForOnline(AbortSignal.abort(reason))).rejects.toBe(reason);
  });

  it('rejects with app/disposed when the monitor is disposed first', async () => {
    const { monitor } = setup({ initial: false });
    monitor.start();
    const waiting = monitor.waitForOnline();
    monitor.dispose();
    await expect(waiting).rejects.toMatchObject({ code: 'app/disposed' });
    await expect(monitor.waitForOnline()).rejects.toMatchObject({ code: 'app/disposed' });
  });
});

describe('dispose', () => {
  it('unsubscribes, clears timers, stops the probe in flight and ignores later events', async () => {
    const { monitor, network, timers } = setup({ probe: PROBE });
    const platform = new FakePlatform(true);
    monitor.start({ platform });
    expect(platform.listenerCount).toBe(1);
    expect(timers.pending).toHaveLength(1); // the probe's timeout
    monitor.dispose();
    monitor.dispose();
    expect(platform.listenerCount).toBe(0);
    expect(timers.pending).toHaveLength(0);
    expect(network.calls[0]?.init.signal?.aborted).toBe(true);
    network.answer(204);
    monitor.reportFailure();
    await Promise.resolve();
    expect(timers.pending).toHaveLength(0);
    expect(network.calls).toHaveLength(1);
    expect(() => monitor.start()).toThrow(expect.objectContaining({ code: 'app/disposed' }));
  });

  it('leaves no timer behind (fake global timers)', async () => {
    vi.useFakeTimers();
    const monitor = new ConnectivityMonitor({
      probe: PROBE,
      fetch: () => Promise.reject(new TypeError('fetch failed')),
      random: () => 1,
    });
    monitor.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(monitor.isOnline.value).toBe(false);
    expect(vi.getTimerCount()).toBe(1); // the retry
    await vi.advanceTimersByTimeAsync(100);
    expect(vi.getTimerCount()).toBe(1); // the next retry, 200 ms out
    monitor.dispose();
    expect(vi.getTimerCount()).toBe(0);
  });
});
