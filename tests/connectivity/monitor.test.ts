import { afterEach, describe, expect, it, vi } from 'vitest';
import { effect } from '../../src/core/signals.js';
import { FakePlatform, PROBE, setupMonitor as setup } from './helpers.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('ConnectivityMonitor before start', () => {
  it('is online by default, with reason "initial" and the construction time', () => {
    const { monitor } = setup();
    expect(monitor.isOnline.value).toBe(true);
    expect(monitor.reason.value).toBe('initial');
    expect(monitor.lastChangedAt.value).toBe(1000);
  });

  it('starts from the `initial` option', () => {
    const { monitor } = setup({ initial: false });
    expect(monitor.isOnline.value).toBe(false);
  });

  it('with a probe, starts offline unless `initial` says otherwise: online means the probe answered', () => {
    expect(setup({ probe: PROBE }).monitor.isOnline.value).toBe(false);
    expect(setup({ probe: PROBE }).monitor.reason.value).toBe('initial');
    expect(setup({ probe: PROBE, initial: true }).monitor.isOnline.value).toBe(true);
    expect(setup({ probe: PROBE, initial: false }).monitor.isOnline.value).toBe(false);
  });

  it('setOnline works synchronously before start and is kept by start()', () => {
    const { monitor, network, tick } = setup({ probe: PROBE, initial: true });
    tick(5);
    monitor.setOnline(false);
    expect(monitor.isOnline.value).toBe(false);
    expect(monitor.reason.value).toBe('manual');
    expect(monitor.lastChangedAt.value).toBe(1005);
    const platform = new FakePlatform(true);
    monitor.start({ platform });
    expect(monitor.isOnline.value).toBe(false);
    expect(network.calls).toHaveLength(0);
    platform.emit(true);
    expect(network.calls).toHaveLength(1);
  });

  it('check() resolves with the current state and sends nothing', async () => {
    const { monitor, network } = setup({ probe: PROBE, initial: false });
    await expect(monitor.check()).resolves.toBe(false);
    expect(network.calls).toHaveLength(0);
  });
});

describe('ConnectivityMonitor with a platform source and no probe', () => {
  it('reads the platform at start and follows its events', () => {
    const { monitor, tick } = setup();
    const platform = new FakePlatform(false);
    const seen: boolean[] = [];
    const stop = effect(() => {
      seen.push(monitor.isOnline.value);
    });
    tick(10);
    monitor.start({ platform });
    expect(monitor.isOnline.value).toBe(false);
    expect(monitor.reason.value).toBe('platform');
    expect(monitor.lastChangedAt.value).toBe(1010);
    platform.emit(true);
    platform.emit(true);
    platform.emit(false);
    stop();
    expect(seen).toStrictEqual([true, false, true, false]);
  });

  it('the platform at start wins over `initial`', () => {
    const { monitor } = setup({ initial: false });
    monitor.start({ platform: new FakePlatform(true) });
    expect(monitor.isOnline.value).toBe(true);
    expect(monitor.reason.value).toBe('platform');
  });

  it('keeps the initial state without a platform (Node)', () => {
    const { monitor } = setup({ initial: false });
    monitor.start();
    expect(monitor.isOnline.value).toBe(false);
    expect(monitor.reason.value).toBe('initial');
  });

  it('check() re-reads the platform', async () => {
    const { monitor } = setup();
    const platform = new FakePlatform(true);
    monitor.start({ platform });
    platform.online = false; // no event: check() must still notice
    await expect(monitor.check()).resolves.toBe(false);
    expect(monitor.reason.value).toBe('platform');
  });

  it('reportFailure() does not leave the app offline: it changes nothing, and the platform still rules', () => {
    const { monitor, timers, network } = setup();
    const platform = new FakePlatform(true);
    monitor.start({ platform });
    monitor.reportFailure();
    monitor.reportFailure();
    expect(monitor.isOnline.value).toBe(true);
    expect(timers.pending).toHaveLength(0);
    expect(network.calls).toHaveLength(0);
    platform.emit(false);
    expect(monitor.isOnline.value).toBe(false);
    platform.emit(true);
    expect(monitor.isOnline.value).toBe(true);
  });
});

describe('ConnectivityMonitor with a probe', () => {
  it('the first probe decides: offline (reason "initial") until it answers, then online', async () => {
    const { monitor, network } = setup({ probe: PROBE });
    monitor.start({ platform: new FakePlatform(true) });
    expect(monitor.isOnline.value).toBe(false);
    expect(monitor.reason.value).toBe('initial');
    expect(network.calls).toHaveLength(1);
    network.answer(204);
    await monitor.check();
    expect(monitor.isOnline.value).toBe(true);
    expect(monitor.reason.value).toBe('probe');
  });

  it('the first probe failing keeps it offline, with reason "probe", and backs off', async () => {
    const { monitor, network, retryDelays } = setup({ probe: PROBE });
    monitor.start();
    network.fail();
    await expect(monitor.check()).resolves.toBe(false);
    expect(monitor.reason.value).toBe('probe');
    expect(retryDelays()).toStrictEqual([100]);
  });

  it('setOnline() after dispose() → app/disposed, state unchanged', () => {
    const { monitor } = setup({ probe: PROBE, initial: true });
    monitor.start();
    monitor.dispose();
    expect(() => monitor.setOnline(false)).toThrow(expect.objectContaining({ code: 'app/disposed' }));
    expect(monitor.isOnline.value).toBe(true);
    expect(monitor.reason.value).toBe('initial');
  });

  it('probes at start with HEAD, no HTTP cache and an abort signal', () => {
    const { monitor, network } = setup({ probe: PROBE });
    monitor.start();
    expect(network.calls).toHaveLength(1);
    const [call] = network.calls;
    expect(call?.url).toBe(PROBE.url);
    expect(call?.init.method).toBe('HEAD');
    expect(call?.init.cache).toBe('no-store');
    expect(call?.init.signal).toBeInstanceOf(AbortSignal);
  });

  it('counts any HTTP response as online, a network error as offline', async () => {
    const { monitor, network } = setup({ probe: PROBE, initial: false });
    monitor.start();
    network.answer(500);
    await expect(monitor.check()).resolves.toBe(true);
    expect(monitor.reason.value).toBe('probe');
    const next = monitor.check();
    network.fail();
    await expect(next).resolves.toBe(false);
    expect(monitor.isOnline.value).toBe(false);
    expect(monitor.reason.value).toBe('probe');
  });

  it('a probe that does not answer in timeoutMs counts as offline, and its request is aborted', async () => {
    const { monitor, network, timers } = setup({ probe: PROBE });
    monitor.start();
    const result = monitor.check();
    timers.fire(PROBE.timeoutMs);
    await expect(result).resolves.toBe(false);
    expect(monitor.isOnline.value).toBe(false);
    expect(network.calls[0]?.init.signal?.aborted).toBe(true);
  });

  it('does not probe while the platform says offline; probes again when it says online', async () => {
    const { monitor, network } = setup({ probe: PROBE });
    const platform = new FakePlatform(false);
    monitor.start({ platform });
    expect(network.calls).toHaveLength(0);
    await expect(monitor.check()).resolves.toBe(false);
    expect(network.calls).toHaveLength(0);
    platform.emit(true);
    expect(monitor.isOnline.value).toBe(false); // online means: the probe answered
    expect(network.calls).toHaveLength(1);
    network.answer(204);
    await monitor.check();
    expect(monitor.isOnline.value).toBe(true);
    expect(monitor.reason.value).toBe('probe');
  });

  it('the platform saying offline stops the probe in flight and its late answer is ignored', async () => {
    const { monitor, network, timers } = setup({ probe: PROBE });
    const platform = new FakePlatform(true);
    monitor.start({ platform });
    const pending = monitor.check();
    platform.emit(false);
    expect(monitor.isOnline.value).toBe(false);
    expect(monitor.reason.value).toBe('platform');
    expect(network.calls[0]?.init.signal?.aborted).toBe(true);
    await expect(pending).resolves.toBe(false);
    network.answer(204);
    await Promise.resolve();
    expect(monitor.isOnline.value).toBe(false);
    expect(timers.pending).toHaveLength(0);
  });

  it('shares one probe between concurrent check() calls', async () => {
    const { monitor, network } = setup({ probe: PROBE });
    monitor.start();
    const results = [monitor.check(), monitor.check(), monitor.check()];
    monitor.reportFailure();
    expect(network.calls).toHaveLength(1);
    network.answer(204);
    await expect(Promise.all(results)).resolves.toStrictEqual([true, true, true]);
  });

  it('backs off exponentially while offline, capped, and starts over after an answer', async () => {
    const { monitor, network, timers, retryDelays } = setup({ probe: PROBE });
    monitor.start();
    for (const delay of [100, 200, 400, 800, 800]) {
      network.fail();
      await monitor.check(); // joins the probe in flight
      expect(timers.pending.map((t) => t.ms)).toStrictEqual([delay]);
      timers.fire(delay);
    }
    network.answer(204);
    await monitor.check();
    expect(monitor.isOnline.value).toBe(true);
    expect(retryDelays()).toStrictEqual([100, 200, 400, 800, 800]);
    monitor.reportFailure();
    network.fail();
    await monitor.check();
    expect(retryDelays().at(-1)).toBe(100);
  });

  it('jitters the delay with the injected randomness', async () => {
    const { monitor, network, retryDelays } = setup({ probe: PROBE, random: () => 0 });
    monitor.start();
    network.fail();
    await monitor.check();
    expect(retryDelays()).toStrictEqual([10]);
  });

  it('reportFailure() goes offline at once and probes until the probe answers', async () => {
    const { monitor, network, timers } = setup({ probe: PROBE });
    monitor.start();
    network.answer(204);
    await monitor.check();
    const callsBefore = network.calls.length;
    monitor.reportFailure();
    expect(monitor.isOnline.value).toBe(false);
    expect(monitor.reason.value).toBe('request-failure');
    expect(network.calls).toHaveLength(callsBefore + 1);
    network.fail();
    await monitor.check();
    const scheduled = timers.scheduled.length;
    monitor.reportFailure(); // a probe loop is running: leave it alone
    monitor.reportFailure();
    expect(network.calls).toHaveLength(callsBefore + 1);
    expect(timers.scheduled).toHaveLength(scheduled);
    timers.fire(100);
    network.answer(204);
    await monitor.check();
    expect(monitor.isOnline.value).toBe(true);
  });

  it('setOnline() stops probing until asked again', async () => {
    const { monitor, network, timers } = setup({ probe: PROBE });
    monitor.start();
    network.fail();
    await monitor.check();
    expect(timers.pending).toHaveLength(1);
    monitor.setOnline(true);
    expect(timers.pending).toHaveLength(0);
    expect(monitor.reason.value).toBe('manual');
    expect(monitor.isOnline.value).toBe(true);
  });
});
