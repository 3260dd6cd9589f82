import { concatBytes, equalInConstantTime, randomBytes, uint32, utf8Decode, utf8Encode } from './bytes.js';
import type { Cipher } from './cipher.js';
import { storageError } from './errors.js';
import type { RecordCodec } from './record-codec.js';
import { formatSealed, parseSealed, recordVersion } from './record-format.js';
import type { RecordKeys } from './record-keys.js';

/**
 * The encrypted codec: AES-256-CBC (PKCS#7) with a fresh random 16-byte IV per write, then
 * HMAC-SHA256 over `version ‖ uint32(len(key)) ‖ UTF-8(key) ‖ IV ‖ ciphertext` (encrypt-then-MAC).
 * On read the MAC is checked in constant time before anything is decrypted, so a value that was
 * altered, truncated or copied under another key is refused with `storage/tampered`.
 *
 * @example
 * const codec = new SealedCodec(await loadCipher(), keys);
 * const stored = await codec.encode('todo/1', '{"done":false}');
 */
export class SealedCodec implements RecordCodec {
  readonly encrypted = true;
  readonly #cipher: Cipher;
  readonly #keys: RecordKeys;
  readonly #random: (length: number) => Uint8Array;

  /** @param random - source of IVs. @default crypto.getRandomValues */
  constructor(cipher: Cipher, keys: RecordKeys, random: (length: number) => Uint8Array = randomBytes) {
    this.#cipher = cipher;
    this.#keys = keys;
    this.#random = random;
  }

  async encode(key: string, json: string): Promise<string> {
    const iv = this.#random(16);
    const ciphertext = await this.#cipher.encryptAesCbc(this.#keys.encryption, iv, utf8Encode(json));
    const mac = await this.#cipher.hmacSha256(this.#keys.authentication, macInput(key, iv, ciphertext));
    return formatSealed({ iv, ciphertext, mac });
  }

  async decode(key: string, stored: unknown): Promise<unknown> {
    const { iv, ciphertext, mac } = parseSealed(stored, key);
    const expected = await this.#cipher.hmacSha256(this.#keys.authentication, macInput(key, iv, ciphertext));
    if (!equalInConstantTime(mac, expected)) {
      throw storageError(
        'storage/tampered',
        `The value stored under "${key}" failed authentication: it was altered, truncated, or copied from another key. It was not decrypted; remove("${key}") to discard it.`,
      );
    }
    try {
      return JSON.parse(utf8Decode(await this.#cipher.decryptAesCbc(this.#keys.encryption, iv, ciphertext)));
    } catch (error) {
      // Unreachable without the MAC key: a valid MAC over bad content means the writer was broken.
      throw storageError(
        'storage/tampered',
        `The value stored under "${key}" is authentic but does not decrypt to JSON; remove("${key}") to discard it.`,
        error,
      );
    }
  }
}

function macInput(key: string, iv: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  const keyBytes = utf8Encode(key);
  return concatBytes(Uint8Array.of(recordVersion), uint32(keyBytes.length), keyBytes, iv, ciphertext);
}
