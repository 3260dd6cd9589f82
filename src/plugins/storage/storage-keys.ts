import { describeInput, hasLoneSurrogate } from '../../core/input-checks.js';
import { storageError } from './errors.js';

/** Keys starting with this character are reserved for Fluxy's metadata. @internal */
export const reservedKeyPrefix = '\u0000';
/** Separates a namespace from the keys inside it. @internal */
export const namespaceSeparator = '/';

/** Throws `storage/invalid-key` unless `key` is a non-empty, well-formed, unreserved string. @internal */
export function assertKey(key: unknown, operation: string): asserts key is string {
  if (typeof key !== 'string' || key === '') {
    throw storageError(
      'storage/invalid-key',
      `${operation}(key): the key must be a non-empty string, got ${describeInput(key)}.`,
    );
  }
  assertUsable(key, operation, 'key');
}

/** Throws `storage/invalid-key` unless `prefix` is `undefined` or a usable string (may be empty). @internal */
export function assertPrefix(prefix: unknown, operation: string): asserts prefix is string | undefined {
  if (prefix === undefined) return;
  if (typeof prefix !== 'string') {
    throw storageError(
      'storage/invalid-key',
      `${operation}(prefix): the prefix must be a string or omitted, got ${describeInput(prefix)}.`,
    );
  }
  assertUsable(prefix, operation, 'prefix');
}

/** Throws `storage/invalid-key` unless `name` can name a namespace (non-empty, no `/`). @internal */
export function assertNamespace(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name === '' || name.includes(namespaceSeparator)) {
    throw storageError(
      'storage/invalid-key',
      `namespace(prefix): the prefix must be a non-empty string without "/", got ${describeInput(name)}; nest views with namespace('a').namespace('b').`,
    );
  }
  assertUsable(name, 'namespace', 'prefix');
}

function assertUsable(text: string, operation: string, what: string): void {
  if (text.startsWith(reservedKeyPrefix)) {
    throw storageError(
      'storage/invalid-key',
      `${operation}(${what}): keys starting with "\\u0000" are reserved for Fluxy's metadata; choose another ${what}.`,
    );
  }
  if (hasLoneSurrogate(text)) {
    throw storageError(
      'storage/invalid-key',
      `${operation}(${what}): the ${what} contains a lone UTF-16 surrogate, which drivers cannot store exactly; remove it.`,
    );
  }
}
