import type { FetchFunction } from '../../core/platform-types.js';
import type { Operation } from './operation.js';
import { checkHeaderRecord } from './request-validation.js';

const whereHeaders = 'the SyncPlugin headers option';

/**
 * Headers added to every request, or a function evaluated at send time (fresh auth tokens). The
 * function must return (or resolve to) a plain object of valid headers, or undefined for none;
 * anything else makes the attempt fail with `sync/headers-failed` (retried, nothing sent).
 */
export type HeadersOption =
  | Readonly<Record<string, string>>
  | ((operation: Operation) => Readonly<Record<string, string>> | Promise<Readonly<Record<string, string>>>);

/** The result of one attempt to send an operation. @internal */
export type SendResult =
  | {
      kind: 'response';
      status: number;
      retryAfter: string | null;
      body: unknown;
      /** Why the body is missing or partial: cut off by the timeout or the connection, not JSON, over the limit. */
      bodyProblem?: BodyProblem;
    }
  | { kind: 'redirect'; status: number; location: string | undefined }
  | { kind: 'origin-refused'; url: string }
  | { kind: 'network'; cause: unknown }
  | { kind: 'timeout' }
  | { kind: 'aborted' }
  | { kind: 'headers-failed'; cause: unknown };

/** Why a response body could not be read whole. @internal */
export type BodyProblem = 'timeout' | 'cut-short' | 'not-json' | 'too-large';

/** The largest response body read by default (1 MiB); the rest is dropped. */
export const defaultMaxResponseBytes = 1_048_576;

/** What the transport needs. @internal */
export interface TransportOptions {
  fetch: FetchFunction;
  resolveUrl: (url: string) => URL;
  /** Whether a request may go to this URL's origin (see `allowedOrigins`); any when absent. */
  isAllowedOrigin?: ((url: URL) => boolean) | undefined;
  headers: HeadersOption | undefined;
  timeoutMs: number;
  /** The largest response body read, in bytes. @default 1048576 */
  maxResponseBytes?: number;
  setTimer: (callback: () => void, ms: number) => unknown;
  clearTimer: (handle: unknown) => void;
}

/**
 * Send one operation: `Idempotency-Key: <id>`, `Content-Type: application/json` with a JSON body
 * (a binary one is a Blob of its own type), the
 * operation's headers and the `headers` option (evaluated now). Aborts after `timeoutMs` or when
 * `signal` aborts. Never throws: every outcome is a {@link SendResult}.
 *
 * Redirects are never followed (`redirect: 'manual'`): a redirected write may reach another
 * endpoint or origin (a login page answering 200, a POST turned into a GET, the body and headers
 * resent elsewhere). A 3xx, an opaque redirect (browsers), or a response a custom `fetch` reached
 * by following one anyway comes back as `redirect`, with its target when known.
 */
export async function sendOperation(
  operation: Operation,
  body: string | Blob | undefined,
  options: TransportOptions,
  signal: AbortSignal,
): Promise<SendResult> {
  let url: string;
  try {
    const resolved = options.resolveUrl(operation.url);
    // Checked before the headers option is even evaluated: credentials never leave for another origin.
    if (options.isAllowedOrigin && !options.isAllowedOrigin(resolved)) {
      return { kind: 'origin-refused', url: resolved.href };
    }
    url = resolved.href;
  } catch (cause) {
    return { kind: 'network', cause };
  }
  let extra: Readonly<Record<string, string>> = {};
  try {
    const given: unknown =
      typeof options.headers === 'function' ? await options.headers(operation) : options.headers;
    // Whatever the function returned must be a plain object of valid headers: a string would
    // otherwise be spread into headers named "0", "1", "2"…
    if (given !== undefined) extra = checkHeaderRecord(given, { where: whereHeaders, credentials: 'allow' });
  } catch (cause) {
    return { kind: 'headers-failed', cause };
  }
  if (signal.aborted) return { kind: 'aborted' };
  const headers = new Headers();
  try {
    for (const [name, value] of Object.entries(extra)) headers.set(name, value);
    for (const [name, value] of Object.entries(operation.headers ?? {})) headers.set(name, value);
  } catch (cause) {
    return { kind: 'headers-failed', cause };
  }
  if (operation.idempotencyKey) headers.set('Idempotency-Key', operation.idempotencyKey); // none on a batch
  // A binary body (a Blob) carries its own Content-Type, which fetch sends unless one is given.
  if (typeof body === 'string' && !headers.has('Content-Type'))
    headers.set('Content-Type', 'application/json');

  const controller = new AbortController();
  let timedOut = false;
  const timer = options.setTimer(() => {
    timedOut = true;
    controller.abort();
  }, options.timeoutMs);
  const onAbort = (): void => controller.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const init: RequestInit = {
      method: operation.method,
      headers,
      signal: controller.signal,
      redirect: 'manual',
    };
    if (body !== undefined) init.body = body;
    const response = await options.fetch(url, init);
    const redirect = redirectOf(response, url);
    if (redirect) {
      await response.body?.cancel().catch(() => undefined);
      return redirect;
    }
    // The status arrived; a body cut short does not change what the server decided, but the
    // flush loop must know (a create's server id is in it).
    const read = await readBody(response, options.maxResponseBytes ?? defaultMaxResponseBytes).catch(() => ({
      body: undefined,
      problem: timedOut ? ('timeout' as const) : ('cut-short' as const),
    }));
    const result: SendResult = {
      kind: 'response',
      status: response.status,
      retryAfter: response.headers.get('Retry-After'),
      body: read.body,
    };
    if (read.problem) result.bodyProblem = read.problem;
    return result;
  } catch (cause) {
    if (signal.aborted) return { kind: 'aborted' };
    if (timedOut) return { kind: 'timeout' };
    return { kind: 'network', cause };
  } finally {
    options.clearTimer(timer);
    signal.removeEventListener('abort', onAbort);
  }
}

/** The redirect a response is (or was reached by), or undefined. 304 Not Modified is no redirect. */
function redirectOf(
  response: Response,
  requestUrl: string,
): Extract<SendResult, { kind: 'redirect' }> | undefined {
  if (response.redirected) {
    // A fetch that followed it anyway (a custom fetch ignoring redirect: 'manual').
    return { kind: 'redirect', status: response.status, location: response.url || undefined };
  }
  const opaque = response.type === 'opaqueredirect';
  if (!opaque && (response.status < 300 || response.status > 399 || response.status === 304))
    return undefined;
  const header = opaque ? null : response.headers.get('Location');
  let location: string | undefined;
  if (header !== null) {
    try {
      location = new URL(header, requestUrl).href;
    } catch {
      location = header;
    }
  }
  return { kind: 'redirect', status: response.status, location };
}

/**
 * Read at most `maxBytes` of the body (the rest is not downloaded), then parse it as JSON when the
 * Content-Type says so. Rejects when the stream fails (timeout, connection cut).
 */
async function readBody(
  response: Response,
  maxBytes: number,
): Promise<{ body: unknown; problem?: BodyProblem }> {
  const reader = response.body?.getReader();
  if (!reader) return { body: undefined };
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return { body: undefined, problem: 'too-large' };
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  const text = new TextDecoder().decode(bytes);
  if (text === '') return { body: undefined };
  if ((response.headers.get('Content-Type') ?? '').includes('json')) {
    try {
      return { body: JSON.parse(text) as unknown };
    } catch {
      return { body: text, problem: 'not-json' };
    }
  }
  return { body: text };
}
