// @ts-check
/**
 * Fault injection, scripted over HTTP (`POST /api/_faults`) so an end-to-end test, even one
 * running in a browser, can make the server misbehave exactly when it wants to.
 *
 * Faults form a queue; each mutating request to the app's API takes the next one. The control
 * endpoints (`/api/_…`) never take a fault, so a test can always reset and inspect.
 */

/**
 * - `'ok'`: handle normally (a placeholder to skip one request).
 * - `'drop-before'`: destroy the connection before applying anything.
 * - `'drop-after'`: apply and persist, then destroy the connection without answering: the
 *   client cannot know that its write succeeded.
 * - `{ status, retryAfter? }`: answer with that status (and `Retry-After`) without applying.
 * - `{ delayMs }`: wait, then handle normally (the key is already claimed while waiting).
 * @typedef {'ok' | 'drop-before' | 'drop-after' | { status: number, retryAfter?: string } | { delayMs: number }} Fault
 */

const MUTATING_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const MAX_DELAY_MS = 60_000;

/**
 * Whether a request takes the next fault: a mutating request to the API, or a GET of a
 * collection's changes feed (`?since=`), not a control endpoint.
 * @param {string} method
 * @param {string} pathname
 * @param {boolean} [isChangesFeed] the request has a `since` parameter
 */
export function takesFault(method, pathname, isChangesFeed = false) {
  const api = pathname.startsWith('/api/') && !pathname.startsWith('/api/_');
  return api && (MUTATING_METHODS.has(method) || (method === 'GET' && isChangesFeed));
}

/**
 * Checks a fault list sent by a client.
 * @param {unknown} value
 * @returns {Fault[]}
 * @throws {TypeError} with a message naming the first bad entry
 */
export function parseFaults(value) {
  if (!Array.isArray(value)) throw new TypeError('Send a JSON array of faults.');
  return value.map((fault, index) => {
    const problem = describeProblem(fault);
    if (problem) throw new TypeError(`Fault ${index}: ${problem}`);
    return /** @type {Fault} */ (fault);
  });
}

/** @param {unknown} fault @returns {string | null} */
function describeProblem(fault) {
  if (fault === 'ok' || fault === 'drop-before' || fault === 'drop-after') return null;
  if (typeof fault !== 'object' || fault === null || Array.isArray(fault)) {
    return `expected "ok", "drop-before", "drop-after", { status } or { delayMs }, got ${JSON.stringify(fault)}.`;
  }
  const keys = Object.keys(fault).sort().join(',');
  const record = /** @type {Record<string, unknown>} */ (fault);
  if (keys === 'delayMs') {
    const ms = record.delayMs;
    const ok = typeof ms === 'number' && Number.isInteger(ms) && ms >= 0 && ms <= MAX_DELAY_MS;
    return ok ? null : `delayMs must be an integer from 0 to ${MAX_DELAY_MS}.`;
  }
  if (keys === 'status' || keys === 'retryAfter,status') {
    const status = record.status;
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 400 || status > 599) {
      return 'status must be an integer from 400 to 599.';
    }
    if (
      record.retryAfter !== undefined &&
      (typeof record.retryAfter !== 'string' || /[\r\n]/.test(record.retryAfter))
    ) {
      return 'retryAfter must be a string (seconds or an HTTP date).';
    }
    return null;
  }
  return `unknown fault shape { ${keys} }.`;
}

/** The queue of pending faults. */
export class FaultQueue {
  /** @type {Fault[]} */
  #faults = [];

  /** @param {Fault[]} faults already checked with `parseFaults` */
  add(faults) {
    this.#faults.push(...faults);
  }

  /** @returns {Fault} the next fault, or `'ok'` when none is queued */
  take() {
    return this.#faults.shift() ?? 'ok';
  }

  /** @returns {Fault[]} a copy of the remaining faults */
  list() {
    return [...this.#faults];
  }

  clear() {
    this.#faults = [];
  }
}
