import { invalidArgument } from '../../core/errors.js';
import { checkOptions, describeInput } from '../../core/input-checks.js';
import type { FetchFunction } from '../../core/platform-types.js';
import { normalizeProbe, type ProbeOptions, type ResolvedProbe } from './options.js';
import type { PlatformConnectivity } from './platform.js';

/**
 * Timer functions, injectable so tests (and odd runtimes) control time. They are called as
 * plain functions, not as methods, so `{ setTimeout, clearTimeout }` taken from a browser's
 * global works (a method call on another object would throw "Illegal invocation").
 *
 * @example new ConnectivityMonitor({ timers: { setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout } });
 */
export interface Timers {
  /** Run `callback` after `ms` milliseconds; returns a handle for `clearTimeout`. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancel a timer started by `setTimeout`. */
  clearTimeout(handle: unknown): void;
}

/**
 * Options of the {@link ConnectivityPlugin}.
 *
 * @example
 * new ConnectivityPlugin({ probe: { url: '/api/health' }, initial: false });
 */
export interface ConnectivityOptions {
  /** Ask the network with a request instead of trusting `navigator.onLine`. @default undefined (no probe) */
  probe?: ProbeOptions;
  /**
   * The value of `isOnline` until something knows better: the platform at init when there is no
   * probe, the first probe answer when there is one.
   * @default `false` with a probe (online means the probe answered), `true` without one
   */
  initial?: boolean;
  /** The fetch the probe uses, looked up when a probe runs. @default globalThis.fetch */
  fetch?: FetchFunction;
}

/**
 * Options of a {@link ConnectivityMonitor}: the plugin's options plus the dependencies a test or
 * an unusual runtime may inject.
 *
 * @example
 * new ConnectivityMonitor({ probe: { url: 'http://127.0.0.1:8080/' }, timers: fakeTimers, random: () => 0.5 });
 */
export interface ConnectivityMonitorOptions extends ConnectivityOptions {
  /** Timer functions, looked up at each call by default (so fake timers apply). @default globalThis.setTimeout/clearTimeout */
  timers?: Timers;
  /** Randomness for the backoff jitter, in [0, 1). @default Math.random */
  random?: () => number;
  /** The clock behind `lastChangedAt`. @default Date.now */
  now?: () => number;
  /**
   * Where an error thrown by what a background probe set off goes (an app's effect on `isOnline`
   * that throws): reported here, never an unhandled rejection. The plugin logs it.
   * @default console.error
   */
  onError?: (error: unknown) => void;
}

/** The injected dependencies with their defaults applied, and the probe. @internal */
export interface ConnectivityDependencies {
  /** The validated probe with its defaults (its URL may still be relative). */
  readonly probe: ResolvedProbe | undefined;
  readonly fetch: FetchFunction;
  readonly timers: Timers;
  readonly random: () => number;
  readonly now: () => number;
  readonly onError: (error: unknown) => void;
}

/** The option names of {@link ConnectivityOptions}. @internal */
export const PLUGIN_OPTION_KEYS: readonly string[] = ['probe', 'initial', 'fetch'];
const MONITOR_OPTION_KEYS: readonly string[] = [...PLUGIN_OPTION_KEYS, 'timers', 'random', 'now', 'onError'];

// Every default looks the global up when called, never at import or construction.
const defaultTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as Parameters<typeof clearTimeout>[0]),
};
const defaultFetch: FetchFunction = (url, init) => fetch(url, init);

/**
 * Validates every option of a monitor (throws `invalid-argument` or `connectivity/invalid-probe`)
 * and returns its dependencies with defaults. @internal
 */
export function validateMonitorOptions(options: unknown): ConnectivityDependencies {
  const given = checkOptions(options, MONITOR_OPTION_KEYS, (problem) =>
    invalidArgument(`new ConnectivityMonitor: options ${problem}, e.g. { probe: { url: '/health' } }.`),
  );
  const probe = normalizeProbe(given.probe);
  if (given.initial !== undefined && typeof given.initial !== 'boolean') {
    throw invalidArgument(
      `new ConnectivityMonitor: initial must be true or false, got ${describeInput(given.initial)}.`,
    );
  }
  for (const key of ['fetch', 'random', 'now', 'onError'] as const) {
    if (given[key] !== undefined && typeof given[key] !== 'function') {
      throw invalidArgument(`new ConnectivityMonitor: ${key} must be a function.`);
    }
  }
  const timers = given.timers as Partial<Timers> | null | undefined;
  if (
    timers !== undefined &&
    (timers === null || typeof timers.setTimeout !== 'function' || typeof timers.clearTimeout !== 'function')
  ) {
    throw invalidArgument(
      `new ConnectivityMonitor: timers must have setTimeout(callback, ms) and clearTimeout(handle).`,
    );
  }
  // Called as plain functions: `window.fetch` called as a method of another object throws
  // "Illegal invocation" in browsers.
  const fetchFunction = (given.fetch as FetchFunction | undefined) ?? defaultFetch;
  const { setTimeout: set, clearTimeout: clear } = (timers as Timers | undefined) ?? defaultTimers;
  const random = (given.random as (() => number) | undefined) ?? Math.random;
  const now = (given.now as (() => number) | undefined) ?? Date.now;
  const onError =
    (given.onError as ((error: unknown) => void) | undefined) ??
    ((error: unknown) => console.error('fluxy/connectivity: a handler of a probe answer threw', error));
  return {
    probe,
    fetch: (url, init) => fetchFunction(url, init),
    timers: { setTimeout: (callback, ms) => set(callback, ms), clearTimeout: (handle) => clear(handle) },
    random: () => random(),
    now: () => now(),
    onError: (error) => onError(error),
  };
}

/** Where {@link ConnectivityMonitor.start} gets what only a running app knows. */
export interface MonitorEnvironment {
  /** The platform's network signal; none in Node. @default undefined */
  platform?: PlatformConnectivity | undefined;
  /** The base of a relative probe URL (`location.href` in browsers). @default undefined */
  baseUrl?: string | undefined;
}

/** Throws `invalid-argument` for a malformed environment. @internal */
export function checkEnvironment(environment: MonitorEnvironment): MonitorEnvironment {
  if (environment === null || typeof environment !== 'object') {
    throw invalidArgument('start(environment): environment must be an object such as { platform, baseUrl }.');
  }
  const { platform, baseUrl } = environment;
  if (
    platform !== undefined &&
    (platform === null || typeof platform.isOnline !== 'function' || typeof platform.subscribe !== 'function')
  ) {
    throw invalidArgument('start(environment): platform must have isOnline() and subscribe(listener).');
  }
  if (baseUrl !== undefined && typeof baseUrl !== 'string') {
    throw invalidArgument('start(environment): baseUrl must be a string such as location.href.');
  }
  return environment;
}

/** Whether `value` looks like an AbortSignal (any realm). @internal */
export function isAbortSignal(value: unknown): value is AbortSignal {
  const candidate = value as Partial<AbortSignal> | null;
  return (
    typeof value === 'object' &&
    candidate !== null &&
    typeof candidate.aborted === 'boolean' &&
    typeof candidate.addEventListener === 'function' &&
    typeof candidate.removeEventListener === 'function'
  );
}
