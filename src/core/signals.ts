// One import statement (a bundle keeps one per statement): the re-exports and `flux` share it.

import { invalidArgument } from './errors.js';
import { batch as b, computed as c, effect as e, signal, untracked as u } from './signals-core.js';

export type { ReadonlySignal, Signal } from '@preact/signals-core';
export { signal };

/** `run`, refusing a first argument that is not a function with a FluxyError `invalid-argument`. */
const checked =
  (run: (fn: never, options: never) => unknown) =>
  // (One optional second argument: computed's and effect's options.)
  (fn: unknown, options: unknown): unknown => {
    if (typeof fn !== 'function')
      throw invalidArgument(
        'computed(), effect(), batch() and untracked() take a function: pass one, e.g. effect(() => console.log(count.value)).',
      );
    return run(fn as never, options as never);
  };

/** `computed()` from `@preact/signals-core`: a signal derived from others. */
export const computed = /* @__PURE__ */ checked(c) as typeof c;
/** `effect()` from `@preact/signals-core`: runs now and again when a signal it read changes. */
export const effect = /* @__PURE__ */ checked(e) as typeof e;
/** `batch()` from `@preact/signals-core`: writes inside notify once, at the end. */
export const batch = /* @__PURE__ */ checked(b) as typeof b;
/** `untracked()` from `@preact/signals-core`: reads inside subscribe to nothing. */
export const untracked = /* @__PURE__ */ checked(u) as typeof u;

/**
 * Create a writable signal: Fluxy's name for `signal()` from `@preact/signals-core`.
 *
 * @example
 * const count = flux(0);
 * effect(() => console.log(count.value));
 * count.value++;
 */
export const flux: typeof signal = signal;
