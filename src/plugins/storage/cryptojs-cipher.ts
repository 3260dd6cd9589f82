import type CryptoJSCore from 'crypto-js/core.js';
import type { Cipher } from './cipher.js';

type CryptoJS = typeof CryptoJSCore;
type WordArray = CryptoJSCore.lib.WordArray;

/**
 * The {@link Cipher} over crypto-js, for platforms without `crypto.subtle`. Every parameter is
 * pinned (PBKDF2 hasher, key size, iterations; CBC mode; padding checked here), because
 * crypto-js's defaults changed between releases and its own unpadding does not validate.
 *
 * @example
 * const cipher = await loadCryptoJsCipher();
 */
export class CryptoJsCipher implements Cipher {
  readonly #lib: CryptoJS;

  /** @param lib - crypto-js core with aes, hmac-sha256, pbkdf2, sha256 and pad-nopadding loaded. */
  constructor(lib: CryptoJS) {
    this.#lib = lib;
  }

  async pbkdf2Sha256(
    secret: string,
    salt: Uint8Array,
    iterations: number,
    byteLength: number,
  ): Promise<Uint8Array> {
    const key = this.#lib.PBKDF2(this.#words(new TextEncoder().encode(secret)), this.#words(salt), {
      keySize: byteLength / 4,
      iterations,
      hasher: this.#lib.algo.SHA256,
    });
    return bytesOf(key);
  }

  async hmacSha256(key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
    return bytesOf(this.#lib.HmacSHA256(this.#words(data), this.#words(key)));
  }

  async encryptAesCbc(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array> {
    const encrypted = this.#lib.AES.encrypt(this.#words(plaintext), this.#words(key), {
      iv: this.#words(iv),
      mode: this.#lib.mode.CBC,
      padding: this.#lib.pad.Pkcs7,
    });
    return bytesOf(encrypted.ciphertext);
  }

  async decryptAesCbc(key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array> {
    if (ciphertext.length === 0 || ciphertext.length % 16 !== 0) {
      throw new Error('AES-CBC ciphertext must be a non-empty multiple of 16 bytes');
    }
    const params = this.#lib.lib.CipherParams.create({ ciphertext: this.#words(ciphertext) });
    const padded = bytesOf(
      this.#lib.AES.decrypt(params, this.#words(key), {
        iv: this.#words(iv),
        mode: this.#lib.mode.CBC,
        padding: this.#lib.pad.NoPadding,
      }),
    );
    const padding = padded[padded.length - 1] ?? 0;
    const valid =
      padding >= 1 && padding <= 16 && padded.subarray(padded.length - padding).every((b) => b === padding);
    if (!valid) throw new Error('bad PKCS#7 padding');
    return padded.slice(0, padded.length - padding);
  }

  #words(bytes: Uint8Array): WordArray {
    const words: number[] = new Array(Math.ceil(bytes.length / 4)).fill(0);
    for (let i = 0; i < bytes.length; i++) {
      words[i >>> 2] = (words[i >>> 2] ?? 0) | ((bytes[i] ?? 0) << (24 - (i % 4) * 8));
    }
    return this.#lib.lib.WordArray.create(words, bytes.length);
  }
}

function bytesOf(words: WordArray): Uint8Array {
  const out = new Uint8Array(words.sigBytes);
  for (let i = 0; i < out.length; i++) {
    out[i] = ((words.words[i >>> 2] ?? 0) >>> (24 - (i % 4) * 8)) & 0xff;
  }
  return out;
}

/**
 * Loads only the crypto-js modules the record format needs (not the whole library) and returns
 * a cipher over them. @internal
 */
export async function loadCryptoJsCipher(): Promise<CryptoJsCipher> {
  const [core] = await Promise.all([
    import('crypto-js/core.js'),
    import('crypto-js/aes.js'),
    import('crypto-js/hmac-sha256.js'),
    import('crypto-js/pbkdf2.js'),
    import('crypto-js/sha256.js'),
    import('crypto-js/pad-nopadding.js'),
  ]);
  return new CryptoJsCipher(core.default);
}
