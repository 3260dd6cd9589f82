import { describeValue, FluxyError } from '../../core/errors.js';
import { checkJson } from '../../core/input-checks.js';

/** A JSON value: what a body or `meta` may hold. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** How deep a body or `meta` may nest. */
export const maxJsonDepth = 64;

/**
 * Serialise `value` to JSON text, refusing what JSON would silently change or lose: BigInt,
 * functions, symbols, non-finite numbers, cycles, lone surrogates, array holes (`[1, , 3]`) and
 * `undefined` array elements (JSON would send `null`), Map/Set/typed arrays and other class
 * instances without `toJSON`, and nesting deeper than {@link maxJsonDepth}.
 * `undefined` object properties are dropped as JSON does. Throws `FluxyError(code)` naming the path.
 */
export function toJsonText(
  value: unknown,
  what: string,
  code: 'sync/invalid-body' | 'sync/invalid-options',
): string {
  const fail = (path: string, problem: string): never => {
    throw new FluxyError(
      code,
      `${what}${path} ${problem}: ${what} must be JSON (plain objects, arrays, strings, finite numbers, booleans, null).`,
    );
  };
  let text: string | undefined;
  try {
    // Each toJSON() runs once: the check and the text both see what that one call returned.
    const resolved = resolveToJson(value, '', 0, new Set());
    checkJson(resolved, { maxDepth: maxJsonDepth, strict: true }, fail);
    text = JSON.stringify(resolved);
  } catch (error) {
    if (error instanceof FluxyError) throw error;
    // A getter, toJSON or Proxy trap threw while reading the value.
    throw new FluxyError(code, `${what} could not be read (${describeValue(error)}): pass plain data.`, {
      cause: error,
    });
  }
  return text ?? fail('', 'is not a JSON value');
}

/**
 * `value` with every `toJSON()` called once and replaced by its result: arrays (keeping their
 * holes) and plain objects are copied; anything else (class instances, objects keyed by symbols,
 * cycles, nesting past the depth limit) is left as it is for the check to refuse.
 */
function resolveToJson(value: unknown, key: string, depth: number, ancestors: Set<object>): unknown {
  if (value === null || typeof value !== 'object' || depth > maxJsonDepth + 1 || ancestors.has(value)) {
    return value;
  }
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') {
    return resolveToJson(toJSON.call(value, key), key, depth + 1, ancestors);
  }
  ancestors.add(value);
  try {
    if (Array.isArray(value)) {
      const copy: unknown[] = new Array(value.length);
      for (let index = 0; index < value.length; index++) {
        if (index in value) copy[index] = resolveToJson(value[index], String(index), depth + 1, ancestors);
      }
      return copy;
    }
    const prototype = Object.getPrototypeOf(value);
    if (
      (prototype !== Object.prototype && prototype !== null) ||
      Object.getOwnPropertySymbols(value).length > 0
    ) {
      return value;
    }
    const copy: Record<string, unknown> = {};
    for (const [name, child] of Object.entries(value)) {
      // defineProperty, so a "__proto__" key stays data.
      Object.defineProperty(copy, name, {
        value: resolveToJson(child, name, depth + 1, ancestors),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return copy;
  } finally {
    ancestors.delete(value);
  }
}

/** UTF-8 byte length of a string. */
export function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}
