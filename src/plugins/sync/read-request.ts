import type { FluxyError } from '../../core/errors.js';
import type { Operation } from './operation.js';
import type { ResolvedSyncOptions, SyncOptions } from './options.js';
import type { prepareOperation } from './request-validation.js';

/**
 * The GET of `sync.read()`, checked (`prepare`: `sync/invalid-url`…) and sent now, in this call,
 * with the plugin's `baseUrl`, `headers` option (given a pseudo-operation with `kind: 'read'`),
 * `fetch` and `timeoutMs` (`options`: the plugin's limits, which carry its resolved options);
 * `url` as given (for the headers and errors). Loaded at the first read; `Fail` is FluxyError and
 * `prepare` prepareOperation, given rather than imported so this lazy chunk shares no module with
 * the start-up ones (a shared one would be split into a chunk of its own). @internal
 */
export async function sendRead(
  url: string,
  options: ResolvedSyncOptions & Parameters<typeof prepareOperation>[3],
  prepare: typeof prepareOperation,
  signal: AbortSignal | undefined,
  Fail: typeof FluxyError,
): Promise<{ status: number; body: unknown }> {
  const target = options.resolveUrl(prepare('GET', url, undefined, options).url);
  const fetchFunction = options.fetch ?? (globalThis.fetch?.bind(globalThis) as SyncOptions['fetch']);
  if (!fetchFunction)
    throw new Fail('sync/network-error', 'No fetch is available: pass SyncPlugin({ fetch }).');
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
    headers = new Headers((extra ?? {}) as Record<string, string>);
    headers.set('Accept', 'application/json');
  } catch (cause) {
    throw new Fail('sync/headers-failed', `sync.read(): the headers option failed: ${String(cause)}`, {
      cause,
    });
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs);
  const onAbort = (): void => controller.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const response = await fetchFunction(target.href, {
      method: 'GET',
      headers,
      signal: controller.signal,
    });
    const text = await response.text();
    let body: unknown = text === '' ? undefined : text;
    if (text !== '' && (response.headers.get('Content-Type') ?? '').includes('json')) {
      try {
        body = JSON.parse(text) as unknown;
      } catch {
        body = text;
      }
    }
    return { status: response.status, body };
  } catch (cause) {
    const reason = controller.signal.aborted ? 'timed out or was aborted' : 'got no answer';
    throw new Fail('sync/network-error', `GET ${url} ${reason}.`, { cause });
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}
