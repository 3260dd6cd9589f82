// @ts-check
/**
 * Idempotency keys, as in the IETF httpapi "Idempotency-Key" draft and Stripe's API.
 *
 * A client that cannot tell a lost request from a lost response (both are just "fetch failed")
 * sends the same `Idempotency-Key` on every retry. The server remembers, per key, the request's
 * fingerprint and the response it gave, and answers a repeat with that response instead of
 * applying the request again. This module holds that policy; it does no I/O. The key table is a
 * plain object stored inside the database document, so a key and the effect it guards are
 * written in the same atomic write.
 */
import { createHash } from 'node:crypto';

/** @typedef {{ status: number, headers: Record<string, string>, body: string }} StoredResponse */
/** @typedef {{ fingerprint: string, response: StoredResponse, storedAt: number }} KeyRecord */
/** @typedef {Record<string, KeyRecord>} KeyTable */
/**
 * What to do with a request that carries a key:
 * - `new`: first time seen; the key is now claimed until `release(key)`.
 * - `replay`: answer with `response`, do not apply anything.
 * - `key-reuse`: the key came with another request (a client bug) → 422.
 * - `in-progress`: the first request with this key is still running → 409, retry later.
 * @typedef {{ kind: 'new' } | { kind: 'replay', response: StoredResponse } | { kind: 'key-reuse' } | { kind: 'in-progress' }} KeyOutcome
 */

export const MAX_KEY_LENGTH = 255;

/**
 * Printable ASCII, 1 to 255 characters: enough for UUIDs, ULIDs and Fluxy's op ids, and safe
 * to store and log.
 * @param {unknown} key
 * @returns {key is string}
 */
export function isValidKey(key) {
  return (
    typeof key === 'string' && key.length > 0 && key.length <= MAX_KEY_LENGTH && /^[\x20-\x7e]+$/.test(key)
  );
}

/**
 * Identifies "the same request": method, path (with query) and the exact body bytes. A client
 * retrying an operation sends all three unchanged.
 * @param {string} method
 * @param {string} path
 * @param {Uint8Array} body
 */
export function fingerprintOf(method, path, body) {
  return createHash('sha256').update(`${method.toUpperCase()} ${path}\n`).update(body).digest('base64url');
}

/**
 * Whether a response is stored under its key. Server errors are not: the client retries them,
 * and the retry should get a real second chance rather than the same error forever.
 * @param {number} status
 */
export function shouldRemember(status) {
  return status < 500;
}

export class IdempotencyKeys {
  /** Keys whose first request is still running: key → fingerprint. In memory only, on purpose:
   * after a restart nothing is running any more. */
  /** @type {Map<string, string>} */
  #inFlight = new Map();
  #ttlMs;

  /** @param {number} ttlMs how long a key is remembered after its response was stored */
  constructor(ttlMs) {
    this.#ttlMs = ttlMs;
  }

  /**
   * @param {KeyTable} table the committed key table
   * @param {string} key
   * @param {string} fingerprint from `fingerprintOf`
   * @param {number} now epoch milliseconds
   * @returns {KeyOutcome}
   */
  begin(table, key, fingerprint, now) {
    const record = Object.hasOwn(table, key) ? table[key] : undefined;
    if (record && !this.#isExpired(record, now)) {
      return record.fingerprint === fingerprint
        ? { kind: 'replay', response: record.response }
        : { kind: 'key-reuse' };
    }
    const running = this.#inFlight.get(key);
    if (running !== undefined)
      return running === fingerprint ? { kind: 'in-progress' } : { kind: 'key-reuse' };
    this.#inFlight.set(key, fingerprint);
    return { kind: 'new' };
  }

  /**
   * Ends the claim taken by a `new` outcome, whether the response was stored or not (a failed
   * or aborted request frees its key so the client's retry can run).
   * @param {string} key
   */
  release(key) {
    this.#inFlight.delete(key);
  }

  /**
   * Stores a response in `table` (a draft about to be persisted together with the effect).
   * @param {KeyTable} table
   * @param {string} key
   * @param {string} fingerprint
   * @param {StoredResponse} response
   * @param {number} now
   */
  remember(table, key, fingerprint, response, now) {
    // defineProperty, not `table[key] =`: a key named "__proto__" must stay a plain entry.
    Object.defineProperty(table, key, {
      value: { fingerprint, response, storedAt: now },
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }

  /**
   * Drops expired records so the table (and the data file) does not grow forever.
   * @param {KeyTable} table
   * @param {number} now
   */
  forgetExpired(table, now) {
    for (const [key, record] of Object.entries(table)) {
      if (this.#isExpired(record, now)) delete table[key];
    }
  }

  /** @param {KeyRecord} record @param {number} now */
  #isExpired(record, now) {
    return now - record.storedAt >= this.#ttlMs;
  }
}
