import { type FluxyError, invalidArgument } from '../../core/errors.js';
import { checkOptions, describeInput } from '../../core/input-checks.js';
import type { BroadcastChannelLike, FetchFunction } from '../../core/platform-types.js';
import { invalidProbe } from './errors.js';
import type { PlatformConnectivity } from './platform.js';

/** The HTTP methods a probe may use. */
export type ProbeMethod = 'HEAD' | 'GET';

/**
 * How to ask the network whether it really works: a request to `url` that counts as "online"
 * when ANY HTTP response arrives (even a 404 or a 500), and as "offline" on a network error or
 * after `timeoutMs`.
 *
 * @example
 * new ConnectivityPlugin({ probe: { url: '/api/health', intervalMs: 1000 } });
 */
export interface ProbeOptions {
  /**
   * The URL to request: absolute `http:`/`https:`, or relative where `location` exists (browsers,
   * workers), resolved against `location.href` at init. Exclude it from service-worker caches.
   */
  url: string;
  /** The first delay between probes while offline (at least 1); it doubles after each failed probe. @default 2000 */
  intervalMs?: number;
  /** The longest delay between probes while offline (at least 1). @default 60000 (or `intervalMs` if larger) */
  maxIntervalMs?: number;
  /** A probe that has not answered after this long (at least 1 ms) counts as offline. @default 5000 */
  timeoutMs?: number;
  /** The request method; `'GET'` for servers that refuse `HEAD` badly. @default 'HEAD' */
  method?: ProbeMethod;
}

/** A probe with every default applied. */
export interface ResolvedProbe {
  readonly url: string;
  readonly intervalMs: number;
  readonly maxIntervalMs: number;
  readonly timeoutMs: number;
  readonly method: ProbeMethod;
}

/**
 * The defaults of {@link ProbeOptions}.
 *
 * @example const firstRetry = PROBE_DEFAULTS.intervalMs; // 2000
 */
export const PROBE_DEFAULTS: Readonly<Omit<ResolvedProbe, 'url'>> = Object.freeze({
  intervalMs: 2000,
  maxIntervalMs: 60_000,
  timeoutMs: 5000,
  method: 'HEAD',
});

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

// setTimeout fires at once for delays above 2^31 - 1 ms, so longer durations are refused; below
// 1 ms, a backoff would round its delays to 0 and probe in a tight loop.
const MIN_DELAY_MS = 1;
const MAX_DELAY_MS = 2_147_483_647;
const PROBE_KEYS = ['url', 'intervalMs', 'maxIntervalMs', 'timeoutMs', 'method'];
// Only used to tell a relative URL from an unparsable one; never requested.
const PLACEHOLDER_BASE = 'http://relative.invalid/';

/** The option names of {@link ConnectivityOptions}. @internal */
export const PLUGIN_OPTION_KEYS: readonly string[] = ['probe', 'initial', 'fetch'];
const MONITOR_OPTION_KEYS: readonly string[] = [...PLUGIN_OPTION_KEYS, 'timers', 'random', 'now', 'onError'];

// Every default looks the global up when called, never at import or construction.
const defaultTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as Parameters<typeof clearTimeout>[0]),
};

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
  const timers = given.timers as Record<string, unknown> | null | undefined;
  if (timers === null) throw timersError();
  // The function `key` of `source` (its default when not given), called as a plain function, not
  // as a method: `window.fetch` or `setTimeout` called as a method of another object throws
  // "Illegal invocation" in browsers. Checked in the order of the object below.
  const plain = <F>(source: Record<string, unknown>, key: string, fallback?: unknown): F => {
    const fn = source[key] === undefined ? fallback : source[key];
    if (typeof fn !== 'function') {
      throw source === given
        ? invalidArgument(`new ConnectivityMonitor: ${key} must be a function, got ${describeInput(fn)}.`)
        : timersError();
    }
    return ((...args: unknown[]) => fn(...args)) as F;
  };
  const clock = timers ?? (defaultTimers as unknown as Record<string, unknown>);
  return {
    probe,
    fetch: plain(given, 'fetch', (url: string, init: RequestInit) => fetch(url, init)),
    random: plain(given, 'random', Math.random),
    now: plain(given, 'now', Date.now),
    onError: plain(given, 'onError', (error: unknown) =>
      console.error('fluxy/connectivity: a handler of a probe answer threw', error),
    ),
    timers: { setTimeout: plain(clock, 'setTimeout'), clearTimeout: plain(clock, 'clearTimeout') },
  };
}

function timersError(): FluxyError {
  return invalidArgument(
    'new ConnectivityMonitor: timers must have setTimeout(callback, ms) and clearTimeout(handle).',
  );
}

/** Validates `probe` and applies the defaults; the URL may still be relative. @internal */
export function normalizeProbe(probe: unknown): ResolvedProbe | undefined {
  if (probe === undefined) return undefined;
  const given = checkOptions(probe, PROBE_KEYS, (problem) =>
    invalidProbe(`probe ${problem}, e.g. { url: '/health' }, or left out.`),
  );
  const { url, method = PROBE_DEFAULTS.method } = given;
  if (typeof url !== 'string' || url.trim() === '') {
    throw invalidProbe(
      "probe.url must be a non-empty string, e.g. '/health' or 'https://api.example.com/health'.",
    );
  }
  // A relative URL is checked against a placeholder here, and resolved against the page at start.
  resolveProbeUrl(url, PLACEHOLDER_BASE);
  const resolved = { ...PROBE_DEFAULTS, url };
  for (const key of ['intervalMs', 'maxIntervalMs', 'timeoutMs'] as const) {
    const value =
      given[key] ??
      (key === 'maxIntervalMs' ? Math.max(resolved.maxIntervalMs, resolved.intervalMs) : resolved[key]);
    // (NaN fails both comparisons; Infinity the second.)
    if (typeof value !== 'number' || !(value >= MIN_DELAY_MS && value <= MAX_DELAY_MS)) {
      throw invalidProbe(
        `probe.${key} must be a finite number of milliseconds from ${MIN_DELAY_MS} to ${MAX_DELAY_MS}, got ${describeInput(value)}.`,
      );
    }
    resolved[key] = value;
  }
  if (resolved.maxIntervalMs < resolved.intervalMs) {
    throw invalidProbe(
      `probe.maxIntervalMs (${resolved.maxIntervalMs}) is below probe.intervalMs (${resolved.intervalMs}): raise it or lower intervalMs.`,
    );
  }
  const upper = typeof method === 'string' ? method.toUpperCase() : undefined;
  if (upper !== 'HEAD' && upper !== 'GET') {
    throw invalidProbe(`probe.method must be 'HEAD' or 'GET', got ${describeInput(method)}.`);
  }
  resolved.method = upper;
  return resolved;
}

/**
 * The probe URL made absolute: a relative one resolved against `baseUrl` (`location.href` in
 * browsers; without a base it is refused), an absolute one normalised. Throws
 * `connectivity/invalid-probe` unless that gives an http(s) URL. @internal
 */
export function resolveProbeUrl(url: string, baseUrl: string | undefined): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url, baseUrl);
  } catch {}
  if (parsed?.protocol !== 'http:' && parsed?.protocol !== 'https:') {
    throw invalidProbe(
      `probe.url "${url}" ${parsed ? `resolves to "${parsed.href}", which is not http(s)` : baseUrl === undefined ? 'is relative (or not a valid URL) and there is no page location to resolve it against (Node?)' : 'is not a valid URL'}: use an absolute http(s) URL.`,
    );
  }
  return parsed.href;
}

/** Where {@link ConnectivityMonitor.start} gets what only a running app knows. */
export interface MonitorEnvironment {
  /** The platform's network signal; none in Node. @default undefined */
  platform?: PlatformConnectivity | undefined;
  /** The base of a relative probe URL (`location.href` in browsers). @default undefined */
  baseUrl?: string | undefined;
  /**
   * The `BroadcastChannel` class (or one like it), to reach the other tabs: with a probe, what a
   * probe or a failed request decided is told to the monitors that probe the same URL, which take
   * it at once (offline: they probe with backoff until it answers; online: they stop).
   * @default undefined (alone)
   */
  channel?: (new (name: string) => BroadcastChannelLike) | undefined;
}

/** Throws `invalid-argument` for a malformed environment. @internal */
export function checkEnvironment(environment: MonitorEnvironment): MonitorEnvironment {
  if (environment === null || typeof environment !== 'object') {
    throw invalidArgument('start(environment): environment must be an object such as { platform, baseUrl }.');
  }
  const { platform, baseUrl, channel } = environment;
  if (
    platform !== undefined &&
    (platform === null || typeof platform.isOnline !== 'function' || typeof platform.subscribe !== 'function')
  ) {
    throw invalidArgument('start(environment): platform must have isOnline() and subscribe(listener).');
  }
  if (baseUrl !== undefined && typeof baseUrl !== 'string') {
    throw invalidArgument('start(environment): baseUrl must be a string such as location.href.');
  }
  if (channel !== undefined && typeof channel !== 'function') {
    throw invalidArgument('start(environment): channel must be a class such as BroadcastChannel.');
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
