import type { Operation } from './operation.js';
import type { BodyProblem, SendResult, TransportOptions } from './transport.js';

// One attempt's request and its answer's body: loaded by the first attempt (transport.ts's
// sendOperation), off the start-up path — a page needs it only when it has the network. It
// imports nothing at run time, so that its lazy chunk shares no module with the start-up one.

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
  /** checkHeaderRecord(given, 'allow', …) (request-validation.ts), given: see above. */
  checkHeaders: (given: unknown) => Readonly<Record<string, string>>,
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
    if (given !== undefined) extra = checkHeaders(given);
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
    const { status } = response;
    // (A fetch that followed it anyway: a custom fetch ignoring redirect: 'manual'. 304 Not
    // Modified is no redirect.) What it pointed to is read by redirectError(), loaded then.
    if (
      response.redirected ||
      response.type === 'opaqueredirect' ||
      (status > 299 && status < 400 && status !== 304)
    ) {
      await response.body?.cancel().catch(() => undefined);
      return { kind: 'redirect', response, url };
    }
    // The status arrived; a body cut short does not change what the server decided, but the
    // flush loop must know (a create's server id is in it).
    const read = await readBody(
      response,
      options.maxResponseBytes ?? 1_048_576 /* transport.ts's defaultMaxResponseBytes */,
    ).catch((): ReadBody => ({ body: undefined, bodyProblem: timedOut ? 'timeout' : 'cut-short' }));
    return {
      kind: 'response',
      status,
      retryAfter: response.headers.get('Retry-After'),
      ...read,
    };
  } catch (cause) {
    if (signal.aborted) return { kind: 'aborted' };
    if (timedOut) return { kind: 'timeout' };
    return { kind: 'network', cause };
  } finally {
    options.clearTimer(timer);
    signal.removeEventListener('abort', onAbort);
  }
}

/** What reading a response body gave: the body, why it is missing or partial, its size. */
type ReadBody = { body: unknown; bodyProblem?: BodyProblem; bytes?: number };

/**
 * Read at most `maxBytes` of the body (the rest is not downloaded), then parse it as JSON when the
 * Content-Type says so. Rejects when the stream fails (timeout, connection cut).
 */
async function readBody(response: Response, maxBytes: number): Promise<ReadBody> {
  const reader = response.body?.getReader();
  if (!reader) return { body: undefined };
  // Decoded as it comes (a character split between chunks is joined by the streaming decoder).
  const decoder = new TextDecoder();
  let text = '';
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return { body: undefined, bodyProblem: 'too-large' };
    }
    text += decoder.decode(value, { stream: true });
  }
  text += decoder.decode();
  if (text === '') return { body: undefined };
  if ((response.headers.get('Content-Type') ?? '').includes('json')) {
    try {
      return { body: JSON.parse(text) as unknown, bytes: size };
    } catch {
      return { body: text, bodyProblem: 'not-json' };
    }
  }
  return { body: text, bytes: size };
}
