import { fromBase64, toBase64 } from './bytes.js';
import { storageError } from './errors.js';

/** The format version written into every record (and into the database metadata). @internal */
export const recordVersion = 1;
/**
 * The version of an encrypted record whose MAC also binds the database id (see `SealedCodec`).
 * Version-1 encrypted records (no database binding) are read only until the database's records
 * are migrated, at the first open. @internal
 */
export const boundRecordVersion = 2;

/** The parts of an encrypted record. @internal */
export interface SealedParts {
  /** 1: MAC over version, key, IV, ciphertext; 2: the database id too. */
  readonly version: 1 | 2;
  readonly iv: Uint8Array;
  readonly ciphertext: Uint8Array;
  readonly mac: Uint8Array;
}

/**
 * An encrypted record as stored: `{"v":2,"iv":b64,"ct":b64,"mac":b64}` (standard base64; IV 16
 * bytes, ciphertext a non-empty multiple of 16 bytes, MAC 32 bytes). @internal
 */
export function formatSealed(parts: SealedParts): string {
  // What JSON.stringify would write (base64 needs no escaping), without scanning the text again.
  return `{"v":${parts.version},"iv":"${toBase64(parts.iv)}","ct":"${toBase64(parts.ciphertext)}","mac":"${toBase64(parts.mac)}"}`;
}

/** Parses an encrypted record strictly; throws `storage/tampered` or `storage/unsupported-version`. @internal */
export function parseSealed(stored: unknown, key: string): SealedParts {
  const record = parseObject(stored, key, ['v', 'iv', 'ct', 'mac'], [recordVersion, boundRecordVersion]);
  const iv = fromBase64(record.iv);
  const ciphertext = fromBase64(record.ct);
  const mac = fromBase64(record.mac);
  if (iv?.length !== 16 || mac?.length !== 32 || !ciphertext?.length || ciphertext.length % 16) {
    throw storageError(
      'storage/tampered',
      `The value stored under "${key}" was refused: its IV, ciphertext or MAC is missing, malformed or truncated. It was altered or written by something else; remove("${key}") to discard it.`,
    );
  }
  return { version: record.v as 1 | 2, iv, ciphertext, mac };
}

/** An unencrypted record as stored: `{"v":1,"value":<the JSON>}`. @internal */
export function formatPlain(json: string): string {
  return `{"v":${recordVersion},"value":${json}}`;
}

/** The value of an unencrypted record; throws `storage/tampered` or `storage/unsupported-version`. @internal */
export function parsePlain(stored: unknown, key: string): unknown {
  return parseObject(stored, key, ['v', 'value']).value;
}

function parseObject(
  stored: unknown,
  key: string,
  fields: readonly string[],
  versions?: readonly number[],
): Record<string, unknown> {
  const record = refuseUnversioned(stored, `the record under "${key}"`, versions);
  const names = Object.keys(record);
  if (names.length !== fields.length || !fields.every((field) => names.includes(field))) {
    throw storageError(
      'storage/tampered',
      `The value stored under "${key}" was refused: its fields are ${JSON.stringify(names)} instead of ${JSON.stringify(fields)} (an encrypted record read without the secret, or the reverse?). It was altered or written by something else; remove("${key}") to discard it.`,
    );
  }
  return record;
}

/**
 * The JSON object stored as `stored`, once its format version `v` is one of `versions`. Throws
 * `storage/unsupported-version` for another version, `storage/tampered` for anything without one
 * (not a string, not JSON, not an object). Named `refuse…`: the production build drops the prose
 * given as `what`, which names the record in the message. @internal
 */
export function refuseUnversioned(
  stored: unknown,
  what: string,
  versions: readonly number[] = [recordVersion],
): Record<string, unknown> {
  let record: unknown;
  try {
    record = typeof stored === 'string' ? JSON.parse(stored) : undefined;
  } catch {
    // not JSON: refused below
  }
  // JSON.parse's objects and arrays are Objects; null and the primitives are not.
  const object = (record instanceof Object && !Array.isArray(record) ? record : {}) as Record<
    string,
    unknown
  >;
  const version = object.v;
  if (versions.includes(version as number)) return object;
  if (typeof version === 'number') {
    throw storageError(
      'storage/unsupported-version',
      `${what} has format version ${version}, but this Fluxy reads version ${versions.join(' or ')}: upgrade Fluxy (or do not open data written by a newer version).`,
    );
  }
  throw storageError(
    'storage/tampered',
    `${what} is not a Fluxy record (not JSON, or without a format version): it was not written by Fluxy or was altered.`,
  );
}
