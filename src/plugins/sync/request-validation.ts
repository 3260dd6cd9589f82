import { FluxyError } from '../../core/errors.js';
import { checkOptions, describeInput, hasLoneSurrogate } from '../../core/input-checks.js';
import type { SyncErrorCode } from './errors.js';
import { type JsonValue, toJsonText, utf8Length } from './json-value.js';

/** The HTTP methods an operation may use. */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** The longest URL `queue()` accepts, in UTF-8 bytes (8 KiB: what servers and proxies commonly take). */
const maxUrlBytes = 8192;
const methods = new Set<string>(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
const tokenPattern = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const credentialHeaders = /^(authorization|cookie|proxy-authorization)$/;
/**
 * Header names that look like credentials (`X-Api-Key`, `X-Auth-Token`, `X-Client-Secret`,
 * `Session-Id`…): a word of the name (between dashes) is one of these.
 */
const credentialLikeHeader =
  /(^|-)(auth|authorization|token|key|apikey|api_key|secret|password|passwd|credential|credentials|session|signature|cookie|jwt|bearer)(-|$)/;
// Headers a browser refuses to let scripts set, or that the transport owns (whole names).
const forbiddenHeaders =
  /^(accept-(charset|encoding)|access-control-request-(headers|method)|connection|content-length|cookie2|date|dnt|expect|host|keep-alive|origin|referer|set-cookie|te|trailer|transfer-encoding|upgrade|via|idempotency-key)$/;

/** What `queue()` accepts besides method and URL. */
export interface QueueOptions {
  /**
   * The body: JSON data, serialised now (later changes to your object do not change what is
   * sent) — or binary: a `Blob`/`File` (sent with its type), an `ArrayBuffer`, a typed array or
   * `DataView` (sent as `application/octet-stream` unless a Content-Type header is given), or a
   * `FormData` of text fields and files (sent as `multipart/form-data`). Binary bodies are copied
   * into storage (encrypted with a secret) before `queue()` resolves, up to the SyncPlugin option
   * `maxBodyBytes` (a binary body may be ten times larger than a JSON one: 10 MiB by default).
   */
  body?: unknown;
  /** Extra request headers stored with the operation (no credentials: use the plugin's `headers`). */
  headers?: Record<string, string>;
  /** App data kept durably with the operation, e.g. a local id to roll back after a reload. */
  meta?: unknown;
  /** A name for the kind of operation (e.g. `'note.create'`), stored with it, for outcome handlers. */
  kind?: string;
  /**
   * The temporary id this operation (a create) introduces, e.g. a client-made note id. Later
   * operations may use it in their URL (as a whole token: path segment, query value) or body (as
   * a whole JSON string); when this one succeeds, the server id from its response (SyncPlugin
   * option `serverId`) replaces it in them, durably, before they are sent.
   * 8 to 200 characters of `A-Z a-z 0-9 . _ ~ -`, e.g. a prefix and 16 random hex digits from
   * `crypto.getRandomValues` (see docs/sync.md, "Temporary ids").
   */
  tempId?: string;
}

/** One entry of a FormData body: a text field, or a file (its bytes are in the body's data). @internal */
export type FormField =
  | { name: string; value: string }
  | { name: string; filename: string; type: string; size: number };

/**
 * A binary body as `queue()` took it (a Blob/File, ArrayBuffer, typed array, DataView or
 * FormData), checked, read and stored by binary-body.ts before `queue()` resolves. @internal
 */
export interface BinaryDraft {
  data: Blob | FormData | ArrayBuffer | ArrayBufferView;
  /** The largest binary body: ten times the SyncPlugin option maxBodyBytes. */
  maxBytes: number;
}

/** A validated, frozen operation draft, ready to get an id. @internal */
export interface OperationDraft {
  method: HttpMethod;
  url: string;
  bodyText?: string;
  binary?: BinaryDraft;
  headers?: Record<string, string>;
  meta?: JsonValue;
  kind?: string;
  tempId?: string;
}

const optionKeys = ['body', 'headers', 'meta', 'kind', 'tempId'];

/**
 * Validate `queue()` arguments and freeze them into a draft. Throws a {@link FluxyError} with a
 * `sync/*` code; nothing is stored when it throws.
 *
 * @param resolveUrl - resolves a URL against the base (throws `sync/invalid-url` when it cannot).
 */
export function prepareOperation(
  method: unknown,
  url: unknown,
  options: unknown,
  limits: {
    maxBodyBytes: number;
    resolveUrl: (url: string) => URL;
    /** Whether requests may go to this URL's origin (the `allowedOrigins` policy); any when absent. */
    isAllowedOrigin?: ((url: URL) => boolean) | undefined;
  },
): OperationDraft {
  const normalisedMethod = checkMethod(method);
  const checkedUrl = checkUrl(url, limits);
  const given = checkOptions(options, optionKeys, (problem) =>
    refuse(
      'sync/invalid-options',
      `queue(method, url, options): options ${problem}, e.g. { body, headers, meta }.`,
    ),
  );
  const draft: OperationDraft = { method: normalisedMethod, url: checkedUrl };
  let size = 0;
  if (given.body !== undefined) {
    if (normalisedMethod === 'GET') {
      throw refuse(
        'sync/invalid-body',
        'queue("GET", …) cannot have a body: use POST, PUT or PATCH, or put the data in the URL.',
      );
    }
    const body = given.body;
    if (
      body instanceof Blob ||
      body instanceof FormData ||
      body instanceof ArrayBuffer ||
      ArrayBuffer.isView(body)
    ) {
      // Binary: checked, copied and stored by binary-body.ts (loaded then), before queue() resolves.
      draft.binary = { data: body, maxBytes: limits.maxBodyBytes * 10 };
    } else {
      draft.bodyText = toJsonText(given.body, 'body', 'sync/invalid-body');
      size += utf8Length(draft.bodyText);
    }
  }
  if (given.meta !== undefined) {
    const metaText = toJsonText(given.meta, 'meta', 'sync/invalid-options');
    size += utf8Length(metaText);
    draft.meta = JSON.parse(metaText) as JsonValue;
  }
  if (size > limits.maxBodyBytes) {
    throw refuse(
      'sync/body-too-large',
      `queue(): body and meta take ${size} bytes, over the limit of ${limits.maxBodyBytes}. Send large files another way, or raise the SyncPlugin option maxBodyBytes.`,
    );
  }
  if (given.headers !== undefined) {
    const headers = checkHeaderRecord(given.headers, 'refuse', (code, problem) =>
      refuse(code, `queue(method, url, { headers }): ${problem}`),
    );
    if (Object.keys(headers).length > 0) draft.headers = headers;
  }
  if (given.kind !== undefined) {
    if (typeof given.kind !== 'string' || given.kind.trim() === '' || given.kind.length > 200) {
      throw refuse(
        'sync/invalid-options',
        'queue(): kind must be a non-empty string of at most 200 characters, e.g. "note.create".',
      );
    }
    draft.kind = given.kind;
  }
  if (given.tempId !== undefined) {
    if (normalisedMethod === 'GET' || normalisedMethod === 'DELETE') {
      throw refuse(
        'sync/invalid-options',
        `queue(): tempId belongs to a create (POST, PUT or PATCH), not to ${normalisedMethod}.`,
      );
    }
    if (typeof given.tempId !== 'string' || !/^[A-Za-z0-9._~-]{8,200}$/.test(given.tempId)) {
      throw refuse(
        'sync/invalid-options',
        'queue(): tempId must be 8 to 200 characters of A-Z a-z 0-9 . _ ~ - (unique enough not to appear by chance), e.g. "tmp_3f9c2a71".',
      );
    }
    draft.tempId = given.tempId;
  }
  return draft;
}

function checkMethod(method: unknown): HttpMethod {
  if (typeof method !== 'string' || !tokenPattern.test(method)) {
    throw refuse(
      'sync/invalid-method',
      `queue(method, …): method must be one of GET, POST, PUT, PATCH, DELETE (got ${describeInput(method)}).`,
    );
  }
  const upper = method.toUpperCase();
  if (!methods.has(upper)) {
    throw refuse(
      'sync/invalid-method',
      `queue(): method "${method}" is not supported: use GET, POST, PUT, PATCH or DELETE.`,
    );
  }
  return upper as HttpMethod;
}

function checkUrl(
  url: unknown,
  { resolveUrl, isAllowedOrigin }: Parameters<typeof prepareOperation>[3],
): string {
  // (Spaces around it would be sent encoded, `' /a'` as `/%20/a`: a mistake, not a path.)
  if (typeof url !== 'string' || url === '' || url.trim() !== url) {
    throw refuse(
      'sync/invalid-url',
      `queue(method, url) or read(url): url must be a non-empty string without spaces around it, such as "/api/notes" (got ${describeInput(url)}).`,
    );
  }
  if (utf8Length(url) > maxUrlBytes) {
    throw refuse(
      'sync/invalid-url',
      `queue() or read(): url is ${utf8Length(url)} bytes long, over the limit of ${maxUrlBytes} (servers and proxies refuse longer ones): put the data in the body.`,
    );
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(url) || hasLoneSurrogate(url)) {
    throw refuse(
      'sync/invalid-url',
      'queue() or read(): url contains a control character (CR, LF, NUL, …) or a lone UTF-16 surrogate: encode it with encodeURIComponent.',
    );
  }
  const resolved = resolveUrl(url);
  if (!/^https?:$/.test(resolved.protocol)) {
    throw refuse(
      'sync/invalid-url',
      `queue() or read(): url must be http or https (got "${resolved.protocol}").`,
    );
  }
  if (resolved.username !== '' || resolved.password !== '') {
    throw refuse(
      'sync/credentials-in-queue',
      'queue() or read(): url contains credentials (user:password@): pass them in the SyncPlugin headers option instead, evaluated at send time.',
    );
  }
  // (The headers option, your credentials, goes with every request: only to the origins allowed.)
  if (isAllowedOrigin && !isAllowedOrigin(resolved)) {
    throw refuse(
      'sync/origin-not-allowed',
      `queue() or read(): "${url}" is on another origin than baseUrl: add that origin to the SyncPlugin allowedOrigins option if it should receive operations (and the headers option).`,
    );
  }
  return url;
}

/**
 * Check a header record and copy it: a plain object whose own keys are valid header names (not
 * `__proto__`, which a plain object cannot hold as data) and whose values are Latin-1 strings
 * without CR, LF or NUL; no name twice in different cases; no header the browser or Fluxy owns
 * (Host, Content-Length, `Sec-*`, `Proxy-*`, Idempotency-Key…). `credentials: 'refuse'` (for
 * `queue()`, whose headers are stored) also refuses Authorization, Cookie and
 * Proxy-Authorization, and any name that looks like a credential (a dash-separated word such as
 * auth, token, key, secret, password, session: `X-Api-Key`, `X-Auth-Token`); `'allow'` (for the `headers` option, evaluated at send time) accepts them.
 * Throws `fail(code, problem)`: `sync/invalid-headers`, or `sync/credentials-in-queue`; the
 * caller's `fail` says where. @internal
 */
export function checkHeaderRecord(
  headers: unknown,
  credentials: 'refuse' | 'allow',
  fail: (code: SyncErrorCode, problem: string) => Error,
): Record<string, string> {
  const prototype =
    headers !== null && typeof headers === 'object' ? Object.getPrototypeOf(headers) : undefined;
  if (prototype !== Object.prototype && prototype !== null) {
    throw fail(
      'sync/invalid-headers',
      `headers must be a plain object such as { "X-Request-Source": "editor" } (got ${describeInput(headers)}).`,
    );
  }
  const result: Record<string, string> = {};
  const seen = new Set<string>();
  for (const [name, value] of Object.entries(headers as object)) {
    const lower = name.toLowerCase();
    if (!tokenPattern.test(name)) throw fail('sync/invalid-headers', `"${name}" is not a valid header name.`);
    if (lower === '__proto__') {
      // `result[name] = value` would set the prototype and drop the header: refuse it instead.
      throw fail('sync/invalid-headers', `a header cannot be named "${name}".`);
    }
    const credential =
      credentialHeaders.test(lower) || (!forbiddenHeaders.test(lower) && credentialLikeHeader.test(lower));
    if (credential && credentials === 'refuse') {
      throw fail(
        'sync/credentials-in-queue',
        `the ${name} header looks like a credential and would be stored with the operation. Give credentials in the SyncPlugin headers option (a function evaluated at send time), so a token is never at rest and never stale; per-operation headers whose name has a word such as auth, token, key, secret, password, session, signature or cookie are refused.`,
      );
    }
    if (!credential && (forbiddenHeaders.test(lower) || /^(proxy|sec)-/.test(lower))) {
      throw fail(
        'sync/invalid-headers',
        `the ${name} header is set by the browser or by Fluxy itself and cannot be given.`,
      );
    }
    if (typeof value !== 'string')
      throw fail('sync/invalid-headers', `header ${name} must be a string (got ${describeInput(value)}).`);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: header injection guard
    if (/[\r\n\u0000]/.test(value))
      throw fail('sync/invalid-headers', `header ${name} contains CR, LF or NUL.`);
    if (/[^\t\x20-\x7e\x80-\xff]/.test(value)) {
      throw fail(
        'sync/invalid-headers',
        `header ${name} has characters HTTP headers cannot carry (only Latin-1): encode the value, e.g. with encodeURIComponent.`,
      );
    }
    if (seen.has(lower))
      throw fail('sync/invalid-headers', `header ${name} is given twice with different cases.`);
    seen.add(lower);
    result[name] = value;
  }
  return result;
}

/**
 * The error `queue()`'s checks throw. One factory (not `new FluxyError` at each check) lets the
 * production build, whose messages are empty, merge the checks that throw the same code.
 */
function refuse(code: SyncErrorCode, message: string): FluxyError {
  return new FluxyError(code, message);
}
