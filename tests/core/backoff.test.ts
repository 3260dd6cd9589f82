import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src/core/backoff.js';

// The one backoff of the connectivity probe and the sync flush (issue 15).
describe('backoffDelay', () => {
  it.each([
    // The connectivity probe's defaults: 2 s, doubling, capped at 60 s.
    [1, 1, 2000, 60_000, 2000],
    [2, 1, 2000, 60_000, 4000],
    [3, 1, 2000, 60_000, 8000],
    [5, 1, 2000, 60_000, 32_000],
    [6, 1, 2000, 60_000, 60_000],
    [51, 1, 2000, 60_000, 60_000],
    [5001, 1, 2000, 60_000, 60_000],
    [1, 0, 2000, 60_000, 200],
    [4, 0, 2000, 60_000, 1600],
    [1, 0.5, 2000, 60_000, 1100],
    [-2, 1, 2000, 60_000, 2000],
    [1, Number.NaN, 2000, 60_000, 2000],
    // A sync retry window of 100 ms to 1 s.
    [1, 0.5, 100, 1000, 55],
    [2, 0.5, 100, 1000, 110],
    [3, 0.5, 100, 1000, 220],
    [4, 0.999, 100, 1000, 799],
    [5, 0.5, 100, 1000, 550],
    [30, 0.5, 100, 1000, 550],
    [1000, 0.999, 100, 1000, 999],
    [1, 0, 100, 1000, 10],
  ])('failure %d, random %d, window %d…%d ms → %d ms', (failures, random, baseMs, maxMs, expected) => {
    expect(backoffDelay(failures, baseMs, maxMs, () => random)).toBe(expected);
  });

  it('stays within [window / 10, window] and never above maxMs', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 100 }),
        (failures, random, baseMs, factor) => {
          const maxMs = baseMs * factor;
          const window = Math.min(maxMs, baseMs * 2 ** (failures - 1));
          const delay = backoffDelay(failures, baseMs, maxMs, () => random);
          expect(delay).toBeGreaterThanOrEqual(Math.floor(window / 10));
          expect(delay).toBeLessThanOrEqual(maxMs);
          expect(delay).toBeLessThanOrEqual(Math.ceil(window));
        },
      ),
    );
  });

  it.each([
    [0.001, 0.001, 0],
    [0.001, 0.001, 1],
    [1, 1, 0],
    [0.4, 3, 0],
  ])('never returns less than 1 ms (window %d…%d ms, random %d)', (baseMs, maxMs, random) => {
    for (const failures of [1, 2, 3, 11]) {
      expect(backoffDelay(failures, baseMs, maxMs, () => random)).toBeGreaterThanOrEqual(1);
    }
  });

  it('has a window that never shrinks as failures grow', () => {
    const windows = Array.from({ length: 12 }, (_, index) => backoffDelay(index + 1, 2000, 60_000, () => 1));
    expect(windows).toStrictEqual([...windows].sort((a, b) => a - b));
    expect(windows[0]).toBe(2000);
    expect(windows.at(-1)).toBe(60_000);
  });
});
