import { concatBytes, utf8Encode } from './bytes.js';
import type { Cipher } from './cipher.js';

/** The two keys of an encrypted database: one for AES, one for the MAC (never the same). @internal */
export interface RecordKeys {
  /** 32-byte AES-256 key. */
  readonly encryption: Uint8Array;
  /** 32-byte HMAC-SHA256 key. */
  readonly authentication: Uint8Array;
}

/**
 * The lowest PBKDF2 iteration count accepted.
 *
 * @example
 * new StoragePlugin({ driver: 'memory', secret: 'pw', iterations: minIterations }); // fast tests
 */
export const minIterations = 10_000;
/**
 * The PBKDF2 iteration count of a new database when `iterations` is not given (OWASP 2023).
 *
 * @example
 * new StoragePlugin({ secret, iterations: defaultIterations / 2 }); // halve start-up cost
 */
export const defaultIterations = 600_000;

/**
 * PBKDF2-SHA256(secret, salt, iterations) → 64 bytes: the first 32 are the AES key, the last
 * 32 the MAC key. @internal
 */
export async function deriveKeysFromSecret(
  cipher: Cipher,
  secret: string,
  salt: Uint8Array,
  iterations: number,
): Promise<RecordKeys> {
  const bytes = await cipher.pbkdf2Sha256(secret, salt, iterations, 64);
  return { encryption: bytes.slice(0, 32), authentication: bytes.slice(32, 64) };
}

/**
 * Splits a random 32-byte raw key with HKDF-Expand (RFC 5869, SHA-256, one block each; the
 * raw key is the PRK): AES key = HMAC(raw, "fluxy/v1/aes" ‖ 0x01), MAC key =
 * HMAC(raw, "fluxy/v1/mac" ‖ 0x01). @internal
 */
export async function expandRawKey(cipher: Cipher, raw: Uint8Array): Promise<RecordKeys> {
  const expand = (label: string) =>
    cipher.hmacSha256(raw, concatBytes(utf8Encode(`fluxy/v1/${label}`), Uint8Array.of(1)));
  const [encryption, authentication] = await Promise.all([expand('aes'), expand('mac')]);
  return { encryption, authentication };
}
