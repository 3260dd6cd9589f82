import { FluxyError } from '../../core/errors.js';
import { storageError } from './errors.js';

const maxDepth = 256;

/**
 * The JSON text of `value`, after checking that JSON keeps it intact: no BigInt, function,
 * symbol, `undefined` at the top or in an array, non-finite number, cycle, Map/Set or other
 * class instance without `toJSON`, nor nesting deeper than 256. `undefined` object properties
 * are dropped, as `JSON.stringify` does. Throws `storage/not-serializable` naming the path.
 * @internal
 */
export function toJson(value: unknown, key: string): string {
  if (value === undefined) {
    throw storageError(
      'storage/not-serializable',
      `set("${key}", undefined): undefined cannot be stored; call remove("${key}") to delete a key.`,
    );
  }
  let text: string | undefined;
  try {
    check(value, '$', new Set(), 0, key, '');
    text = JSON.stringify(value);
  } catch (error) {
    if (error instanceof FluxyError) throw error;
    // A getter or toJSON that throws: the value cannot be read, so it cannot be stored.
    throw storageError(
      'storage/not-serializable',
      `set("${key}", value): reading the value threw (${error instanceof Error ? error.message : String(error)}). Store plain data.`,
      error,
    );
  }
  if (text === undefined) {
    throw storageError(
      'storage/not-serializable',
      `set("${key}", value): the value serialises to nothing (its toJSON returned undefined or a function). Store plain data.`,
    );
  }
  return text;
}

function check(
  value: unknown,
  path: string,
  ancestors: Set<object>,
  depth: number,
  key: string,
  name: string,
): void {
  const refuse = (what: string): never => {
    throw storageError(
      'storage/not-serializable',
      `set("${key}", value): ${path} is ${what}, which JSON cannot store faithfully. Store plain data (strings, finite numbers, booleans, null, arrays, plain objects); convert it first (e.g. BigInt to a string).`,
    );
  };
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) refuse(String(value));
      return;
    case 'bigint':
      refuse('a BigInt');
      return;
    case 'function':
      refuse('a function');
      return;
    case 'symbol':
      refuse('a symbol');
      return;
    case 'undefined':
      refuse('undefined');
      return;
  }
  if (value === null) return;
  const object = value as object;
  if (depth >= maxDepth) refuse(`nested deeper than ${maxDepth} levels`);
  if (ancestors.has(object)) refuse('a circular reference');
  ancestors.add(object);
  const toJSON = (object as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') {
    // JSON.stringify stores what toJSON returns (a Date's ISO string): check that instead.
    const replaced: unknown = toJSON.call(object, name);
    if (replaced === undefined) refuse('an object whose toJSON() returns undefined');
    check(replaced, `${path}.toJSON()`, ancestors, depth + 1, key, name);
    ancestors.delete(object);
    return;
  }
  if (Array.isArray(object)) {
    object.forEach((item: unknown, index) => {
      check(item, `${path}[${index}]`, ancestors, depth + 1, key, String(index));
    });
  } else {
    const prototype = Object.getPrototypeOf(object);
    if (prototype !== Object.prototype && prototype !== null) {
      refuse(`an instance of ${(object.constructor as { name?: string } | undefined)?.name || 'a class'}`);
    }
    for (const symbol of Object.getOwnPropertySymbols(object)) {
      if (Object.prototype.propertyIsEnumerable.call(object, symbol)) refuse(`keyed by ${String(symbol)}`);
    }
    for (const [property, item] of Object.entries(object)) {
      if (item !== undefined) check(item, `${path}.${property}`, ancestors, depth + 1, key, property);
    }
  }
  ancestors.delete(object);
}
