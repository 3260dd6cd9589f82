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
  const parsed = parseHttpUrl(url, PLACEHOLDER_BASE);
  const resolved = { ...PROBE_DEFAULTS, url: isAbsolute(url) ? parsed.href : url };
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
  return parseHttpUrl(url, baseUrl).href;
}

/** `url` resolved against `base`, if that gives an http(s) URL; else throws `connectivity/invalid-probe`. */
function parseHttpUrl(url: string, base: string): URL {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url, base);
  } catch {}
  if (parsed?.protocol !== 'http:' && parsed?.protocol !== 'https:') {
    throw invalidProbe(
      `probe.url "${url}" ${parsed ? `resolves to "${parsed.href}", which is not http(s)` : 'is not a valid URL'}: use an absolute http(s) URL.`,
    );
  }
  return parsed;
}

function isAbsolute(url: string): boolean {
  try {
    new URL(url);
    return true;
  } catch {
    return false;
  }
}
