import { useCallback, useEffect, useReducer, useRef, useSyncExternalStore } from 'react';
import { invalidArgument } from '../../core/errors.js';
import type { ReadonlySignal } from '../../core/signals.js';

/**
 * The current value of `signal`; the component re-renders when it changes, and only then.
 * Built on React's `useSyncExternalStore`, so it is tear-free in concurrent rendering and works
 * in server rendering (the server snapshot is the signal's value at render time).
 *
 * Reading the value does not subscribe any surrounding effect (it uses `peek()`).
 *
 * @example
 * function PendingBadge() {
 *   const pending = useSignalValue(sync.pendingCount);
 *   return pending > 0 ? <span>{pending} to sync</span> : null;
 * }
 */
export function useSignalValue<T>(signal: ReadonlySignal<T>): T {
  if (signal === null || typeof signal !== 'object' || typeof signal.subscribe !== 'function') {
    throw invalidArgument(
      typeof signal === 'function'
        ? 'useSignalValue(signal): pass a signal, not a function: derive the value as a signal (computed(() => …), or this.derive() in a controller) and pass that.'
        : 'useSignalValue(signal): pass a signal, e.g. useSignalValue(controller.count).',
    );
  }
  const subscribe = useCallback(
    (onStoreChange: () => void) => {
      // signal.subscribe calls back at once with the current value; React already read it via
      // getSnapshot (and re-checks it after subscribing), so only later calls are changes.
      let initial = true;
      const unsubscribe = signal.subscribe(() => {
        if (initial) return;
        onStoreChange();
      });
      initial = false;
      return unsubscribe;
    },
    [signal],
  );
  const getSnapshot = useCallback(() => signal.peek(), [signal]);
  return useSyncExternalStore(subscribe, getSnapshot, getSnapshot);
}

/**
 * A controller (or any object with `dispose()`) created once for this component and disposed
 * when it unmounts.
 *
 * `factory` runs on mount only; later renders ignore it, so to start over with a new controller
 * when an input changes, give the component a `key`. Under `<StrictMode>`, where React mounts,
 * unmounts and mounts again in development, the disposed first instance is replaced by a fresh
 * one from `factory` and the component re-renders with it, so the mounted component always holds
 * a live controller and every instance is disposed.
 *
 * A render that React discards before committing it (a suspended first render, React 18's
 * StrictMode double render) creates an instance that no effect will dispose; a {@link Controller}
 * is still released with its app. So does every server render (effects never run there): on a
 * server, give each request its own app and dispose it after rendering.
 *
 * @example
 * function Notes() {
 *   const notes = useController(() => new NotesController(app));
 *   const count = useSignalValue(notes.count);
 *   return <p>{count} notes</p>;
 * }
 */
export function useController<C extends { dispose(): void }>(factory: () => C): C {
  if (typeof factory !== 'function') {
    throw invalidArgument('useController(factory): pass a function that creates the controller.');
  }
  const current = useRef<{ controller: C; disposed: boolean } | null>(null);
  // Created during render (the lazy-ref pattern) so the first render already has it.
  current.current ??= { controller: create(factory), disposed: false };
  const [, rerender] = useReducer((count: number) => count + 1, 0);
  // Only the factory of the mount matters (documented above); later factories are ignored.
  // biome-ignore lint/correctness/useExhaustiveDependencies: mount/unmount only, by design
  useEffect(() => {
    let held = current.current!;
    if (held.disposed) {
      // StrictMode's simulated remount: the instance the first mount disposed cannot be revived.
      held = { controller: create(factory), disposed: false };
      current.current = held;
      rerender();
    }
    const mounted = held;
    return () => {
      mounted.disposed = true;
      mounted.controller.dispose();
    };
  }, []);
  return current.current.controller;
}

function create<C extends { dispose(): void }>(factory: () => C): C {
  const controller = factory();
  if (controller === null || typeof controller !== 'object' || typeof controller.dispose !== 'function') {
    throw invalidArgument('useController(factory): factory must return an object with a dispose() method.');
  }
  return controller;
}
