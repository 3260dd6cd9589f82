import { formatPlain, parsePlain } from './record-format.js';

/**
 * Turns a value's JSON into the string stored under a key, and back. A {@link PlainCodec} only
 * adds the format version; a `SealedCodec` encrypts and authenticates.
 *
 * @example
 * const stored = await codec.encode('todo/1', '{"done":false}');
 * const value = await codec.decode('todo/1', stored);
 */
export interface RecordCodec {
  /** The stored form of `json` under `key`. */
  encode(key: string, json: string): Promise<string>;
  /** The value stored under `key`; throws `storage/tampered` or `storage/unsupported-version`. */
  decode(key: string, stored: unknown): Promise<unknown>;
}

/**
 * The codec without a secret: `{"v":1,"value":…}`, readable by anyone with the storage.
 *
 * @example
 * const store = new RecordStore(backend, new PlainCodec());
 */
export class PlainCodec implements RecordCodec {
  async encode(_key: string, json: string): Promise<string> {
    return formatPlain(json);
  }

  async decode(key: string, stored: unknown): Promise<unknown> {
    return parsePlain(stored, key);
  }
}
