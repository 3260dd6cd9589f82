import { describeInput, hasLoneSurrogate } from '../../core/input-checks.js';
import { storageError } from './errors.js';
import type { StorageChange } from './key-value-store.js';

/** Keys starting with this character are reserved for Fluxy's metadata. @internal */
export const reservedKeyPrefix = '\u0000';
/** Separates a namespace from the keys inside it. @internal */
export const namespaceSeparator = '/';

/** Throws `storage/invalid-key` unless `key` is a non-empty, well-formed, unreserved string. @internal */
export function assertKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key === '') {
    throw storageError(
      'storage/invalid-key',
      `A storage key must be a non-empty string, got ${describeInput(key)}.`,
    );
  }
  assertUsable(key, 'key');
}

/** Throws `storage/invalid-key` unless `prefix` is `undefined` or a usable string (may be empty). @internal */
export function assertPrefix(prefix: unknown): asserts prefix is string | undefined {
  if (prefix === undefined) return;
  if (typeof prefix !== 'string') {
    throw storageError(
      'storage/invalid-key',
      `keys(prefix) / clear(prefix): the prefix must be a string or omitted, got ${describeInput(prefix)}.`,
    );
  }
  assertUsable(prefix, 'prefix');
}

/** Throws `storage/invalid-key` unless `name` can name a namespace (non-empty, no `/`). @internal */
export function assertNamespace(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name === '' || name.includes(namespaceSeparator)) {
    throw storageError(
      'storage/invalid-key',
      `namespace(prefix): the prefix must be a non-empty string without "/", got ${describeInput(name)}; nest views with namespace('a').namespace('b').`,
    );
  }
  assertUsable(name, 'prefix');
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

/** The stack of the error names the call; `what` says which argument. */
function assertUsable(text: string, what: string): void {
  if (text.startsWith(reservedKeyPrefix)) {
    throw storageError(
      'storage/invalid-key',
      `Storage keys starting with "\\u0000" are reserved for Fluxy's metadata; choose another ${what}.`,
    );
  }
  if (hasLoneSurrogate(text)) {
    throw storageError(
      'storage/invalid-key',
      `A storage ${what} contains a lone UTF-16 surrogate, which drivers cannot store exactly; remove it.`,
    );
  }
}
