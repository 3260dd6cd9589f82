import { effect } from '@preact/signals-core';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { ConnectivityMonitor } from '../../src/plugins/connectivity/index.js';
import { ManualTimers, type ProbeServer, startProbeServer } from './helpers.js';

// Issue 17, finding 2 (connectivity's part): the probe runs in the background; whatever its
// answer sets off synchronously (an app effect on isOnline that throws) must not become an
// unhandled rejection, which ends a Node process.
let server: ProbeServer;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
beforeEach(async () => {
  server = await startProbeServer();
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
});
afterEach(async () => {
  process.off('unhandledRejection', onUnhandled);
  await server.close();
});

it('an effect on isOnline that throws when the probe answers is reported, not an unhandled rejection', async () => {
  const reported: unknown[] = [];
  const monitor = new ConnectivityMonitor({
    probe: { url: server.url, intervalMs: 100, timeoutMs: 5000 },
    timers: new ManualTimers(),
    initial: false,
    onError: (error) => reported.push(error),
  });
  const stop = effect(() => {
    if (monitor.isOnline.value) throw new Error('app effect failed');
  });
  try {
    monitor.start(); // the first probe, in the background
    await expect(monitor.check()).resolves.toBe(true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(monitor.isOnline.value).toBe(true);
    expect(unhandled).toStrictEqual([]);
    expect(reported).toStrictEqual([expect.objectContaining({ message: 'app effect failed' })]);
  } finally {
    stop();
    monitor.dispose();
  }
});

// An app effect on isOnline that throws must not leave waitForOnline() waiting for good: the
// state did turn online, so the waiters are told, whichever way it turned.
it('waitForOnline() resolves when an effect on isOnline throws as the probe answers', async () => {
  const monitor = new ConnectivityMonitor({
    probe: { url: server.url, intervalMs: 100, timeoutMs: 5000 },
    timers: new ManualTimers(),
    initial: false,
    onError: () => {},
  });
  const stop = effect(() => {
    if (monitor.isOnline.value) throw new Error('app effect failed');
  });
  try {
    const online = monitor.waitForOnline();
    monitor.start();
    await expect(monitor.check()).resolves.toBe(true);
    await expect(online).resolves.toBeUndefined();
  } finally {
    stop();
    monitor.dispose();
  }
}, 2000);

it('waitForOnline() resolves when an effect on isOnline throws in setOnline(true), which rethrows', async () => {
  const monitor = new ConnectivityMonitor({ initial: false });
  const stop = effect(() => {
    if (monitor.isOnline.value) throw new Error('app effect failed');
  });
  try {
    monitor.start();
    const online = monitor.waitForOnline();
    expect(() => monitor.setOnline(true)).toThrow('app effect failed');
    expect(monitor.isOnline.value).toBe(true);
    await expect(online).resolves.toBeUndefined();
  } finally {
    stop();
    monitor.dispose();
  }
}, 2000);
