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
 * The delay a `Retry-After` header asks for, in ms: delta-seconds (`"120"`) or an HTTP date in any
 * of the three forms RFC 9110 §5.6.7 says recipients must accept — IMF-fixdate
 * (`Sun, 06 Nov 1994 08:49:37 GMT`), the obsolete RFC 850 form (`Sunday, 06-Nov-94 08:49:37 GMT`,
 * a two-digit year read as the nearest year that is at most 50 years ahead) and asctime
 * (`Sun Nov  6 08:49:37 1994`), all in GMT. Returns undefined for a missing or invalid value
 * (negative, fractional, another time zone, an impossible date, anything else), and clamps to
 * `[0, maxMs]` (a date in the past means "now").
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
  const at = parseHttpDate(text, now);
  if (at === undefined) return undefined;
  return Math.min(Math.max(0, at - now), maxMs);
}

const monthNames = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const dayNames = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const longDayNames = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
const imfFixdate = /^([A-Za-z]{3}), (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const rfc850Date = /^([A-Za-z]{6,9}), (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const asctimeDate = /^([A-Za-z]{3}) ([A-Za-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

/** An HTTP date (RFC 9110 §5.6.7, any of its three forms) as ms since the epoch, or undefined. */
function parseHttpDate(text: string, now: number): number | undefined {
  let match = imfFixdate.exec(text);
  if (match) {
    const [, day = '', date = '', month = '', year = '', hour = '', minute = '', second = ''] = match;
    if (!dayNames.includes(day.toLowerCase())) return undefined;
    return utc(Number(year), month, Number(date), Number(hour), Number(minute), Number(second));
  }
  match = rfc850Date.exec(text);
  if (match) {
    const [, day = '', date = '', month = '', year = '', hour = '', minute = '', second = ''] = match;
    if (!longDayNames.includes(day.toLowerCase())) return undefined;
    // RFC 9110: a two-digit year that looks more than 50 years ahead is in the past century.
    const thisYear = new Date(now).getUTCFullYear();
    let fullYear = thisYear - (thisYear % 100) + Number(year);
    if (fullYear > thisYear + 50) fullYear -= 100;
    else if (fullYear <= thisYear - 50) fullYear += 100;
    return utc(fullYear, month, Number(date), Number(hour), Number(minute), Number(second));
  }
  match = asctimeDate.exec(text);
  if (match) {
    const [, day = '', month = '', date = '', hour = '', minute = '', second = '', year = ''] = match;
    if (!dayNames.includes(day.toLowerCase())) return undefined;
    // One-digit days are padded with a space ("Nov  6"), never written "Nov 6" or " 6".
    if (!/^( [1-9]|[0-3]\d)$/.test(date)) return undefined;
    return utc(Number(year), month, Number(date.trim()), Number(hour), Number(minute), Number(second));
  }
  return undefined;
}

/** The instant of a calendar date and time in UTC, or undefined if no such date exists. */
function utc(
  year: number,
  monthName: string,
  date: number,
  hour: number,
  minute: number,
  second: number,
): number | undefined {
  const month = monthNames.indexOf(monthName.toLowerCase());
  // Seconds up to 60: RFC 9110 allows a leap second.
  if (month < 0 || hour > 23 || minute > 59 || second > 60 || date < 1) return undefined;
  const instant = new Date(0);
  instant.setUTCFullYear(year, month, date);
  if (instant.getUTCMonth() !== month || instant.getUTCDate() !== date) return undefined; // 31 Feb
  instant.setUTCHours(hour, minute, second, 0);
  return instant.getTime();
}
