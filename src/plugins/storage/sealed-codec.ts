import { concatBytes, equalInConstantTime, randomBytes, uint32, utf8Decode, utf8Encode } from './bytes.js';
import type { Cipher } from './cipher.js';
import { storageError } from './errors.js';
import type { RecordCodec } from './record-codec.js';
import {
  boundRecordVersion,
  formatSealed,
  parseSealed,
  recordVersion,
  type SealedParts,
} from './record-format.js';
import type { RecordKeys } from './record-keys.js';

/**
 * Which database a codec's records belong to: its random id (from the metadata, authenticated by
 * the binding check), and whether records written before the database was bound (version 1,
 * their MAC without the id) are still read — only while they are being migrated. @internal
 */
export interface DatabaseBinding {
  readonly id: Uint8Array;
  acceptUnbound: boolean;
}

/**
 * The encrypted codec: AES-256-CBC (PKCS#7) with a fresh random 16-byte IV per write, then
 * HMAC-SHA256 (encrypt-then-MAC) over
 * `2 ‖ uint32(len(db)) ‖ db ‖ uint32(len(key)) ‖ UTF-8(key) ‖ IV ‖ ciphertext` — `db` being the
 * database's random id — so a value copied under another key, or into another database opened
 * with the same secret or key, is refused. Version-1 records (`1 ‖ uint32(len(key)) ‖ key ‖ IV ‖
 * ciphertext`, written before databases had an id) are read only while the binding allows it.
 * On read the MAC is checked in constant time before anything is decrypted, so a value that was
 * altered, truncated or copied is refused with `storage/tampered`.
 *
 * @example
 * const codec = new SealedCodec(await loadCipher(), keys);
 * const stored = await codec.encode('todo/1', '{"done":false}');
 */
export class SealedCodec implements RecordCodec {
  readonly #cipher: Cipher;
  readonly #keys: RecordKeys;
  readonly #random: (length: number) => Uint8Array;
  readonly #binding: DatabaseBinding | undefined;

  /**
   * @param random - source of IVs. @default crypto.getRandomValues
   * @param binding - the database these records belong to; without it, version-1 records only.
   */
  constructor(
    cipher: Cipher,
    keys: RecordKeys,
    random: (length: number) => Uint8Array = randomBytes,
    binding?: DatabaseBinding,
  ) {
    this.#cipher = cipher;
    this.#keys = keys;
    this.#random = random;
    this.#binding = binding;
  }

  /** A codec with the same keys for records of the database `binding` names. */
  bindTo(binding: DatabaseBinding): SealedCodec {
    return new SealedCodec(this.#cipher, this.#keys, this.#random, binding);
  }

  async encode(key: string, json: string): Promise<string> {
    const iv = this.#random(16);
    const ciphertext = await this.#cipher.encryptAesCbc(this.#keys.encryption, iv, utf8Encode(json));
    const version = this.#binding ? boundRecordVersion : recordVersion;
    return formatSealed({ version, iv, ciphertext, mac: await this.macFor(version, key, iv, ciphertext) });
  }

  async decode(key: string, stored: unknown): Promise<unknown> {
    const parts = await this.openParts(key, stored);
    try {
      return JSON.parse(
        utf8Decode(await this.#cipher.decryptAesCbc(this.#keys.encryption, parts.iv, parts.ciphertext)),
      );
    } catch (error) {
      // Unreachable without the MAC key: a valid MAC over bad content means the writer was broken.
      throw storageError(
        'storage/tampered',
        `The value stored under "${key}" is authentic but does not decrypt to JSON; remove("${key}") to discard it.`,
        error,
      );
    }
  }

  /**
   * The parts of the record stored under `key`, once its MAC is checked (nothing decrypted);
   * throws `storage/tampered` otherwise. Also the migration's (database-setup.ts). @internal
   */
  async openParts(key: string, stored: unknown): Promise<SealedParts> {
    const parts = parseSealed(stored, key);
    if (parts.version === recordVersion && this.#binding && !this.#binding.acceptUnbound) {
      throw storageError(
        'storage/tampered',
        `The value stored under "${key}" is a version-1 record (its MAC does not bind the database), but this database's records were all migrated: it was copied in from elsewhere. It was not decrypted; remove("${key}") to discard it.`,
      );
    }
    if (parts.version === boundRecordVersion && !this.#binding) {
      throw storageError('storage/tampered', `The value stored under "${key}" belongs to another database.`);
    }
    const expected = await this.macFor(parts.version, key, parts.iv, parts.ciphertext);
    if (!equalInConstantTime(parts.mac, expected)) {
      throw storageError(
        'storage/tampered',
        `The value stored under "${key}" failed authentication: it was altered, truncated, or copied from another key or another database. It was not decrypted; remove("${key}") to discard it.`,
      );
    }
    return parts;
  }

  /** The MAC of a record of `version` under `key`. Also the migration's (database-setup.ts). @internal */
  macFor(version: 1 | 2, key: string, iv: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array> {
    const keyBytes = utf8Encode(key);
    const database =
      version === boundRecordVersion && this.#binding
        ? [uint32(this.#binding.id.length), this.#binding.id]
        : [];
    return this.#cipher.hmacSha256(
      this.#keys.authentication,
      concatBytes(Uint8Array.of(version), ...database, uint32(keyBytes.length), keyBytes, iv, ciphertext),
    );
  }
}
