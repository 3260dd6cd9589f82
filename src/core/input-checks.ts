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
 * `options` as a record, after checking its shape: `undefined` (none: `{}`) or an object whose
 * tag is `Object` — not null, an array, a Map or a Date; an instance of a plain class is accepted,
 * and its inherited option getters are read — whose own keys are all in `known`. Otherwise throws `fail(problem)`, the
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
  // Not a primitive, null, an array, a Map or a Date (which would read as {}); realm-safe.
  if (Object.prototype.toString.call(options) !== '[object Object]') {
    throw fail(`must be a plain object (got ${describeInput(options)})`);
  }
  for (const key of Object.keys(options as object)) {
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
   * must be: lone UTF-16 surrogates (in strings and keys) and symbol keys of any kind; and count every value toward `maxDepth`, not only
   * objects and arrays. A `toJSON` that returns `undefined` is then treated like `undefined`
   * (dropped from an object) instead of refused, and what a `toJSON` returns takes the value's
   * place at its level. And return a copy of the value (plain objects and arrays, each key read
   * once) in which every `toJSON` is replaced by what it returned, so that `JSON.stringify` of
   * the copy calls none again: each `toJSON` runs once, and the text is what was checked.
   */
  readonly strict: boolean;
}

/**
 * Walk `value` as `JSON.stringify` would and call `refuse(path, problem)` (which throws) at the
 * first thing JSON would not keep as it is: a BigInt, function, symbol, non-finite number, cycle,
 * class instance without `toJSON` (Map, Set, typed arrays…), `undefined`, a function or a hole
 * in an array (`[1, , 3]` would come back as `[1,null,3]`), an enumerable symbol key, nesting deeper than `maxDepth` — and what {@link JsonRules.strict}
 * adds. `undefined` object properties are dropped, as JSON does. `path` is like `.items[2].name`
 * ('' for the value itself); `problem` reads after it, e.g. `is a BigInt (convert it to a
 * string)`. A getter, `toJSON` or Proxy trap that throws is let through to the caller. Returns
 * `value` itself, or in strict mode the copy {@link JsonRules.strict} describes. @internal
 */
export function checkJson(
  value: unknown,
  rules: JsonRules,
  refuse: (path: string, problem: string) => never,
): unknown {
  const { maxDepth, strict } = rules;
  const ancestors = new Set<object>();
  // The path is built only when something is refused: the walk keeps the keys it went through
  // (an index as a number), which costs nothing for the values that pass — nearly all of them.
  const keys: Array<string | number> = [];
  const fail = (problem: string): never =>
    refuse(keys.map((key) => (typeof key === 'number' ? `[${key}]` : `.${key}`)).join(''), problem);
  const visit = (item: unknown, depth: number): unknown => {
    const isObject = item !== null && typeof item === 'object';
    if (depth > maxDepth && (strict || isObject)) fail(`nests deeper than ${maxDepth} levels`);
    switch (typeof item) {
      case 'string':
        if (strict && hasLoneSurrogate(item)) fail('contains a lone UTF-16 surrogate');
        return item;
      case 'number':
        if (!Number.isFinite(item)) fail(`is ${item}, which JSON cannot hold`);
        return item;
      case 'bigint':
        return fail('is a BigInt (convert it to a string)');
      case 'function':
      case 'symbol':
        return fail(`is a ${typeof item}, which JSON cannot hold`);
    }
    if (!isObject) return item; // null, a boolean, or undefined (dropped from an object)
    const object = item as object;
    let result: unknown = object;
    if (ancestors.has(object)) fail('is a circular reference');
    ancestors.add(object);
    const toJSON = (object as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') {
      // JSON.stringify keeps what toJSON returns (a Date's ISO string): check that instead.
      // Its argument is the key or index the value is under ('' for the value itself).
      const replaced: unknown = toJSON.call(object, `${keys.at(-1) ?? ''}`);
      if (replaced === undefined && !strict) fail('has a toJSON() that returns undefined');
      result = visit(replaced, strict ? depth : depth + 1);
    } else if (Array.isArray(object)) {
      const copy: unknown[] | undefined = strict ? [] : undefined;
      // By index, not forEach (which skips holes).
      for (let index = 0; index < object.length; index++) {
        keys.push(index);
        if (index in object) {
          // (A function or symbol is refused by the visit, as anywhere else; so is, in loose
          // mode, a toJSON that returns undefined.)
          const element = visit(object[index], depth + 1);
          if (element === undefined) fail('is undefined, which JSON would turn into null');
          if (copy) copy[index] = element;
        } else fail('is a hole (an empty slot), which JSON would turn into null');
        keys.pop();
      }
      result = copy ?? object;
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
      const copy: Array<[string, unknown]> | undefined = strict ? [] : undefined;
      for (const name of Object.keys(object)) {
        keys.push(name);
        if (strict && hasLoneSurrogate(name)) fail('has a key with a lone UTF-16 surrogate');
        const child = visit((object as Record<string, unknown>)[name], depth + 1);
        copy?.push([name, child]);
        keys.pop();
      }
      // Object.fromEntries defines its properties, so that a "__proto__" key stays data.
      result = copy ? Object.fromEntries(copy) : object;
    }
    ancestors.delete(object);
    return result;
  };
  return visit(value, 0);
}

/** True when `text` has a UTF-16 surrogate without its pair (not representable in UTF-8). @internal */
export function hasLoneSurrogate(text: string): boolean {
  // isWellFormed (Chromium 111, Firefox 119, Safari 16.4, Node 20) is native; the pattern is the fallback.
  const wellFormed = text as { isWellFormed?: () => boolean };
  return wellFormed.isWellFormed
    ? !wellFormed.isWellFormed()
    : /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}
