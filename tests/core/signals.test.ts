import { describe, expect, it } from 'vitest';
import * as fluxy from '../../src/index.js';
import { batch, computed, effect, flux, isFluxyError, signal, untracked } from '../../src/index.js';

describe('signals', () => {
  it('flux is signal from @preact/signals-core; computed, effect, batch and untracked are its own, with their input checked', async () => {
    const preact = await import('@preact/signals-core');
    expect(flux).toBe(preact.signal);
    expect(signal).toBe(preact.signal);
    const count = flux(1);
    let watched = 0; // computed's options are passed on
    const double = computed(() => count.value * 2, { watched: () => void watched++ });
    expect(double).toBeInstanceOf(preact.Signal);
    const seen: number[] = [];
    const stop = effect(() => void seen.push(double.value));
    expect([typeof stop, watched]).toStrictEqual(['function', 1]);
    const batched = batch(() => {
      count.value = 2;
      return 'batched';
    });
    expect(batched).toBe('batched');
    expect(untracked(() => double.value)).toBe(4);
    stop();
    expect(seen).toStrictEqual([2, 4]);
  });

  it('computed(), effect(), batch() and untracked() given no function throw invalid-argument saying what to pass, and run nothing', () => {
    const calls = [
      ['computed', () => computed(5 as never)],
      ['effect', () => effect(5 as never)],
      ['batch', () => batch(undefined as never)],
      ['untracked', () => untracked('x' as never)],
      ['effect(null)', () => effect(null as never)],
      ['computed({})', () => computed({} as never)],
    ] as const;
    for (const [name, call] of calls) {
      let thrown: unknown;
      try {
        call();
      } catch (error) {
        thrown = error;
      }
      expect(isFluxyError(thrown, 'invalid-argument'), name).toBe(true);
      expect((thrown as Error).message, name).toMatch(/take a function: pass one, e\.g\. effect\(\(\) =>/);
    }
  });

  it('flux, computed and effect react to changes; the effect stops when disposed', () => {
    const count = flux(1);
    const double = computed(() => count.value * 2);
    const seen: number[] = [];
    const stop = effect(() => {
      seen.push(double.value);
    });
    count.value = 2;
    count.value = 3;
    stop();
    count.value = 4;
    expect(seen).toStrictEqual([2, 4, 6]);
    expect(double.value).toBe(8);
  });

  it('batch() groups writes into one effect run', () => {
    const a = flux(0);
    const b = flux(0);
    const seen: string[] = [];
    const stop = effect(() => {
      seen.push(`${a.value}+${b.value}`);
    });
    batch(() => {
      a.value = 1;
      b.value = 2;
    });
    stop();
    expect(seen).toStrictEqual(['0+0', '1+2']);
  });

  it('untracked() reads without subscribing', () => {
    const tracked = flux(0);
    const ignored = flux(0);
    let runs = 0;
    const stop = effect(() => {
      tracked.value;
      untracked(() => ignored.value);
      runs++;
    });
    ignored.value = 1;
    expect(runs).toBe(1);
    tracked.value = 1;
    expect(runs).toBe(2);
    stop();
  });

  it('the entry exports every documented name', () => {
    for (const name of [
      'createApp',
      'App',
      'register',
      'use',
      'ready',
      'dispose',
      'getDefaultApp',
      'FluxyPlugin',
      'FluxyError',
      'isFluxyError',
      'EventBus',
      'consoleLogger',
      'flux',
      'signal',
      'computed',
      'effect',
      'batch',
      'untracked',
    ]) {
      expect(fluxy, name).toHaveProperty(name);
      expect(typeof (fluxy as Record<string, unknown>)[name], name).toBe('function');
    }
  });
});
