// @vitest-environment happy-dom
// The Solid and Preact snippets of docs/controllers-and-bindings.md, with the real libraries.
import { signal as preactSignalsCoreSignal } from '@preact/signals';
import { h, render } from 'preact';
import { act } from 'preact/test-utils';
import { createEffect, createRoot, from } from 'solid-js';
import { describe, expect, it } from 'vitest';
import { toStore } from '../../src/bindings/dom/index.js';
import { flux, type ReadonlySignal, signal } from '../../src/index.js';

function watchedSignal<T>(value: T) {
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

describe('Solid: from(toStore(signal))', () => {
  it('an accessor that follows the signal, unsubscribed when the root is disposed', () => {
    const { source, stats } = watchedSignal(1);
    const seen: number[] = [];
    const dispose = createRoot((disposeRoot) => {
      // --- snippet (as in the docs) ---
      const pending = from(toStore(source));
      createEffect(() => seen.push(pending() ?? 0));
      // --- end of snippet ---
      return disposeRoot;
    });
    source.value = 2;
    expect(seen).toStrictEqual([1, 2]);
    expect(stats.watching).toBe(1);
    dispose();
    expect(stats.watching).toBe(0);
  });
});

// --- snippet (as in the docs) ---
function Badge({ pending }: { pending: ReadonlySignal<number> }) {
  return h('p', null, `${pending.value} pending`); // re-renders when pending changes
}
// --- end of snippet ---

describe('Preact: @preact/signals renders Fluxy signals directly', () => {
  it('is the same signals library: a component reading .value re-renders when it changes', async () => {
    // Fluxy's signals are @preact/signals-core signals; @preact/signals shares that copy (deduped).
    expect(Object.getPrototypeOf(flux(0))).toBe(Object.getPrototypeOf(preactSignalsCoreSignal(0)));
    const { source, stats } = watchedSignal(1);
    const host = document.createElement('div');
    await act(() => render(h(Badge, { pending: source }), host));
    expect(host.textContent).toBe('1 pending');
    await act(() => {
      source.value = 2;
    });
    expect(host.textContent).toBe('2 pending');
    await act(() => render(null, host));
    expect(stats.watching).toBe(0);
  });
});
