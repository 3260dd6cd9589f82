/** Retry timing options (all in milliseconds except `maxAttempts`). */
export interface RetryOptions {
  /**
   * How many times the server may answer with a retryable error (408, 409, 425, 429, 5xx) before
   * the operation becomes failed. Network errors and timeouts do not count: the server never
   * answered, so the operation is retried (with backoff) until it gets an answer.
   * @default 8
   */
  maxAttempts?: number;
  /** The first backoff window. @default 1000 */
  baseDelayMs?: number;
  /** The largest backoff window. @default 60000 */
  maxDelayMs?: number;
  /** The longest `Retry-After` honoured; longer values are clamped to it. @default 3600000 (1 hour) */
  maxRetryAfterMs?: number;
}

/** {@link RetryOptions} with every default filled in. */
export type ResolvedRetryOptions = Required<RetryOptions>;

/** The defaults of {@link RetryOptions}. */
export const defaultRetryOptions: ResolvedRetryOptions = Object.freeze({
  maxAttempts: 8,
  baseDelayMs: 1000,
  maxDelayMs: 60_000,
  maxRetryAfterMs: 3_600_000,
});

/**
 * Full-jitter exponential backoff: a uniformly random delay in
 * `[0, min(maxDelayMs, baseDelayMs · 2^(attempt-1))]`, never below 1 ms.
 *
 * @param attempt - how many attempts failed so far (1 for the first failure).
 * @param random - a function returning a number in [0, 1).
 */
export function computeDelay(attempt: number, options: ResolvedRetryOptions, random: () => number): number {
  const exponent = Math.max(0, Math.min(attempt - 1, 30));
  const window = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** exponent);
  return Math.max(1, Math.floor(random() * window));
}

/**
 * The delay a `Retry-After` header asks for, in ms: delta-seconds (`"120"`) or an HTTP date.
 * Returns undefined for a missing or invalid value (negative, fractional, unparsable), and clamps
 * to `[0, maxMs]`.
 */
export function parseRetryAfter(
  value: string | null | undefined,
  now: number,
  maxMs: number,
): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+$/.test(text)) return Math.min(Number(text) * 1000, maxMs);
  if (/^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(text)) {
    const at = Date.parse(text);
    if (Number.isNaN(at)) return undefined;
    return Math.min(Math.max(0, at - now), maxMs);
  }
  return undefined;
}
