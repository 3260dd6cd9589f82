import type { SyncErrorCode } from './errors.js';
import type { JsonValue } from './json-value.js';
import type { FormField, HttpMethod, OperationDraft } from './request-validation.js';

/** Why an operation's last attempt did not succeed. */
export interface OperationError {
  /** A `sync/*` code, e.g. `sync/http-error` or `sync/network-error` (see {@link SyncErrorCode}). */
  code: SyncErrorCode;
  /**
   * What happened, in prose, for logs — in the development build only: the production build
   * leaves it `''` (see docs/errors.md). Show `code` and `status` in a UI.
   */
  message: string;
  /** The HTTP status, when the server answered. */
  status?: number;
  /** Where a redirect pointed (`sync/redirected`), when known. */
  location?: string;
  /**
   * The body of the server's refusal (a 4xx that failed the operation), as read: parsed JSON, or
   * text; undefined when there was none (or it was too large). A `412`'s body holds the server's
   * current row, which `fluxy/collections` resolves the conflict with.
   */
  body?: unknown;
  /** When it happened (ms since epoch). */
  at: number;
}

/** A queued HTTP operation, as stored and as returned by `queue()`, `pending()` and `failed()`. */
export interface Operation {
  /** Unique, time-ordered id. */
  readonly id: string;
  /**
   * The `Idempotency-Key` header of every attempt: the id, the same across retries and restarts.
   * Only an explicit `retry()` of an operation the server refused with a 4xx (so it was not
   * applied) gets a new one (`<id>.1`, `<id>.2`…), since a server replays its stored refusal.
   */
  readonly idempotencyKey: string;
  readonly method: HttpMethod;
  /** As given to `queue()`; resolved against `baseUrl` at send time. */
  readonly url: string;
  /** The JSON body, as it was when `queue()` was called (absent for a binary body). */
  readonly body?: JsonValue;

  readonly headers?: Readonly<Record<string, string>>;
  readonly meta?: JsonValue;
  readonly kind?: string;
  /** The temporary id this operation introduces (see `queue(…, { tempId })`). */
  readonly tempId?: string;
  /** When it was queued (ms since epoch). */
  readonly createdAt: number;
  /** How many times the server answered with a retryable error. */
  readonly attempts: number;
  /** Not sent before this time (ms since epoch) — the backoff after a retryable failure. */
  readonly nextAttemptAt?: number;
  readonly lastError?: OperationError;
}

/**
 * A failed operation whose stored record could not be read (it failed authentication or
 * decryption). It is never sent; inspect `lastError` and `discard()` it.
 */
export interface UnreadableOperation {
  readonly id: string;
  readonly unreadable: true;
  readonly lastError: OperationError;
}

/**
 * True when `operation` is an {@link UnreadableOperation} (a stored record that failed
 * authentication or decryption: only `id`, `unreadable` and `lastError` are known). Use it to
 * narrow the entries of `pending()` / `failed()` and the `failed` event's `operation` before
 * reading `method`, `url` or `body`.
 *
 * @example
 * sync.on('failed', ({ operation, error }) => {
 *   if (isUnreadable(operation)) console.warn(`record ${operation.id} is unreadable: discard it`);
 *   else console.warn(`${operation.method} ${operation.url} failed: ${error.message}`);
 * });
 */
export function isUnreadable(operation: Operation | UnreadableOperation): operation is UnreadableOperation {
  return (operation as Partial<UnreadableOperation>).unreadable === true;
}

/** The stored form of an operation: versioned plain data, never a closure. @internal */
export interface OperationRecord {
  v: 1;
  id: string;
  method: HttpMethod;
  url: string;
  /** The body as JSON text, exactly what is sent. */
  body?: string;
  /** A binary body: its bytes are stored in chunks `b/<id>/<n>` beside the record (binary-body.ts). */
  binary?: BinaryManifest;
  headers?: Record<string, string>;
  meta?: JsonValue;
  kind?: string;
  /** The temporary id this create introduces. */
  tempId?: string;
  /** Temporary ids of other operations that this one mentions, replaced before it is sent. */
  refs?: string[];
  /** Key generation: 0 (absent) sends `id`, n sends `id.n`. */
  keyGen?: number;
  createdAt: number;
  attempts: number;
  nextAttemptAt?: number;
  lastError?: OperationError;
  /** Increases with every write of this record: on a crash between the two writes of a move, the higher one wins. */
  rev: number;
  /** Set when the record is an unreadable one moved to failed. */
  unreadable?: true;
}

/**
 * What the record of a binary body keeps (the bytes are in its chunks): enough to rebuild the
 * exact same request body at every attempt. @internal
 */
export interface BinaryManifest {
  /** A Blob (given, or made of given bytes), or a form. */
  kind: 'blob' | 'form';
  /** Bytes in the chunks. */
  size: number;
  /** How many chunks (`b/<id>/0` …). */
  chunks: number;
  /** Content-Type of a blob or bytes body ('' for none). */
  type: string;
  /** A form's multipart boundary, chosen once so every attempt sends the same bytes. */
  boundary?: string;
  /** A form's entries in order (a file's bytes are the next `size` bytes of the chunks). */
  fields?: FormField[];
}

/** The current record format version. */
export const recordVersion = 1;

/** The record of a new operation: a validated draft, its id, and the temporary ids it mentions. @internal */
export function createRecord(
  id: string,
  draft: OperationDraft,
  createdAt: number,
  refs: string[],
): OperationRecord {
  const record: OperationRecord = {
    v: recordVersion,
    id,
    method: draft.method,
    url: draft.url,
    createdAt,
    attempts: 0,
    rev: 0,
  };
  if (draft.bodyText !== undefined) record.body = draft.bodyText;
  // Only the fields given: a stored record holds no `undefined`.
  for (const field of ['headers', 'meta', 'kind', 'tempId'] as const)
    if (draft[field] !== undefined) (record as unknown as Record<string, unknown>)[field] = draft[field];
  if (refs.length > 0) record.refs = refs;
  return record;
}

/** The public view of a record. @internal */
export function toOperation(record: OperationRecord): Operation | UnreadableOperation {
  if (record.unreadable) {
    return Object.freeze({
      id: record.id,
      unreadable: true as const,
      lastError:
        record.lastError ??
        // Short enough to stay in the production build, which would strip a longer one to ''.
        ({ code: 'sync/record-unreadable', message: 'unreadable record', at: 0 } as const),
    });
  }
  const operation: {
    -readonly [K in keyof Operation]: Operation[K];
  } = {
    id: record.id,
    idempotencyKey: record.keyGen ? `${record.id}.${record.keyGen}` : record.id,
    method: record.method,
    url: record.url,
    createdAt: record.createdAt,
    attempts: record.attempts,
  };
  if (record.body !== undefined) operation.body = JSON.parse(record.body) as JsonValue;
  if (record.headers) operation.headers = { ...record.headers };
  if (record.meta !== undefined) operation.meta = structuredClone(record.meta);
  for (const field of ['kind', 'tempId', 'nextAttemptAt'] as const)
    if (record[field] !== undefined) (operation as Record<string, unknown>)[field] = record[field];
  if (record.lastError) operation.lastError = { ...record.lastError };
  return Object.freeze(operation);
}

/** True when a stored value has the shape of a record we can use. @internal */
export function isOperationRecord(value: unknown, id: string): value is OperationRecord {
  if (value === null || typeof value !== 'object') return false;
  const record = value as Partial<OperationRecord>;
  if (record.v !== recordVersion || record.id !== id || typeof record.rev !== 'number') return false;
  if (record.unreadable === true) return true;
  return (
    typeof record.method === 'string' &&
    typeof record.url === 'string' &&
    typeof record.createdAt === 'number' &&
    typeof record.attempts === 'number' &&
    (record.body === undefined || typeof record.body === 'string')
  );
}
