import type { FluxyError } from '../../core/errors.js';
import type { checkOptions } from '../../core/input-checks.js';
import type { SyncEngine } from './engine.js';
import type { Operation } from './operation.js';
import type { ResolvedSyncOptions, SyncOptions } from './options.js';
import { isRedirect } from './redirects.js';
import type { checkHeaderRecord, prepareOperation } from './request-validation.js';

/**
 * The GET of `sync.read()`, checked (`prepare`: `sync/invalid-url`…; `given`, the caller's
 * options, by `check`: `sync/invalid-options` for anything but `undefined` or `{ signal? }` with an
 * AbortSignal, as `queue()` and `pending()` refuse theirs) and sent now, in this call, with the
 * plugin's `baseUrl`, `headers` option (given a pseudo-operation with `kind: 'read'`), `fetch` and
 * `timeoutMs` (`options`: the plugin's limits, which carry its resolved options), never following
 * a redirect (`sync/redirected`); `url` as given (for the headers and errors). What a `headers`
 * function returns is checked as `queue()`'s sends check it (`checkHeaders`: checkHeaderRecord,
 * credentials allowed): anything but a plain object of valid headers, or undefined, rejects with
 * `sync/headers-failed` (its cause `sync/invalid-headers`), sending nothing. A signal already
 * aborted sends nothing. A 401 answer pauses the queue (reason 'unauthorized') and emits
 * 'unauthorized' on the engine `current` returns (none once disposed). Loaded at the first read; `ReadError` is FluxyError (so named: the
 * production build strips the prose of a `new …Error()`), `prepare` prepareOperation and `check`
 * checkOptions, given rather than imported so this lazy chunk shares no module with the start-up
 * ones (a shared one would be split into a chunk of its own). @internal
 */
export async function sendRead(
  url: string,
  options: ResolvedSyncOptions &
    Parameters<typeof prepareOperation>[3] & { connectivity?: { reportFailure(): void } },
  prepare: typeof prepareOperation,
  given: unknown,
  ReadError: typeof FluxyError,
  check: typeof checkOptions,
  checkHeaders: typeof checkHeaderRecord,
  current: () => SyncEngine | undefined,
): Promise<{ status: number; body: unknown }> {
  const target = options.resolveUrl(prepare('GET', url, undefined, options).url);
  const invalid = (problem: string) =>
    new ReadError(
      'sync/invalid-options',
      `sync.read(url, options): options ${problem}, e.g. { signal: controller.signal }.`,
    );
  const { signal } = check(given, ['signal'], invalid) as { signal?: AbortSignal };
  // Realm-safe (a signal of another window, or of a DOM test environment): what is used of it.
  if (
    signal !== undefined &&
    (typeof (signal as AbortSignal | null)?.aborted !== 'boolean' ||
      typeof signal.addEventListener !== 'function')
  )
    throw invalid(`signal must be an AbortSignal (got ${signal === null ? 'null' : typeof signal})`);
  const fetchFunction = options.fetch ?? (globalThis.fetch?.bind(globalThis) as SyncOptions['fetch']);
  if (!fetchFunction)
    throw new ReadError('sync/network-error', 'No fetch is available: pass SyncPlugin({ fetch }).');
  const pseudo: Operation = Object.freeze({
    id: 'read',
    idempotencyKey: 'read',
    method: 'GET',
    url,
    kind: 'read',
    createdAt: Date.now(),
    attempts: 0,
  });
  let headers: Headers;
  try {
    const given = options.headers;
    const extra: unknown = typeof given === 'function' ? await given(pseudo) : given;
    // A string would be spread into headers named "0", "1"…, a number or an object value sent
    // as text: refused, as the queue's sends refuse them (transport.ts).
    headers = new Headers(
      extra === undefined
        ? {}
        : checkHeaders(
            extra,
            'allow',
            (code, problem) => new ReadError(code, `what the SyncPlugin headers option returned: ${problem}`),
          ),
    );
    headers.set('Accept', 'application/json');
  } catch (cause) {
    throw new ReadError('sync/headers-failed', `sync.read(): the headers option failed: ${String(cause)}`, {
      cause,
    });
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs);
  const onAbort = (): void => controller.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  let refused: FluxyError | undefined;
  try {
    // Aborted before this call: its abort event will not come again. Nothing is sent.
    if (signal?.aborted) throw signal.reason;
    const response = await fetchFunction(target.href, {
      method: 'GET',
      headers,
      signal: controller.signal,
      redirect: 'manual',
    });
    const { status } = response;
    // Never followed, as the queue's sends do (the same check): the headers option (credentials)
    // would go to the target, another origin perhaps. Refused, same origin or not; a custom fetch
    // that followed it anyway is caught too.
    if (isRedirect(response)) {
      await response.body?.cancel().catch(() => undefined);
      const { location } = (await import('./queue-edits.js')).redirectError(response, target.href, 0);
      refused = new ReadError(
        'sync/redirected',
        `sync.read(): GET ${url} was answered ${status || 'an opaque redirect'} to ${location ?? 'a target the browser does not reveal'}; redirects are never followed (your headers could reach another endpoint or origin): read the final URL.`,
      );
      throw refused;
    }
    // The headers option (credentials, which the queue's writes carry too) refused: as a write's
    // 401 (send-request.ts), the queue pauses, in every tab, until resume() (or retry()), and
    // 'unauthorized' is emitted — with the pseudo-operation the headers option got (kind 'read').
    // Not once the app was disposed (`current`: the plugin's engine until then).
    const engine = current();
    if (status === 401 && engine) {
      engine.pause('unauthorized');
      engine.events.emit('unauthorized', { operation: pseudo, status });
    }
    const text = await response.text();
    let body: unknown = text === '' ? undefined : text;
    if (text !== '' && (response.headers.get('Content-Type') ?? '').includes('json')) {
      try {
        body = JSON.parse(text) as unknown;
      } catch {
        body = text;
      }
    }
    return { status, body };
  } catch (cause) {
    if (refused) throw refused;
    // No answer: connectivity hears of it, as of a send's (engine.ts) — not of a timeout the
    // caller's abort set off, nor of an answer (a 4xx or 5xx is one: returned above).
    if (!signal?.aborted) options.connectivity?.reportFailure();
    // The prose inline, an argument of `new ReadError()`: the production build strips it there.
    throw new ReadError(
      'sync/network-error',
      controller.signal.aborted || signal?.aborted
        ? `GET ${url} timed out or was aborted.`
        : `GET ${url} got no answer.`,
      { cause },
    );
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}
