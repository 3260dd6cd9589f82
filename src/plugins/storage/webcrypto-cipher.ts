import { utf8Encode } from './bytes.js';
import type { Cipher } from './cipher.js';

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
  readonly #subtle: SubtleCrypto;
  readonly #aesKeys = new WeakMap<Uint8Array, Promise<CryptoKey>>();
  readonly #hmacKeys = new WeakMap<Uint8Array, Promise<CryptoKey>>();

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
    return new Uint8Array(
      await this.#subtle.deriveBits(
        { name: 'PBKDF2', hash: 'SHA-256', salt: salt as BufferSource, iterations },
        material,
        byteLength * 8,
      ),
    );
  }

  async hmacSha256(key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
    const cryptoKey = await this.#importKey(key, this.#hmacKeys, { name: 'HMAC', hash: 'SHA-256' }, ['sign']);
    return new Uint8Array(await this.#subtle.sign('HMAC', cryptoKey, data as BufferSource));
  }

  encryptAesCbc(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array> {
    return this.#aes('encrypt', key, iv, plaintext);
  }

  decryptAesCbc(key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array> {
    return this.#aes('decrypt', key, iv, ciphertext);
  }

  async #aes(
    operation: 'encrypt' | 'decrypt',
    key: Uint8Array,
    iv: Uint8Array,
    data: Uint8Array,
  ): Promise<Uint8Array> {
    const cryptoKey = await this.#importKey(key, this.#aesKeys, { name: 'AES-CBC' }, ['encrypt', 'decrypt']);
    return new Uint8Array(
      await this.#subtle[operation](
        { name: 'AES-CBC', iv: iv as BufferSource },
        cryptoKey,
        data as BufferSource,
      ),
    );
  }

  /** `key` imported once for one use (`cache`), however often it is used. */
  #importKey(
    key: Uint8Array,
    cache: WeakMap<Uint8Array, Promise<CryptoKey>>,
    algorithm: AlgorithmIdentifier | HmacImportParams,
    usages: KeyUsage[],
  ): Promise<CryptoKey> {
    let imported = cache.get(key);
    if (!imported) {
      imported = this.#subtle.importKey('raw', key as BufferSource, algorithm, false, usages);
      cache.set(key, imported);
    }
    return imported;
  }
}
