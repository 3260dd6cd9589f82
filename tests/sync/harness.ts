import { effect, signal } from '@preact/signals-core';
import { afterEach, beforeEach, onTestFinished, vi } from 'vitest';
import { type App, createApp } from '../../src/core/app.js';
import type { Logger } from '../../src/core/logger.js';
import { ChangeChannel } from '../../src/plugins/sync/change-channel.js';
import { SyncEngine, type SyncEngineDeps } from '../../src/plugins/sync/engine.js';
import type { FetchFunction, LockManagerLike } from '../../src/plugins/sync/index.js';
import { TabLeader } from '../../src/plugins/sync/leader.js';
import {
  defaultRetryOptions,
  originPolicy,
  type ResolvedRetryOptions,
  resolveOperationUrl,
} from '../../src/plugins/sync/options.js';
import type { OutboxStorage } from '../../src/plugins/sync/outbox.js';
import { prepareOperation, type QueueOptions } from '../../src/plugins/sync/request-validation.js';
import type { HeadersOption } from '../../src/plugins/sync/transport.js';
import { FaultServer, type FaultServerOptions } from '../../src/testing/index.js';
import { MemoryStore } from '../support/memory-store.js';

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export interface EngineSetup {
  baseUrl: string;
  store?: OutboxStorage;
  retry?: Partial<ResolvedRetryOptions>;
  timeoutMs?: number;
  /** The request timeout's timer (default: setTimeout); see {@link manualTimeouts}. */
  setTimer?: (callback: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
  maxResponseBytes?: number;
  /** Origins besides baseUrl's that ops may go to; undefined: any origin (no policy). */
  allowedOrigins?: string[];
  headers?: HeadersOption;
  fetch?: FetchFunction;
  online?: boolean;
  /** A connectivity of its own (a ConnectivityMonitor with a probe) instead of the `online` signal. */
  connectivity?: SyncEngineDeps['connectivity'];
  locks?: LockManagerLike;
  channel?: string;
  logger?: Logger;
  serverId?: string;
  /** How long a settled temporary id is kept at least (SyncEngineDeps.tempIdRetentionMs). */
  tempIdRetentionMs?: number;
  /** The `batch` option: up to `max` ops in one request to `url`. */
  batch?: { url: string; max: number };
}

/** A SyncEngine wired to a real fetch, a memory store and a controllable online signal. */
export function makeEngine(setup: EngineSetup) {
  const store = setup.store ?? new MemoryStore();
  const online = signal(setup.online ?? true);
  const reportFailure = vi.fn();
  const connectivity = setup.connectivity ?? { isOnline: online, reportFailure };
  const name = setup.channel ?? 'test';
  // (As the plugin does: queue() checks the origin, and the transport checks it again at send time.)
  const isAllowedOrigin =
    setup.allowedOrigins === undefined ? undefined : originPolicy(setup.baseUrl, setup.allowedOrigins);
  const engine = new SyncEngine({
    storage: store,
    connectivity,
    transport: {
      fetch: setup.fetch ?? ((input, init) => fetch(input, init)),
      resolveUrl: (url) => resolveOperationUrl(url, setup.baseUrl),
      isAllowedOrigin,
      headers: setup.headers,
      timeoutMs: setup.timeoutMs ?? 5000,
      ...(setup.maxResponseBytes === undefined ? {} : { maxResponseBytes: setup.maxResponseBytes }),
      setTimer: setup.setTimer ?? ((callback, ms) => setTimeout(callback, ms)),
      clearTimer: setup.clearTimer ?? ((handle) => clearTimeout(handle as ReturnType<typeof setTimeout>)),
    },
    retry: { ...defaultRetryOptions, baseDelayMs: 1, maxDelayMs: 4, ...setup.retry },
    intervalMs: 60_000,
    leader: new TabLeader(setup.locks, name),
    channel: new ChangeChannel(setup.channel ? (channel) => new BroadcastChannel(channel) : undefined, name),
    logger: setup.logger ?? silentLogger,
    now: () => Date.now(),
    random: () => 0.5,
    randomBytes: (bytes) => globalThis.crypto.getRandomValues(bytes),
    serverId: setup.serverId ?? 'serverId',
    ...(setup.tempIdRetentionMs === undefined ? {} : { tempIdRetentionMs: setup.tempIdRetentionMs }),
    batch: setup.batch,
  });
  const queue = async (method: string, url: string, options?: QueueOptions) =>
    engine.enqueue(
      prepareOperation(method, url, options, {
        maxBodyBytes: 1_048_576,
        resolveUrl: (candidate) => resolveOperationUrl(candidate, setup.baseUrl),
        isAllowedOrigin,
      }),
    );
  return { engine, store, online, reportFailure, queue };
}

// Captured at load, so a test's fake timers neither stop nor fire the wait helpers' timeouts.
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

/** How long a wait helper waits before it fails with its label (below vitest's test timeout). */
export const waitTimeoutMs = 10_000;

/** Rejects after `timeoutMs` (real time) with an error naming `label`, unless `promise` settled first. */
export function withTimeout<T>(promise: Promise<T>, label: string, timeoutMs = waitTimeoutMs): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = realSetTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${label}`)),
      timeoutMs,
    );
  });
  return Promise.race([promise, timeout]).finally(() => realClearTimeout(timer));
}

/**
 * For "nothing happens" only — an absence has no event or condition to await: watches `count()`
 * for a fixed window of `windowMs` (real time; bounded, never a wait for something to happen: use
 * until() or an event for that) and rejects, naming `label`, when it grew by `max` or more.
 */
export async function expectQuiet(
  label: string,
  count: () => number,
  { windowMs, max = 1 }: { windowMs: number; max?: number },
): Promise<void> {
  const before = count();
  await new Promise((resolve) => realSetTimeout(resolve, windowMs));
  const moved = count() - before;
  if (moved >= max)
    throw new Error(`${label}: ${moved} in a window of ${windowMs} ms, expected fewer than ${max}`);
}

/**
 * Resolves when `predicate()` (reading signals) becomes true; no polling, no sleeps. Rejects,
 * naming `label`, if that takes longer than `timeoutMs`.
 */
export function until(
  predicate: () => boolean,
  label = 'a condition',
  timeoutMs = waitTimeoutMs,
): Promise<void> {
  let dispose: (() => void) | undefined;
  const met = new Promise<void>((resolve) => {
    let done = false;
    dispose = effect(() => {
      if (!done && predicate()) {
        done = true;
        queueMicrotask(() => dispose?.());
        resolve();
      }
    });
    if (done) dispose();
  });
  return withTimeout(met, label, timeoutMs).finally(() => dispose?.());
}

/**
 * Request timeouts that run when the test says, not after `timeoutMs` of wall-clock time: on a
 * loaded machine a short timeout also cuts the answers that should arrive, and a long one makes
 * the test wait. Give `setTimer` and `clearTimer` to engineFor(); `set[n]` is the n-th request's
 * timeout (its `ms`, whether its attempt `cleared` it), `set[n].run()` makes it expire now.
 */
export function manualTimeouts() {
  const set: Array<{ ms: number; run: () => void; cleared: boolean }> = [];
  return {
    set,
    setTimer(callback: () => void, ms: number): unknown {
      const timer = { ms, run: callback, cleared: false };
      set.push(timer);
      return timer;
    },
    clearTimer(handle: unknown): void {
      (handle as { cleared: boolean }).cleared = true;
    },
  };
}

/**
 * For a SyncPlugin, whose request timeout is a global setTimeout(callback, timeoutMs): the calls
 * for exactly `ms` (a figure no other timer uses) are held instead of armed, until the test ends.
 * `expire()` runs the held ones that were not cleared — a request times out when the test says,
 * and no other request ever does, however slow the machine. Without the plugin: manualTimeouts.
 */
export function holdTimeouts(ms: number) {
  const held = new Set<{ callback: () => void }>();
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  const setSpy = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((
    callback: () => void,
    delay?: number,
    ...args: unknown[]
  ) => {
    if (delay !== ms) return realSet(callback, delay, ...args);
    const handle = { callback };
    held.add(handle);
    return handle;
  }) as unknown as typeof setTimeout);
  const clearSpy = vi.spyOn(globalThis, 'clearTimeout').mockImplementation((handle) => {
    if (!held.delete(handle as unknown as { callback: () => void })) realClear(handle);
  });
  onTestFinished(() => {
    setSpy.mockRestore();
    clearSpy.mockRestore();
  });
  return {
    /** How many are held and not cleared. */
    get count(): number {
      return held.size;
    },
    expire(): void {
      for (const handle of [...held]) {
        held.delete(handle);
        handle.callback();
      }
    },
  };
}

/** Problems with the server's applied log against the expected keys: loss, duplicates, order. */
export function exactlyOnceInOrder(appliedKeys: Array<string | null>, expected: string[]): string[] {
  const problems: string[] = [];
  const counts = new Map<string | null, number>();
  for (const key of appliedKeys) counts.set(key, (counts.get(key) ?? 0) + 1);
  for (const id of expected) {
    const count = counts.get(id) ?? 0;
    if (count === 0) problems.push(`lost ${id}`);
    if (count > 1) problems.push(`applied ${count}× ${id}`);
  }
  for (const key of counts.keys())
    if (!expected.includes(key as string)) problems.push(`unexpected key ${key}`);
  const firstSeen = [...new Set(appliedKeys)].filter((key) => expected.includes(key as string));
  const expectedSeen = expected.filter((id) => firstSeen.includes(id));
  if (JSON.stringify(firstSeen) !== JSON.stringify(expectedSeen)) problems.push('out of order');
  return problems;
}

/**
 * Per-test fixture: a fresh fault-injecting server before each test; after it, real timers
 * again, every engine made with `engineFor` disposed, and the server closed.
 */
/**
 * A fault server and the apps of a test (through the registry), both closed after each test.
 * `app()` makes an app with a silent logger that is disposed after the test.
 */
export function registryPerTest(options: FaultServerOptions = {}) {
  let server: FaultServer;
  const apps: App[] = [];
  beforeEach(async () => {
    server = await FaultServer.start(options);
  });
  afterEach(async () => {
    for (const app of apps.splice(0)) await app.dispose();
    await server.close();
  });
  return {
    get server(): FaultServer {
      return server;
    },
    app(logger: Logger = silentLogger): App {
      const app = createApp({ logger });
      apps.push(app);
      return app;
    },
  };
}

export function faultServerPerTest() {
  const state = { server: undefined as unknown as FaultServer, cleanups: [] as Array<() => Promise<void>> };
  beforeEach(async () => {
    state.server = await FaultServer.start();
  });
  afterEach(async () => {
    vi.useRealTimers();
    for (const cleanup of state.cleanups.splice(0)) await cleanup();
    await state.server.close();
  });
  return {
    get server(): FaultServer {
      return state.server;
    },
    /** Replace the server with one made with other options. */
    async restart(options: FaultServerOptions): Promise<FaultServer> {
      await state.server.close();
      state.server = await FaultServer.start(options);
      return state.server;
    },
    /** An engine disposed after the test. */
    engineFor(setup: EngineSetup) {
      const made = makeEngine(setup);
      state.cleanups.push(() => made.engine.dispose());
      return made;
    },
  };
}

/** The next `event` of `engine`'s bus, as a promise (it unsubscribes itself); rejects after `timeoutMs`. */
export function nextEvent<K extends 'sent' | 'failed' | 'retry' | 'unauthorized'>(
  engine: SyncEngine,
  event: K,
  timeoutMs = waitTimeoutMs,
) {
  let off: (() => void) | undefined;
  const next = new Promise<Parameters<Parameters<typeof engine.events.on<K>>[1]>[0]>((resolve) => {
    off = engine.events.on(event, (payload) => {
      off?.();
      resolve(payload);
    });
  });
  return withTimeout(next, `the next "${event}" event`, timeoutMs).finally(() => off?.());
}

/** A logger that counts the flush's storage failures; `failures(n)` resolves at the n-th. */
export function countingLogger() {
  let count = 0;
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const logger: Logger = {
    ...silentLogger,
    error: (message: unknown) => {
      if (typeof message !== 'string' || !message.startsWith('flush stopped: storage failed')) return;
      count++;
      for (const waiter of waiters.filter((candidate) => candidate.n <= count)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    },
  };
  const failures = (n: number) =>
    withTimeout(
      n <= count ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve })),
      `${n} storage failures of the flush`,
    );
  return { logger, failures, count: () => count };
}
