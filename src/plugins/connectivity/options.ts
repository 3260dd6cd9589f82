import { invalidArgument } from '../../core/errors.js';
import { checkOptions, describeInput } from '../../core/input-checks.js';
import { invalidProbe } from './errors.js';

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

// setTimeout fires at once for delays above 2^31 - 1 ms, so longer durations are refused; below
// 1 ms, a backoff would round its delays to 0 and probe in a tight loop.
const MIN_DELAY_MS = 1;
const MAX_DELAY_MS = 2_147_483_647;
const PROBE_KEYS = ['url', 'intervalMs', 'maxIntervalMs', 'timeoutMs', 'method'];
// Only used to tell a relative URL from an unparsable one; never requested.
const PLACEHOLDER_BASE = 'http://relative.invalid/';

/**
 * Throws `invalid-argument` unless `options` is undefined or a plain object whose keys are all in
 * `allowed`. @internal
 */
export function assertOptionsObject(
  options: unknown,
  allowed: readonly string[],
  label: string,
): asserts options is Record<string, unknown> | undefined {
  checkOptions(
    options,
    allowed,
    { where: label, example: `${label}({ probe: { url: '/health' } })` },
    invalidArgument,
  );
}

/** Validates `probe` and applies the defaults; the URL may still be relative. @internal */
export function normalizeProbe(probe: unknown): ResolvedProbe | undefined {
  if (probe === undefined) return undefined;
  const given = checkOptions(
    probe,
    PROBE_KEYS,
    { where: '', name: 'probe', example: "{ url: '/health' } or left out" },
    invalidProbe,
  );
  const url = checkUrl(given.url);
  const intervalMs = duration(given, 'intervalMs', PROBE_DEFAULTS.intervalMs);
  const maxIntervalMs = duration(given, 'maxIntervalMs', Math.max(PROBE_DEFAULTS.maxIntervalMs, intervalMs));
  const timeoutMs = duration(given, 'timeoutMs', PROBE_DEFAULTS.timeoutMs);
  if (maxIntervalMs < intervalMs) {
    throw invalidProbe(
      `probe.maxIntervalMs (${maxIntervalMs}) is below probe.intervalMs (${intervalMs}): raise it or lower intervalMs.`,
    );
  }
  return { url, intervalMs, maxIntervalMs, timeoutMs, method: checkMethod(given.method) };
}

/**
 * Makes a probe URL absolute: relative URLs are resolved against `baseUrl` (`location.href` in
 * browsers); without a base they are refused. Throws `connectivity/invalid-probe`. @internal
 */
export function resolveProbeUrl(url: string, baseUrl: string | undefined): string {
  if (isAbsolute(url)) return url;
  if (baseUrl === undefined) {
    throw invalidProbe(
      `probe.url "${url}" is relative and there is no page location to resolve it against (Node?): use an absolute http(s) URL.`,
    );
  }
  let resolved: URL;
  try {
    resolved = new URL(url, baseUrl);
  } catch {
    throw invalidProbe(`probe.url "${url}" cannot be resolved against "${baseUrl}": use an absolute URL.`);
  }
  if (resolved.protocol !== 'http:' && resolved.protocol !== 'https:') {
    throw invalidProbe(
      `probe.url "${url}" resolves to "${resolved.href}", which is not http(s): use an absolute http(s) URL.`,
    );
  }
  return resolved.href;
}

function checkUrl(url: unknown): string {
  if (typeof url !== 'string' || url.trim() === '') {
    throw invalidProbe(
      "probe.url must be a non-empty string, e.g. '/health' or 'https://api.example.com/health'.",
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url, PLACEHOLDER_BASE);
  } catch {
    throw invalidProbe(`probe.url "${url}" is not a valid URL.`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw invalidProbe(`probe.url "${url}" must use http: or https:, not ${parsed.protocol}`);
  }
  return isAbsolute(url) ? parsed.href : url;
}

function isAbsolute(url: string): boolean {
  try {
    new URL(url);
    return true;
  } catch {
    return false;
  }
}

function duration(given: Record<string, unknown>, key: string, fallback: number): number {
  const value = given[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < MIN_DELAY_MS || value > MAX_DELAY_MS) {
    throw invalidProbe(
      `probe.${key} must be a finite number of milliseconds from ${MIN_DELAY_MS} to ${MAX_DELAY_MS}, got ${describeInput(value)}.`,
    );
  }
  return value;
}

function checkMethod(method: unknown): ProbeMethod {
  if (method === undefined) return PROBE_DEFAULTS.method;
  const upper = typeof method === 'string' ? method.toUpperCase() : undefined;
  if (upper !== 'HEAD' && upper !== 'GET') {
    throw invalidProbe(`probe.method must be 'HEAD' or 'GET', got ${describeInput(method)}.`);
  }
  return upper;
}
