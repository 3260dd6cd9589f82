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
    // Strict, the check returns a copy with each toJSON() replaced by what its one call returned:
    // the text is what was checked.
    text = JSON.stringify(checkJson(value, { maxDepth: maxJsonDepth, strict: true }, fail));
  } catch (error) {
    if (error instanceof FluxyError) throw error;
    // A getter, toJSON or Proxy trap threw while reading the value.
    throw new FluxyError(code, `${what} could not be read (${describeValue(error)}): pass plain data.`, {
      cause: error,
    });
  }
  // (A problem long enough to be prose: the production build leaves it out.)
  return text ?? fail('', 'is not a JSON value (undefined)');
}

/** UTF-8 byte length of a string. */
export function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}
