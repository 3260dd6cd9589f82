import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { computeProbeDelay } from '../../src/plugins/connectivity/backoff.js';

const backoff = { intervalMs: 2000, maxIntervalMs: 60_000 };

describe('computeProbeDelay', () => {
  it.each([
    [0, 1, 2000],
    [1, 1, 4000],
    [2, 1, 8000],
    [4, 1, 32_000],
    [5, 1, 60_000],
    [50, 1, 60_000],
    [5000, 1, 60_000],
    [0, 0, 200],
    [3, 0, 1600],
    [0, 0.5, 1100],
    [-3, 1, 2000],
    [0, Number.NaN, 2000],
  ])('attempt %d, random %d → %d ms', (attempt, random, expected) => {
    expect(computeProbeDelay(attempt, backoff, () => random)).toBe(expected);
  });

  it('stays within [ceiling / 10, ceiling] and never above maxIntervalMs', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 100 }),
        (attempt, random, intervalMs, factor) => {
          const options = { intervalMs, maxIntervalMs: intervalMs * factor };
          const ceiling = Math.min(options.maxIntervalMs, intervalMs * 2 ** attempt);
          const delay = computeProbeDelay(attempt, options, () => random);
          expect(delay).toBeGreaterThanOrEqual(Math.floor(ceiling / 10));
          expect(delay).toBeLessThanOrEqual(options.maxIntervalMs);
          expect(delay).toBeLessThanOrEqual(Math.ceil(ceiling));
        },
      ),
    );
  });

  it.each([
    [{ intervalMs: 0.001, maxIntervalMs: 0.001 }, 0],
    [{ intervalMs: 0.001, maxIntervalMs: 0.001 }, 1],
    [{ intervalMs: 1, maxIntervalMs: 1 }, 0],
    [{ intervalMs: 0.4, maxIntervalMs: 3 }, 0],
  ])('never returns less than 1 ms (%j, random %d)', (options, random) => {
    for (const attempt of [0, 1, 2, 10]) {
      expect(computeProbeDelay(attempt, options, () => random)).toBeGreaterThanOrEqual(1);
    }
  });

  it('has a ceiling that never shrinks as attempts grow', () => {
    const ceilings = Array.from({ length: 12 }, (_, attempt) => computeProbeDelay(attempt, backoff, () => 1));
    expect(ceilings).toStrictEqual([...ceilings].sort((a, b) => a - b));
    expect(ceilings[0]).toBe(2000);
    expect(ceilings.at(-1)).toBe(60_000);
  });
});
