import { describeValue, FluxyError } from '../../core/errors.js';
import { checkJson } from '../../core/input-checks.js';
import { storageError } from './errors.js';

/**
 * The JSON text of `value`, after checking that JSON keeps it intact: no BigInt, function,
 * symbol, `undefined` at the top or in an array, array hole, non-finite number, cycle, Map/Set or other
 * class instance without `toJSON`, `toJSON` that returns `undefined`, nor nesting deeper than 255
 * levels. `undefined` object properties are dropped, as `JSON.stringify` does. Throws
 * `storage/not-serializable` naming the path. @internal
 */
export function toJson(value: unknown, key: string): string {
  const refuse = (path: string, problem: string): never => {
    throw storageError(
      'storage/not-serializable',
      `set("${key}", value): $${path} ${problem}, so JSON cannot store it faithfully. Store plain data (strings, finite numbers, booleans, null, arrays, plain objects), converting anything else first.`,
    );
  };
  let text: string | undefined;
  try {
    checkJson(value, { maxDepth: 255, strict: false }, refuse);
    text = JSON.stringify(value);
  } catch (error) {
    if (error instanceof FluxyError) throw error;
    // A getter or toJSON that throws: the value cannot be read, so it cannot be stored.
    throw storageError(
      'storage/not-serializable',
      `set("${key}", value): reading the value threw (${describeValue(error)}). Store plain data.`,
      error,
    );
  }
  // `undefined` itself passes the walk, and serialises to nothing.
  if (text === undefined) {
    throw storageError(
      'storage/not-serializable',
      value === undefined
        ? `set("${key}", undefined): undefined cannot be stored; call remove("${key}") to delete a key.`
        : `set("${key}", value): the value serialises to nothing (its toJSON returned undefined or a function). Store plain data.`,
    );
  }
  return text;
}
