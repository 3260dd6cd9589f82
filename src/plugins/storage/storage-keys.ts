import { describeInput, hasLoneSurrogate } from '../../core/input-checks.js';
import { storageError } from './errors.js';
import type { StorageChange } from './key-value-store.js';

/** Keys starting with this character are reserved for Fluxy's metadata. @internal */
export const reservedKeyPrefix = '\u0000';
/** Separates a namespace from the keys inside it. @internal */
export const namespaceSeparator = '/';

/** Throws `storage/invalid-key` unless `prefix` is `undefined` or a usable string (may be empty). @internal */
export function assertPrefix(prefix: unknown): asserts prefix is string | undefined {
  if (prefix !== undefined) assertKey(prefix, 'prefix');
}

/**
 * Throws `storage/invalid-key` unless `key` is a string that is not empty (a prefix may be),
 * does not start with the reserved character, has no lone surrogate (which drivers cannot store
 * exactly) and, naming a namespace, has no `/`. The stack of the error names the call. @internal
 */
export function assertKey(key: unknown, what: 'key' | 'prefix' | 'namespace' = 'key'): asserts key is string {
  if (
    typeof key !== 'string' ||
    (key === '' && what !== 'prefix') ||
    key.startsWith(reservedKeyPrefix) ||
    hasLoneSurrogate(key) ||
    (what === 'namespace' && key.includes(namespaceSeparator))
  ) {
    throw storageError(
      'storage/invalid-key',
      `A storage ${what} must be a ${what === 'prefix' ? '' : 'non-empty '}string without a lone UTF-16 surrogate, not starting with "\\u0000" (reserved for Fluxy's metadata)${what === 'namespace' ? `, without "/" (nest views with namespace('a').namespace('b'))` : ''}; got ${describeInput(key)}.`,
    );
  }
}

/**
 * Throws `storage/invalid-key` unless `changes` is an array of `{ key, value }` or
 * `{ key, remove: true }` (keys are checked by the caller). @internal
 */
export function assertChanges(changes: unknown): asserts changes is ReadonlyArray<StorageChange> {
  const valid =
    Array.isArray(changes) &&
    changes.every((change: unknown) => {
      if (change === null || typeof change !== 'object') return false;
      const names = Object.keys(change).sort().join(',');
      return (
        names === 'key,value' || (names === 'key,remove' && (change as { remove?: unknown }).remove === true)
      );
    });
  if (!valid) {
    throw storageError(
      'storage/invalid-key',
      `commit(changes): changes must be an array of { key, value } or { key, remove: true }, got ${describeInput(changes)}.`,
    );
  }
}
