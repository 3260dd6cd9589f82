import { FluxyError } from '../../core/errors.js';
import { checkOptions } from '../../core/input-checks.js';
import type { FetchFunction, LockManagerLike } from '../../core/platform-types.js';
import { checkHeaderRecord } from './request-validation.js';
import type { HeadersOption } from './transport.js';

/** Retry timing options (all in milliseconds except `maxAttempts`). */
export interface RetryOptions {
  /**
   * How many times the server may answer with a retryable error (408, 409, 425, 429, 5xx) before
   * the operation becomes failed. Network errors and timeouts do not count: the server never
   * answered, so the operation is retried (with backoff) until it gets an answer.
   * @default 8
   */
  maxAttempts?: number;
  /** The first backoff window. @default 1000 */
  baseDelayMs?: number;
  /** The largest backoff window. @default 60000 */
  maxDelayMs?: number;
  /** The longest `Retry-After` honoured; longer values are clamped to it. @default 3600000 (1 hour) */
  maxRetryAfterMs?: number;
}

/** {@link RetryOptions} with every default filled in. */
export type ResolvedRetryOptions = Required<RetryOptions>;

/** The defaults of {@link RetryOptions}. */
export const defaultRetryOptions: ResolvedRetryOptions = Object.freeze({
  maxAttempts: 8,
  baseDelayMs: 1000,
  maxDelayMs: 60_000,
  maxRetryAfterMs: 3_600_000,
});

/** Options of `new SyncPlugin(options)`. */
export interface SyncOptions {
  /**
   * Prefix of every relative operation URL: `baseUrl + url`. In browsers it may itself be
   * relative to the page. @default undefined (URLs are resolved against the page; Node needs absolute URLs)
   * @example new SyncPlugin({ baseUrl: 'https://api.example.com/v1' }) // + '/notes' → …/v1/notes
   */
  baseUrl?: string;
  /**
   * Headers for every request, or a function evaluated at SEND time for each attempt — the place
   * for `Authorization`, so a token is never stored and never stale. A plain object of valid
   * headers (the rules of `queue()` headers, credentials allowed); a function may return
   * `undefined` for none. Anything else a function returns fails that attempt
   * (`sync/headers-failed`, retried, nothing sent).
   * @example new SyncPlugin({ headers: async () => ({ Authorization: `Bearer ${await auth.token()}` }) })
   */
  headers?: HeadersOption;
  /** Backoff and attempt limits. @default { maxAttempts: 8, baseDelayMs: 1000, maxDelayMs: 60000, maxRetryAfterMs: 3600000 } */
  retry?: RetryOptions;
  /** Abort an attempt after this long; it is retried with the same key. @default 30000 */
  timeoutMs?: number;
  /** While operations are pending, look for work this often (catches missed triggers). @default 30000 */
  intervalMs?: number;
  /** The fetch to call (another transport, or a wrapped fetch). @default globalThis.fetch */
  fetch?: FetchFunction;
  /**
   * Largest body accepted by `queue()`: a JSON body and meta, in UTF-8 bytes — or a binary body
   * (Blob, bytes, FormData: its bytes plus a form's text fields), which may be ten times larger.
   * Over it `queue()` rejects with `sync/body-too-large`, storing nothing.
   * @default 1048576 (1 MiB: binary bodies up to 10 MiB)
   */
  maxBodyBytes?: number;
  /**
   * Largest response body read, in bytes: the rest is not downloaded, `response` is undefined and
   * the `sent` event says `responseTooLarge: true`. @default 1048576 (1 MiB)
   */
  maxResponseBytes?: number;
  /**
   * Origins (besides `baseUrl`'s) that operations may be sent to, e.g. `['https://uploads.example.com']`.
   * By default only `baseUrl`'s origin (the page's when `baseUrl` is relative or absent) is
   * allowed: `queue()` and `read()` refuse a URL elsewhere and a stored op to another origin fails unsent
   * (`sync/origin-not-allowed`), so the `headers` option (your credentials) never goes anywhere
   * else. With no `baseUrl` and no page (Node), any origin is allowed unless this lists some.
   * @default []
   */
  allowedOrigins?: readonly string[];
  /** Storage namespace of the outbox; two SyncPlugins in one app need different ones. @default 'sync' */
  namespace?: string;
  /** The Web Locks manager used to pick one flushing tab; `false` to turn coordination off. @default navigator.locks */
  locks?: LockManagerLike | false;
  /**
   * Where a create's response holds the server id that replaces its `tempId`: a field name, or a
   * function of the parsed response body. @default 'id'
   * @example new SyncPlugin({ serverId: (response) => (response as { data: { id: string } }).data.id })
   */
  serverId?: string | ((response: unknown) => string | number | undefined);
  /**
   * Send up to `max` pending operations in one `POST` to `url` (resolved like an operation's URL)
   * — the server's batch endpoint (docs/server-contract.md, "Batches"). Operations to another
   * origin than `url`'s are sent alone. A `413` to a batch makes the next ones smaller; a `404`,
   * `405` (no endpoint) stops batches for the session: no operation is failed for either.
   * @default undefined (one request per operation)
   * @example new SyncPlugin({ baseUrl: '/api', batch: { url: '/batch', max: 100 } })
   */
  batch?: BatchOptions;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
  /** Randomness for backoff jitter, in [0, 1). @default Math.random */
  random?: () => number;
}

/** The `batch` option of `new SyncPlugin(options)`. */
export interface BatchOptions {
  /** The batch endpoint, resolved like an operation's URL (`baseUrl` + url). */
  url: string;
  /** The most operations in one batch, 1 to 1000. @default 100 */
  max?: number;
}

/** Options with defaults applied. @internal */
export interface ResolvedSyncOptions {
  baseUrl: string | undefined;
  headers: HeadersOption | undefined;
  retry: ResolvedRetryOptions;
  timeoutMs: number;
  intervalMs: number;
  fetch: FetchFunction | undefined;
  maxBodyBytes: number;
  maxResponseBytes: number;
  allowedOrigins: readonly string[];
  namespace: string;
  locks: LockManagerLike | false | undefined;
  now: () => number;
  random: () => number;
  serverId: string | ((response: unknown) => string | number | undefined);
  batch: { url: string; max: number } | undefined;
}

const knownKeys = [
  'baseUrl',
  'headers',
  'retry',
  'timeoutMs',
  'intervalMs',
  'fetch',
  'maxBodyBytes',
  'maxResponseBytes',
  'allowedOrigins',
  'namespace',
  'locks',
  'now',
  'random',
  'serverId',
  'batch',
];
/** The longest delay timers accept (2^31 − 1 ms, about 24.8 days); longer ones fire at once. */
const maxTimerMs = 2 ** 31 - 1;
const retryKeys = ['maxAttempts', 'baseDelayMs', 'maxDelayMs', 'maxRetryAfterMs'];

/** Validate options and apply defaults. Throws `sync/invalid-options`. @internal */
export function resolveSyncOptions(options: unknown): ResolvedSyncOptions {
  const given = checkOptions(options, knownKeys, (problem) =>
    invalid(`options ${problem}, e.g. { baseUrl: '/api' }`),
  );
  const { baseUrl, headers, namespace, locks, now, random, serverId } = given;
  if (baseUrl !== undefined) {
    checkUrlOption(baseUrl, 'baseUrl');
    if (absoluteUrl.test(baseUrl) && !httpUrl(baseUrl))
      throw invalid(
        `baseUrl "${baseUrl}" must be an http(s) URL without credentials (use the headers option)`,
      );
    // A query or a fragment would swallow each op's path ('/api#x' + '/notes' goes to '/api').
    if (/[?#]/.test(baseUrl))
      throw invalid(
        `baseUrl "${baseUrl}" must have no query (?) or fragment (#): put the query in each operation's url`,
      );
  }
  // A plain object of valid headers (the same checks as a function's result at send time, which
  // refuse anything else: null, an array, a string…); credentials are welcome here.
  if (headers !== undefined && typeof headers !== 'function')
    checkHeaderRecord(headers, 'allow', (code, problem) => invalid(`headers: ${problem} (${code})`));
  for (const name of ['fetch', 'now', 'random']) {
    if (given[name] !== undefined && typeof given[name] !== 'function')
      throw invalid(`${name} must be a function`);
  }
  if (
    namespace !== undefined &&
    (typeof namespace !== 'string' || !/^[A-Za-z0-9._-]{1,100}$/.test(namespace))
  )
    throw invalid('namespace must be 1 to 100 characters of A-Z a-z 0-9 . _ - (no "/")');
  if (
    locks !== undefined &&
    locks !== false &&
    (locks === null || typeof (locks as LockManagerLike).request !== 'function')
  ) {
    throw invalid('locks must be a LockManager (navigator.locks) or false');
  }
  if (
    serverId !== undefined &&
    typeof serverId !== 'function' &&
    (typeof serverId !== 'string' || serverId === '')
  ) {
    throw invalid('serverId must be a response field name or a function (response) => id');
  }
  const allowedOrigins = checkAllowedOrigins(given.allowedOrigins);
  let batch: ResolvedSyncOptions['batch'];
  if (given.batch !== undefined) {
    const { url, max } = checkOptions(given.batch, ['url', 'max'], (problem) =>
      invalid(`batch ${problem}, e.g. { url: '/batch', max: 100 }`),
    );
    checkUrlOption(url, 'batch.url');
    let target: URL;
    try {
      target = resolveOperationUrl(url, baseUrl as string | undefined);
    } catch {
      throw invalid(
        `batch.url "${url}" does not resolve to a URL: make it absolute or give an absolute baseUrl`,
      );
    }
    if (originPolicy(baseUrl as string | undefined, allowedOrigins)?.(target) === false)
      throw invalid(`batch.url "${url}" is not on baseUrl's origin nor in allowedOrigins`);
    batch = { url, max: wholeNumber(max, 'batch.max', 1, 1000, 100) };
  }
  const retry = { ...defaultRetryOptions };
  if (given.retry !== undefined) {
    const checked = checkOptions(given.retry, retryKeys, (problem) =>
      invalid(`retry ${problem}, e.g. { maxAttempts: 5 }`),
    );
    for (const [key, value] of Object.entries(checked)) {
      const attempts = key === 'maxAttempts';
      retry[key as keyof RetryOptions] = wholeNumber(
        value,
        `retry.${key}`,
        attempts ? 1 : 0,
        attempts ? Number.MAX_SAFE_INTEGER : maxTimerMs,
        retry[key as keyof RetryOptions],
      );
    }
    if (retry.baseDelayMs > retry.maxDelayMs)
      throw invalid('retry.baseDelayMs must not exceed retry.maxDelayMs');
  }
  const resolved = {
    baseUrl,
    headers,
    retry,
    allowedOrigins,
    namespace: namespace ?? 'sync',
    now: now ?? Date.now,
    random: random ?? Math.random,
    serverId: serverId ?? 'id',
    fetch: given.fetch,
    locks,
    batch,
  } as Record<string, unknown>;
  for (const [key, [min, max, fallback]] of Object.entries(numbers))
    resolved[key] = wholeNumber(given[key], key, min, max, fallback);
  return resolved as unknown as ResolvedSyncOptions;
}

/** The number options: [least, most, default]. */
const numbers: Record<string, [number, number, number]> = {
  timeoutMs: [1, 2 ** 31 - 1, 30_000],
  intervalMs: [1, 2 ** 31 - 1, 30_000],
  maxBodyBytes: [1, Number.MAX_SAFE_INTEGER, 1_048_576],
  maxResponseBytes: [1, Number.MAX_SAFE_INTEGER, 1_048_576],
};

const absoluteUrl = /^[a-z][a-z0-9+.-]*:/i;

/** A URL option: a non-empty string without spaces around it (as `queue()` asks of its url). */
function checkUrlOption(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string' || value === '' || value.trim() !== value)
    throw invalid(`${name} must be a non-empty string without spaces around it`);
}

/** `text` parsed, if it is an absolute http(s) URL without credentials. */
function httpUrl(text: string): URL | undefined {
  try {
    const url = new URL(text);
    if (/^https?:$/.test(url.protocol) && !url.username && !url.password) return url;
  } catch {}
  return undefined;
}

function checkAllowedOrigins(value: unknown): readonly string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value))
    throw invalid('allowedOrigins must be an array of origins such as "https://api.example.com"');
  return value.map((origin: unknown) => {
    const parsed = typeof origin === 'string' ? httpUrl(origin) : undefined;
    if (parsed?.pathname !== '/' || parsed.search !== '' || parsed.hash !== '') {
      throw invalid(
        `allowedOrigins: ${JSON.stringify(origin)} is not an origin: give scheme, host and port only, e.g. "https://api.example.com"`,
      );
    }
    return parsed.origin;
  });
}

/**
 * Whether an operation may be sent to `url`: its origin is `baseUrl`'s (resolved against the page
 * in browsers; the page's own when there is no `baseUrl`) or one of `allowedOrigins`. Undefined
 * (any origin) when there is neither a reference origin nor a list. @internal
 */
export function originPolicy(
  baseUrl: string | undefined,
  allowedOrigins: readonly string[],
): ((url: URL) => boolean) | undefined {
  const allowed = new Set(allowedOrigins);
  const page = (globalThis as { location?: { href?: string } }).location?.href;
  let reference: string | undefined;
  try {
    if (baseUrl !== undefined) reference = (page ? new URL(baseUrl, page) : new URL(baseUrl)).origin;
    else if (page) reference = new URL(page).origin;
  } catch {
    reference = undefined; // a relative baseUrl in Node: every URL is refused as relative anyway
  }
  if (reference !== undefined && reference !== 'null') allowed.add(reference);
  if (allowed.size === 0) return undefined;
  return (url) => allowed.has(url.origin);
}

/** `value`, a whole number from `min` to `max`, or `fallback` when undefined. */
function wholeNumber(value: unknown, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(
      `${name} must be a whole number from ${min} to ${max}${/Bytes$/.test(name) ? ' (bytes)' : /Ms$/.test(name) ? ' (ms)' : ''}`,
    );
  }
  return value;
}

/** (The place written out in the message, so that the production build drops it all.) */
function invalid(problem: string): FluxyError {
  return new FluxyError('sync/invalid-options', `new SyncPlugin(options): ${problem}.`);
}

/**
 * Resolve an operation URL: absolute URLs as they are, others appended to `baseUrl`
 * (`'/v1' + '/notes'`), then resolved against the page in browsers. Throws `sync/invalid-url`.
 * @internal
 */
export function resolveOperationUrl(url: string, baseUrl: string | undefined): URL {
  const absolute = absoluteUrl.test(url);
  const joined =
    absolute || baseUrl === undefined ? url : `${baseUrl.replace(/\/+$/, '')}/${url.replace(/^\/+/, '')}`;
  const page = (globalThis as { location?: { href?: string } }).location?.href;
  try {
    return page ? new URL(joined, page) : new URL(joined);
  } catch {
    throw new FluxyError(
      'sync/invalid-url',
      page
        ? `queue(): "${url}" is not a valid URL.`
        : baseUrl === undefined
          ? `queue(): "${url}" is relative and there is no page to resolve it against: give SyncPlugin a baseUrl such as "https://api.example.com", or use an absolute URL.`
          : `queue(): "${joined}" is relative (baseUrl "${baseUrl}" is relative too) and there is no page to resolve it against: in Node, give an absolute baseUrl such as "https://api.example.com/api".`,
    );
  }
}
