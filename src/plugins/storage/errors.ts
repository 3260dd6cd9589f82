import { FluxyError } from '../../core/errors.js';

/**
 * The error codes raised by the Storage plugin, besides the core's `invalid-argument`.
 * Codes are stable: branch on `error.code`, never on `error.message`.
 *
 * - `storage/quota-exceeded`: the browser or the configured `quota` refused a write; earlier data is intact.
 * - `storage/unavailable`: the driver cannot be opened (IndexedDB blocked or missing, or not opened within 10 s; private mode, disk error).
 * - `storage/not-serializable`: the value is not plain JSON data (BigInt, function, symbol, cycle…); nothing was written.
 * - `storage/tampered`: a stored value is not a valid record, or its MAC does not match its key.
 * - `storage/unsupported-version`: a record or the database metadata has a format version this build does not know.
 * - `storage/wrong-secret`: the secret or key does not open this database (checked at init, before any read or write).
 * - `storage/unknown-driver`: the `driver` option names no driver and is no localforage instance.
 * - `storage/invalid-secret`: empty or non-string secret, raw key of the wrong type or length, iterations below the floor.
 * - `storage/invalid-key`: a storage key or namespace that is empty, not a string, reserved or not well-formed.
 * - `storage/lost`: the database was deleted under the running app (site data cleared, eviction, its folder removed); every later call fails with it: reload.
 *
 * @example
 * try { await storage.set('draft', value); } catch (error) {
 *   if (isFluxyError(error, 'storage/quota-exceeded')) showDiskFullBanner();
 * }
 */
export type StorageErrorCode =
  | 'storage/quota-exceeded'
  | 'storage/unavailable'
  | 'storage/not-serializable'
  | 'storage/tampered'
  | 'storage/unsupported-version'
  | 'storage/wrong-secret'
  | 'storage/unknown-driver'
  | 'storage/invalid-secret'
  | 'storage/invalid-key'
  | 'storage/lost';

/** Shorthand for `new FluxyError(code, message, { cause })`. @internal */
export function storageError(
  code: StorageErrorCode,
  message: string,
  cause?: unknown,
): FluxyError<StorageErrorCode> {
  return new FluxyError(code, message, { cause }); // (no `cause` property when it is undefined)
}

const quotaErrorNames = new Set(['QuotaExceededError', 'NS_ERROR_DOM_QUOTA_REACHED']);

/**
 * True for a quota failure as browsers report it: a `QuotaExceededError` (by name: a DOMException
 * with the legacy code 22 has that name too), or an aborted transaction whose `error` is one. @internal
 */
export function isQuotaError(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  const candidate = error as { name?: unknown; error?: unknown; cause?: unknown };
  if (quotaErrorNames.has(candidate.name as string)) return true;
  // An aborted IDBTransaction carries the real reason in `.error`; wrappers put it in `.cause`.
  return (
    (candidate.error !== error && isQuotaError(candidate.error)) ||
    (candidate.cause !== error && isQuotaError(candidate.cause))
  );
}

/**
 * Turns a driver failure during `operation` into a {@link FluxyError}: FluxyErrors pass through,
 * a key the driver cannot store becomes `storage/invalid-key`, quota failures
 * `storage/quota-exceeded`, everything else `storage/unavailable`. @internal
 */
export function toStorageError(error: unknown, operation: string): FluxyError {
  if (error instanceof FluxyError) return error;
  // A driver's refusal of a key it cannot store (see unstorableKey): its message says why.
  if (error instanceof Error && error.name === 'UnstorableKeyError') {
    return storageError('storage/invalid-key', error.message, error);
  }
  if (isQuotaError(error)) {
    return storageError(
      'storage/quota-exceeded',
      `${operation} failed: the storage quota is exhausted. The data already stored is intact; free space (remove or clear old keys) or ask the browser for more (navigator.storage.persist()), then retry.`,
      error,
    );
  }
  return storageError(
    'storage/unavailable',
    `${operation} failed because the storage driver failed (${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}). Check that storage is allowed (private mode, blocked site data, disk permissions) and retry.`,
    error,
  );
}
