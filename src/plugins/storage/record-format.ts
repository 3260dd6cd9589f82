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
  const iv = typeof record.iv === 'string' ? fromBase64(record.iv) : undefined;
  const ciphertext = typeof record.ct === 'string' ? fromBase64(record.ct) : undefined;
  const mac = typeof record.mac === 'string' ? fromBase64(record.mac) : undefined;
  if (
    iv?.length !== 16 ||
    mac?.length !== 32 ||
    !ciphertext ||
    ciphertext.length === 0 ||
    ciphertext.length % 16 !== 0
  ) {
    throw invalidRecord(key, 'its IV, ciphertext or MAC is missing, malformed or truncated');
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
  versions: readonly number[] = [recordVersion],
): Record<string, unknown> {
  let record: unknown;
  try {
    record = typeof stored === 'string' ? JSON.parse(stored) : undefined;
  } catch {
    record = undefined;
  }
  if (record === null || typeof record !== 'object' || Array.isArray(record)) {
    throw invalidRecord(key, 'it is not a Fluxy record');
  }
  const object = record as Record<string, unknown>;
  if (!versions.includes(object.v as number)) refuseUnknownVersion(object.v, `the record under "${key}"`);
  const names = Object.keys(object);
  if (names.length !== fields.length || !fields.every((field) => names.includes(field))) {
    throw invalidRecord(
      key,
      `its fields are ${JSON.stringify(names)} instead of ${JSON.stringify(fields)} (an encrypted record read without the secret, or the reverse?)`,
    );
  }
  return object;
}

/** Throws unless `version` is the one this build reads (named `refuse…`: the production build drops the prose given as `what`). @internal */
export function refuseUnknownVersion(version: unknown, what: string): void {
  if (version === recordVersion) return;
  if (typeof version === 'number') {
    throw storageError(
      'storage/unsupported-version',
      `${what} has format version ${version}, but this Fluxy reads version ${recordVersion}: upgrade Fluxy (or do not open data written by a newer version).`,
    );
  }
  throw storageError(
    'storage/tampered',
    `${what} has no format version: it was not written by Fluxy or was altered.`,
  );
}

/** `storage/tampered` for a value that is not a valid record (named `invalid…`: the production build drops its prose). */
function invalidRecord(key: string, reason: string) {
  return storageError(
    'storage/tampered',
    `The value stored under "${key}" was refused: ${reason}. It was altered or written by something else; remove("${key}") to discard it.`,
  );
}
