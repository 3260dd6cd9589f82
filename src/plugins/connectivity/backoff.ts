/** The two durations that shape the probe backoff. */
export interface ProbeBackoff {
  /** The ceiling of the first delay. */
  readonly intervalMs: number;
  /** The largest ceiling, reached after a few doublings. */
  readonly maxIntervalMs: number;
}

/**
 * The delay before probe number `attempt + 1` while offline: exponential backoff with full
 * jitter. The ceiling is `intervalMs * 2^attempt`, capped at `maxIntervalMs`; the delay is
 * uniform in `[ceiling / 10, ceiling]`, rounded to whole milliseconds and never below 1 ms, so
 * devices that lost the network together do not probe together, and a probe that fails
 * instantly (connection refused) cannot spin.
 *
 * Pure: the same inputs give the same delay.
 *
 * @param attempt - failed probes so far, minus one (0 for the first delay).
 * @param random - a function returning a number in [0, 1). @default Math.random (by the caller)
 * @example
 * computeProbeDelay(3, { intervalMs: 2000, maxIntervalMs: 60000 }, () => 1); // 16000
 */
export function computeProbeDelay(attempt: number, backoff: ProbeBackoff, random: () => number): number {
  const exponent = Math.max(0, Math.min(Math.floor(attempt), 52));
  const ceiling = Math.min(backoff.maxIntervalMs, backoff.intervalMs * 2 ** exponent);
  const floor = ceiling / 10;
  const unit = Math.min(1, Math.max(0, random()));
  return Math.max(1, Math.round(floor + (ceiling - floor) * (Number.isFinite(unit) ? unit : 1)));
}
