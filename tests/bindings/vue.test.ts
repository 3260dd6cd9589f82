// @vitest-environment happy-dom

import { describe, expect, it } from 'vitest';
import { createApp as createVueApp, effectScope, h, nextTick, watch } from 'vue';
import { useSignal } from '../../src/bindings/vue/index.js';
import { isFluxyError, signal } from '../../src/index.js';

/** A signal that counts its subscribers (signals-core's watched/unwatched options). */
function counted<T>(value: T) {
  const stats = { watching: 0 };
  const source = signal(value, {
    watched: () => {
      stats.watching++;
    },
    unwatched: () => {
      stats.watching--;
    },
  });
  return { source, stats };
}

describe('useSignal (real vue)', () => {
  it('a component shows the signal and re-renders when it changes; unmounting unsubscribes', async () => {
    const { source, stats } = counted(1);
    const host = document.createElement('div');
    const app = createVueApp({
      setup() {
        // biome-ignore lint/correctness/useHookAtTopLevel: a Vue composable (not a React hook), in setup()
        const count = useSignal(source);
        return () => h('p', `${count.value} pending`);
      },
    });
    app.mount(host);
    expect(host.textContent).toBe('1 pending');
    expect(stats.watching).toBe(1);
    source.value = 2;
    await nextTick();
    expect(host.textContent).toBe('2 pending');
    app.unmount();
    expect(stats.watching).toBe(0);
  });

  it('is a readonly Ref that watch() follows, disposed with its effect scope', async () => {
    const { source, stats } = counted('a');
    const scope = effectScope();
    const seen: string[] = [];
    const ref = scope.run(() => {
      const value = useSignal(source);
      watch(value, (next) => seen.push(next));
      return value;
    })!;
    source.value = 'b';
    await nextTick();
    expect([ref.value, seen]).toStrictEqual(['b', ['b']]);
    scope.stop();
    expect(stats.watching).toBe(0);
    source.value = 'c';
    await nextTick();
    expect(seen).toStrictEqual(['b']);
  });

  it('refuses a non-signal, and a call outside any effect scope (it could never unsubscribe)', () => {
    const errors: unknown[] = [];
    for (const call of [() => useSignal(42 as never), () => useSignal(signal(1))]) {
      try {
        call();
      } catch (error) {
        errors.push(error);
      }
    }
    expect(errors.map((error) => isFluxyError(error, 'invalid-argument'))).toStrictEqual([true, true]);
  });

  it('refuses a function, saying to derive a signal instead', () => {
    const scope = effectScope();
    let thrown: unknown;
    try {
      scope.run(() => useSignal((() => 1) as never));
    } catch (error) {
      thrown = error;
    }
    scope.stop();
    expect(isFluxyError(thrown, 'invalid-argument')).toBe(true);
    expect((thrown as Error).message).toContain('not a function: derive the value as a signal (computed(');
  });
});
