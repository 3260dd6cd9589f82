/**
 * How every entry checks what its callers pass in — option objects, JSON data, text — so bad
 * input gets the same clear, typed error everywhere and changes nothing. Each check throws the
 * error its caller makes (`fail` / `refuse`), so every plugin keeps its own error codes.
 */

/**
 * A short description of a value given to an API, for error messages: `null`, `an array`, a
 * string quoted (and cut at 40 characters), a number's or boolean's value, else its type. @internal
 */
export function describeInput(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : typeof value;
}

/**
 * `options` as a record, after checking its shape: `undefined` (none: `{}`) or a plain object —
 * not null, not an array — whose keys are all in `known`. Otherwise throws `fail(problem)`, the
 * problem saying what was given (or which key is unknown) and what is accepted; the caller's
 * `fail` says where, with an example. (A callback rather than a description of the place: the
 * production build drops the messages, and with them everything that only served them.) @internal
 */
export function checkOptions(
  options: unknown,
  known: readonly string[],
  fail: (problem: string) => Error,
): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw fail(`must be an object (got ${describeInput(options)})`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw fail(`has no option "${key}"; the options are ${known.join(', ')}`);
  }
  return options as Record<string, unknown>;
}

/** How strict {@link checkJson} is. @internal */
export interface JsonRules {
  /** A value more than this many levels down (0 is the value itself) is refused. */
  readonly maxDepth: number;
  /**
   * Also refuse what `JSON.stringify` accepts but would not carry faithfully, as an HTTP body
   * must be: lone UTF-16 surrogates (in strings and keys), array holes (`[1, , 3]` is sent as
   * `[1,null,3]`) and symbol keys of any kind; and count every value toward `maxDepth`, not only
   * objects and arrays. A `toJSON` that returns `undefined` is then treated like `undefined`
   * (dropped from an object) instead of refused.
   */
  readonly strict: boolean;
}

/**
 * Walk `value` as `JSON.stringify` would and call `refuse(path, problem)` (which throws) at the
 * first thing JSON would not keep as it is: a BigInt, function, symbol, non-finite number, cycle,
 * class instance without `toJSON` (Map, Set, typed arrays…), `undefined` or a function in an
 * array, an enumerable symbol key, nesting deeper than `maxDepth` — and what {@link JsonRules.strict}
 * adds. `undefined` object properties are dropped, as JSON does. `path` is like `.items[2].name`
 * ('' for the value itself); `problem` reads after it, e.g. `is a BigInt (convert it to a
 * string)`. A getter, `toJSON` or Proxy trap that throws is let through to the caller. @internal
 */
export function checkJson(
  value: unknown,
  rules: JsonRules,
  refuse: (path: string, problem: string) => never,
): void {
  const { maxDepth, strict } = rules;
  const ancestors = new Set<object>();
  // The path is built only when something is refused: the walk keeps the keys it went through
  // (an index as a number), which costs nothing for the values that pass — nearly all of them.
  const keys: Array<string | number> = [];
  const fail = (problem: string): never =>
    refuse(keys.map((key) => (typeof key === 'number' ? `[${key}]` : `.${key}`)).join(''), problem);
  const visit = (item: unknown, depth: number): void => {
    const isObject = item !== null && typeof item === 'object';
    if (depth > maxDepth && (strict || isObject)) fail(`nests deeper than ${maxDepth} levels`);
    switch (typeof item) {
      case 'string':
        if (strict && hasLoneSurrogate(item)) fail('contains a lone UTF-16 surrogate');
        return;
      case 'number':
        if (!Number.isFinite(item)) fail(`is ${item}, which JSON cannot hold`);
        return;
      case 'bigint':
        fail('is a BigInt (convert it to a string)');
        return;
      case 'function':
      case 'symbol':
        fail(`is a ${typeof item}, which JSON cannot hold`);
        return;
    }
    if (!isObject) return; // null, a boolean, or undefined (dropped from an object)
    const object = item as object;
    if (ancestors.has(object)) fail('is a circular reference');
    ancestors.add(object);
    const toJSON = (object as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') {
      // JSON.stringify keeps what toJSON returns (a Date's ISO string): check that instead.
      // Its argument is the key or index the value is under ('' for the value itself).
      const replaced: unknown = toJSON.call(object, `${keys.at(-1) ?? ''}`);
      if (replaced === undefined && !strict) fail('has a toJSON() that returns undefined');
      visit(replaced, depth + 1);
    } else if (Array.isArray(object)) {
      // By index, not forEach (which skips holes).
      for (let index = 0; index < object.length; index++) {
        keys.push(index);
        if (index in object) {
          const element: unknown = object[index];
          // (A function or symbol is refused by the visit, as anywhere else.)
          if (element === undefined) fail('is undefined, which JSON would turn into null');
          visit(element, depth + 1);
        } else if (strict) fail('is a hole (an empty slot), which JSON would turn into null');
        keys.pop();
      }
    } else {
      const prototype = Object.getPrototypeOf(object);
      if (prototype !== Object.prototype && prototype !== null) {
        fail(
          `is a ${(object.constructor as { name?: string } | undefined)?.name || 'class instance'}, which JSON would not keep`,
        );
      }
      for (const symbol of Object.getOwnPropertySymbols(object)) {
        if (strict || Object.prototype.propertyIsEnumerable.call(object, symbol)) {
          fail(`is keyed by ${String(symbol)}`);
        }
      }
      for (const name of Object.keys(object)) {
        keys.push(name);
        if (strict && hasLoneSurrogate(name)) fail('has a key with a lone UTF-16 surrogate');
        visit((object as Record<string, unknown>)[name], depth + 1);
        keys.pop();
      }
    }
    ancestors.delete(object);
  };
  visit(value, 0);
}

/** True when `text` has a UTF-16 surrogate without its pair (not representable in UTF-8). @internal */
export function hasLoneSurrogate(text: string): boolean {
  // isWellFormed (Chromium 111, Firefox 119, Safari 16.4, Node 20) is native; the pattern is the fallback.
  const wellFormed = text as { isWellFormed?: () => boolean };
  return wellFormed.isWellFormed
    ? !wellFormed.isWellFormed()
    : /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}
