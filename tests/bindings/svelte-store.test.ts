import { derived, get } from 'svelte/store';
import { describe, expect, it } from 'vitest';
import { toStore } from '../../src/bindings/dom/index.js';
import { signal } from '../../src/index.js';

describe('toStore: the Svelte store contract, checked with the real svelte/store', () => {
  it('get() reads it and derived() follows it; the last unsubscribe ends the signal subscription', () => {
    let watching = 0;
    const pending = signal(1, {
      watched: () => {
        watching++;
      },
      unwatched: () => {
        watching--;
      },
    });
    const store = toStore(pending);
    expect(get(store)).toBe(1);
    expect(watching).toBe(0); // get() subscribed and unsubscribed
    const label = derived(store, (count) => `${count} pending`);
    const seen: string[] = [];
    const stop = label.subscribe((text) => seen.push(text));
    pending.value = 2;
    expect(seen).toStrictEqual(['1 pending', '2 pending']);
    expect(watching).toBe(1);
    stop();
    expect(watching).toBe(0);
  });
});
