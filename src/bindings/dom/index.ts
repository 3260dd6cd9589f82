import { invalidArgument } from '../../core/errors.js';
import type { Unsubscribe } from '../../core/events.js';
import { describeInput } from '../../core/input-checks.js';
import { effect, type ReadonlySignal } from '../../core/signals.js';

/**
 * What a binding follows: a signal, or a function reading signals (re-run when they change).
 *
 * @example bindText(badge, () => `${sync.pendingCount.value} pending`);
 */
export type SignalSource<T> = ReadonlySignal<T> | (() => T);

/** A value `bindAttr` can write: `null`, `undefined` and `false` remove the attribute, `true` sets it empty. */
export type AttributeValue = string | number | boolean | null | undefined;

/**
 * Keep `node.textContent` equal to the source's value (`null`/`undefined` show as empty text).
 * Text is never parsed as HTML.
 *
 * @returns a function that stops updating the node. Safe to call more than once.
 * @example const stop = bindText(counter, notes.count);
 */
export function bindText(node: Node, source: SignalSource<unknown>): Unsubscribe {
  if (!isNode(node))
    throw invalidArgument(`bindText(node, source): node must be a DOM node${notFound(node)}.`);
  const read = reader('bindText', source);
  return bind(() => {
    const value = read();
    const text = value === null || value === undefined ? '' : String(value);
    if (node.textContent !== text) node.textContent = text;
  });
}

/**
 * Add `className` to the element while the source is truthy, remove it while it is falsy.
 *
 * @returns a function that stops updating the element (the class stays as it last was).
 * @example bindClass(banner, 'offline', () => !connectivity.isOnline.value);
 */
export function bindClass(element: Element, className: string, source: SignalSource<unknown>): Unsubscribe {
  if (!isElement(element))
    throw invalidArgument(
      `bindClass(element, className, source): element must be a DOM element${notFound(element)}.`,
    );
  if (typeof className !== 'string' || className === '' || /\s/.test(className)) {
    throw invalidArgument(
      'bindClass(element, className, source): className must be one class name, without spaces.',
    );
  }
  const read = reader('bindClass', source);
  return bind(() => {
    element.classList.toggle(className, Boolean(read()));
  });
}

/**
 * Keep attribute `name` equal to the source's value: `null`, `undefined` and `false` remove it,
 * `true` sets it to `""` (for boolean attributes such as `disabled`), anything else is written as
 * a string. Throws `invalid-argument` for a name that is no attribute name, and for an event
 * handler attribute (`onclick`…), whose text the browser would run as script.
 *
 * @returns a function that stops updating the element (the attribute stays as it last was).
 * @example bindAttr(saveButton, 'disabled', () => sync.isSyncing.value);
 */
export function bindAttr(element: Element, name: string, source: SignalSource<AttributeValue>): Unsubscribe {
  if (!isElement(element))
    throw invalidArgument(
      `bindAttr(element, name, source): element must be a DOM element${notFound(element)}.`,
    );
  // An attribute name setAttribute() takes (an XML name: the DOM threw InvalidCharacterError at the
  // first write, with no code), and no event handler: a signal's text must never become script.
  if (typeof name !== 'string' || !/^[A-Za-z_:\u00C0-\uFFFF][\w.:\u00B7\u00C0-\uFFFF-]*$/.test(name)) {
    throw invalidArgument(
      `bindAttr(element, name, source): name must be an attribute name such as 'disabled' or 'data-state' (got ${describeInput(name)}).`,
    );
  }
  if (/^on/i.test(name)) {
    throw invalidArgument(
      `bindAttr(element, name, source): ${name} is an event handler attribute, which would run its text as script: use element.addEventListener() instead.`,
    );
  }
  const read = reader('bindAttr', source);
  return bind(() => {
    const value = read();
    if (value === null || value === undefined || value === false) {
      element.removeAttribute(name);
    } else {
      const text = value === true ? '' : String(value);
      if (element.getAttribute(name) !== text) element.setAttribute(name, text);
    }
  });
}

/**
 * Combine disposers (of bindings, effects, subscriptions) into one that calls each once, most
 * recent first.
 *
 * @example
 * const unbind = bindAll(bindText(title, note.title), bindClass(row, 'done', note.done));
 * unbind(); // stops both
 */
export function bindAll(...disposers: Unsubscribe[]): Unsubscribe {
  if (disposers.some((dispose) => typeof dispose !== 'function')) {
    throw invalidArgument(
      'bindAll(...disposers): every disposer must be a function, e.g. the result of bindText().',
    );
  }
  let done = false;
  return () => {
    if (done) return;
    done = true;
    const errors: unknown[] = [];
    for (const dispose of [...disposers].reverse()) {
      try {
        dispose();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, 'several disposers of bindAll() threw');
  };
}

/**
 * A store in the shape Svelte (and nanostores-style consumers) expect: `subscribe(run)` calls
 * `run` at once with the current value, then on every change, and returns the unsubscribe
 * function.
 *
 * @example
 * // Notes.svelte
 * const count = toStore(notes.count);
 * // <p>{$count} notes</p>
 */
export function toStore<T>(signal: ReadonlySignal<T>): Readable<T> {
  if (signal === null || typeof signal !== 'object' || typeof signal.subscribe !== 'function') {
    throw invalidArgument(
      typeof signal === 'function'
        ? 'toStore(signal): pass a signal, not a function: toStore(computed(() => …)) for a derived value.'
        : 'toStore(signal): pass a signal, e.g. toStore(controller.count).',
    );
  }
  return {
    subscribe(run) {
      if (typeof run !== 'function') throw invalidArgument('store.subscribe(run): run must be a function.');
      return signal.subscribe(run);
    },
  };
}

/** The read-only store contract returned by {@link toStore}. */
export interface Readable<T> {
  /** Call `run` now with the current value and after every change; returns the unsubscribe function. */
  subscribe(run: (value: T) => void): Unsubscribe;
}

/**
 * `effect(write)`, except that an error of a later run (the source or the write threw after the
 * signal changed) is reported, like an event listener's — `reportError`, or an uncaught error
 * on a later turn where there is none (Node) — instead of being thrown into the code that changed
 * the signal: for Sync's signals that is `queue()`, which would reject after storing the change.
 * The first run's error is thrown to the caller, as the binding is made.
 */
function bind(write: () => void): Unsubscribe {
  let first = true;
  return effect(() => {
    if (first) {
      first = false;
      write();
      return;
    }
    try {
      write();
    } catch (error) {
      report(error);
    }
  });
}

function report(error: unknown): void {
  if (typeof reportError === 'function') reportError(error);
  else
    setTimeout(() => {
      throw error;
    });
}

function reader<T>(binding: string, source: SignalSource<T>): () => T {
  if (typeof source === 'function') return source;
  if (source !== null && typeof source === 'object' && 'value' in source) return () => source.value;
  throw invalidArgument(`${binding}(): source must be a signal or a function reading signals.`);
}

/**
 * The end of a "must be a DOM node" message: for null or undefined, what usually gave it — a
 * selector that matched nothing, or a script that ran before the element was parsed.
 */
function notFound(value: unknown): string {
  return value === null || value === undefined
    ? ` (got ${value}: the element was not found — check the selector or id, and run this after the DOM is parsed, e.g. in a module script or on DOMContentLoaded)`
    : '';
}

// Duck-typed rather than `instanceof Node`, which would need a global DOM and fails across realms.
function isNode(value: unknown): value is Node {
  return value !== null && typeof value === 'object' && 'textContent' in value && 'nodeType' in value;
}

function isElement(value: unknown): value is Element {
  return isNode(value) && typeof (value as Element).setAttribute === 'function' && 'classList' in value;
}
