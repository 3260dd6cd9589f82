// One import statement (a bundle keeps one per statement): the re-exports and `flux` share it.
import { batch, computed, effect, signal, untracked } from '@preact/signals-core';

export type { ReadonlySignal, Signal } from '@preact/signals-core';
export { batch, computed, effect, signal, untracked };

/**
 * Create a writable signal: Fluxy's name for `signal()` from `@preact/signals-core`.
 *
 * @example
 * const count = flux(0);
 * effect(() => console.log(count.value));
 * count.value++;
 */
export const flux: typeof signal = signal;
