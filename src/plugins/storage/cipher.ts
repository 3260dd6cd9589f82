import { storageError } from './errors.js';
import { WebCryptoCipher } from './webcrypto-cipher.js';

/**
 * The name of a crypto engine: `'webcrypto'` (`crypto.subtle`, native and fast) or
 * `'crypto-js'` (pure JavaScript, for insecure contexts where `crypto.subtle` is missing).
 * Both write the same record format and read each other's records.
 *
 * @example
 * new StoragePlugin({ secret, engine: 'crypto-js' }); // force the pure-JavaScript engine
 */
export type CipherEngine = 'webcrypto' | 'crypto-js';

/**
 * The primitives of Fluxy's record format, implemented once per engine. Every parameter is
 * explicit (no library defaults), so both engines agree byte for byte.
 *
 * @example
 * const cipher = await loadCipher('webcrypto');
 * const mac = await cipher.hmacSha256(macKey, data);
 */
export interface Cipher {
  /** PBKDF2 with HMAC-SHA256 over the UTF-8 bytes of `secret`; returns `byteLength` bytes. */
  pbkdf2Sha256(secret: string, salt: Uint8Array, iterations: number, byteLength: number): Promise<Uint8Array>;
  /** HMAC-SHA256 of `data` under `key`. */
  hmacSha256(key: Uint8Array, data: Uint8Array): Promise<Uint8Array>;
  /** AES-256-CBC with PKCS#7 padding; `key` is 32 bytes, `iv` 16 bytes. */
  encryptAesCbc(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array>;
  /** The inverse of encryptAesCbc; rejects on bad padding. */
  decryptAesCbc(key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array>;
}

/** True where WebCrypto's `crypto.subtle` exists (secure contexts, Node ≥ 19). @internal */
export function hasWebCrypto(): boolean {
  return typeof globalThis.crypto?.subtle?.importKey === 'function';
}

/**
 * Loads an engine: the one asked for, or WebCrypto where it exists and crypto-js otherwise.
 * The WebCrypto engine (a thin layer over `crypto.subtle`) comes with this module; crypto-js and
 * its engine are a dynamic import, so the WebCrypto path never loads crypto-js. @internal
 */
export async function loadCipher(engine?: CipherEngine): Promise<Cipher> {
  if (typeof globalThis.crypto?.getRandomValues !== 'function') {
    throw storageError(
      'storage/unavailable',
      'Encryption needs crypto.getRandomValues, which this platform lacks: run on a current browser or Node ≥ 20.',
    );
  }
  const chosen = engine ?? (hasWebCrypto() ? 'webcrypto' : 'crypto-js');
  if (chosen === 'webcrypto') {
    if (!hasWebCrypto()) {
      throw storageError(
        'storage/unavailable',
        'engine "webcrypto" needs crypto.subtle, which exists only in secure contexts (https, localhost): serve the page over https, or omit `engine` to fall back to crypto-js.',
      );
    }
    return new WebCryptoCipher(globalThis.crypto.subtle);
  }
  const { loadCryptoJsCipher } = await import('./cryptojs-cipher.js');
  return loadCryptoJsCipher();
}
