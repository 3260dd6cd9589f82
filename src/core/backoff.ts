/**
 * The one backoff of Fluxy, shared by the connectivity probe and the sync flush: exponential, with
 * jitter. After `failures` failures in a row the window is `baseMs · 2^(failures − 1)`, capped at
 * `maxMs`; the delay is drawn uniformly from `[window / 10, window]`, rounded to whole
 * milliseconds and never below 1 ms — so clients that failed together do not retry together, and
 * an attempt that fails instantly (connection refused) cannot spin.
 *
 * Pure: the same inputs give the same delay.
 *
 * @param failures - failures in a row so far (1 for the first).
 * @param random - a function returning a number in [0, 1) (Math.random, injected by the caller).
 * @example backoffDelay(4, 2000, 60_000, () => 1); // 16000
 * @internal
 */
export function backoffDelay(failures: number, baseMs: number, maxMs: number, random: () => number): number {
  const exponent = Math.max(0, Math.min(Math.floor(failures) - 1, 52));
  const window = Math.min(maxMs, baseMs * 2 ** exponent);
  const floor = window / 10;
  const unit = Math.min(1, Math.max(0, random()));
  return Math.max(1, Math.round(floor + (window - floor) * (Number.isFinite(unit) ? unit : 1)));
}
