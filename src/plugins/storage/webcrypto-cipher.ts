import { utf8Encode } from './bytes.js';
import type { Cipher } from './cipher.js';

type KeyUse = 'aes' | 'hmac';

/**
 * The {@link Cipher} over WebCrypto (`crypto.subtle`). Imported keys are cached per key buffer,
 * so a store that reuses its key bytes imports each key once. Byte arrays are handed over as they
 * are, not copied (WebCrypto copies them itself): every one is Fluxy's own, over a plain
 * ArrayBuffer — the `BufferSource` casts only tell TypeScript so.
 *
 * @example
 * const cipher = new WebCryptoCipher(globalThis.crypto.subtle);
 */
export class WebCryptoCipher implements Cipher {
  readonly engine = 'webcrypto' as const;
  readonly #subtle: SubtleCrypto;
  readonly #keys = new WeakMap<Uint8Array, Map<KeyUse, Promise<CryptoKey>>>();

  constructor(subtle: SubtleCrypto) {
    this.#subtle = subtle;
  }

  async pbkdf2Sha256(
    secret: string,
    salt: Uint8Array,
    iterations: number,
    byteLength: number,
  ): Promise<Uint8Array> {
    const material = await this.#subtle.importKey(
      'raw',
      utf8Encode(secret) as BufferSource,
      'PBKDF2',
      false,
      ['deriveBits'],
    );
    const bits = await this.#subtle.deriveBits(
      { name: 'PBKDF2', hash: 'SHA-256', salt: salt as BufferSource, iterations },
      material,
      byteLength * 8,
    );
    return new Uint8Array(bits);
  }

  async hmacSha256(key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
    const cryptoKey = await this.#importKey(key, 'hmac');
    return new Uint8Array(await this.#subtle.sign('HMAC', cryptoKey, data as BufferSource));
  }

  async encryptAesCbc(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array> {
    const cryptoKey = await this.#importKey(key, 'aes');
    const ciphertext = await this.#subtle.encrypt(
      { name: 'AES-CBC', iv: iv as BufferSource },
      cryptoKey,
      plaintext as BufferSource,
    );
    return new Uint8Array(ciphertext);
  }

  async decryptAesCbc(key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array> {
    const cryptoKey = await this.#importKey(key, 'aes');
    const plaintext = await this.#subtle.decrypt(
      { name: 'AES-CBC', iv: iv as BufferSource },
      cryptoKey,
      ciphertext as BufferSource,
    );
    return new Uint8Array(plaintext);
  }

  #importKey(key: Uint8Array, use: KeyUse): Promise<CryptoKey> {
    let byUse = this.#keys.get(key);
    if (!byUse) {
      byUse = new Map();
      this.#keys.set(key, byUse);
    }
    let imported = byUse.get(use);
    if (!imported) {
      const raw = key as BufferSource;
      imported =
        use === 'aes'
          ? this.#subtle.importKey('raw', raw, { name: 'AES-CBC' }, false, ['encrypt', 'decrypt'])
          : this.#subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
      byUse.set(use, imported);
    }
    return imported;
  }
}
