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

// Audit 22b A12: Vue runs no unmount and disposes no component scope in a server render, so a
// subscription made in setup() outlived every request (50 renders: 50 live subscriptions).
describe('useSignal in a server render (vue/server-renderer)', () => {
  it('renders the value and leaves no subscription behind', async () => {
    const { createSSRApp, defineComponent } = await import('vue');
    const { renderToString } = await import('vue/server-renderer');
    const { source, stats } = counted(7);
    const Pending = defineComponent({
      setup() {
        // biome-ignore lint/correctness/useHookAtTopLevel: a Vue composable (not a React hook), in setup()
        const pending = useSignal(source);
        return () => h('p', `${pending.value} pending`);
      },
    });
    for (let render = 0; render < 20; render++) {
      expect(await renderToString(createSSRApp(Pending))).toBe('<p>7 pending</p>');
    }
    expect(stats.watching).toBe(0);
  });

  it('a component mounted in the browser subscribes from its mounting on, with the latest value', async () => {
    const { source, stats } = counted(1);
    const host = document.createElement('div');
    const app = createVueApp({
      setup() {
        // biome-ignore lint/correctness/useHookAtTopLevel: a Vue composable (not a React hook), in setup()
        const count = useSignal(source);
        expect(stats.watching).toBe(0); // not in setup(): at mounting
        source.value = 5; // a change between setup and mounting is not missed
        return () => h('p', `${count.value}`);
      },
    });
    app.mount(host);
    expect(stats.watching).toBe(1);
    await nextTick();
    expect(host.textContent).toBe('5');
    app.unmount();
    expect(stats.watching).toBe(0);
  });
});
