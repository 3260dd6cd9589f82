import {
  getCurrentInstance,
  getCurrentScope,
  onBeforeMount,
  onScopeDispose,
  type Ref,
  shallowReadonly,
  shallowRef,
} from 'vue';
import { invalidArgument } from '../../core/errors.js';
import type { ReadonlySignal } from '../../core/signals.js';

/**
 * A read-only Vue `Ref` that follows `signal`: templates, `computed` and `watch` update when
 * the signal changes, and only then. The subscription belongs to the current effect scope — a
 * component's `setup()` or an `effectScope()` — and ends when that scope is disposed (the
 * component unmounts), so call it there, as you would `watch`. In a component it subscribes when
 * the component mounts (its value is the signal's at setup until then): a server render
 * (`renderToString`) mounts nothing, so it subscribes to nothing and leaves nothing behind.
 *
 * The value is the signal's value itself (not made deeply reactive): replace data, never mutate
 * it, as with signals.
 *
 * @example
 * // <script setup lang="ts">
 * const pending = useSignal(sync.pendingCount);
 * const online = useSignal(connectivity.isOnline);
 * // </script>
 * // <template><p v-if="pending > 0">{{ pending }} waiting{{ online ? '' : ' (offline)' }}</p></template>
 */
export function useSignal<T>(signal: ReadonlySignal<T>): Readonly<Ref<T>> {
  const notSignal = signal === null || typeof signal !== 'object' || typeof signal.subscribe !== 'function';
  if (notSignal || !getCurrentScope())
    throw invalidArgument(
      notSignal
        ? typeof signal === 'function'
          ? 'useSignal(signal): pass a signal, not a function: derive the value as a signal (computed(() => …) from fluxy, or this.derive() in a controller) and pass that.'
          : 'useSignal(signal): pass a signal, e.g. useSignal(sync.pendingCount).'
        : "useSignal(signal) needs a Vue effect scope to end its subscription: call it in a component's setup() (or <script setup>), or inside effectScope().run().",
    );
  const state = shallowRef(signal.peek());
  // Ends with the scope: the component's (its hooks run in it) or the effectScope() given.
  const start = (): void =>
    onScopeDispose(
      signal.subscribe((value) => {
        state.value = value;
      }),
    );
  // In a component, from its mounting on: a server render mounts nothing and disposes no scope,
  // so a subscription made in setup() would outlive every request. Elsewhere (effectScope()), now.
  if (getCurrentInstance()) onBeforeMount(start);
  else start();
  return shallowReadonly(state);
}
