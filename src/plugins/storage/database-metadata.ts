import { fromBase64, randomBytes, toBase64 } from './bytes.js';
import type { Cipher } from './cipher.js';
import type { Lent } from './database-setup.js';
import type { StorageBackend } from './drivers/storage-backend.js';
import { storageError } from './errors.js';
import { formatSealed, recordVersion, refuseUnversioned } from './record-format.js';
import { deriveKeysFromSecret, expandRawKey } from './record-keys.js';
import { SealedCodec } from './sealed-codec.js';
import { reservedKeyPrefix } from './storage-keys.js';

/** Where an encrypted database keeps its salt, KDF parameters and key check. @internal */
export const metadataKey = '\u0000fluxy:meta';
const keyCheckKey = '\u0000fluxy:key-check';
const keyCheckValue = 'fluxy key check';
/**
 * The most PBKDF2 iterations accepted from a database's metadata, unless the `iterations` option
 * asks for more: a count written there by someone else cannot stall the open (and the
 * wrong-secret error) for seconds. @internal
 */
export const maxStoredIterations = 2_000_000;

/** What opens an encrypted database: a secret (PBKDF2) or a raw 32-byte key. @internal */
export type Credentials =
  | { readonly kind: 'secret'; readonly secret: string; readonly iterations: number }
  | { readonly kind: 'key'; readonly key: Uint8Array };

/** The metadata record (`params`: see database-setup.ts, createMetadata and refused). @internal */
export type Metadata =
  | { v: 1; kdf: 'pbkdf2-sha256'; iterations: number; salt: string; check: string; params?: string }
  | { v: 1; kdf: 'raw'; check: string };

/**
 * Opens the encryption of a database, once per open: on first use writes the metadata record
 * (random 16-byte salt, iterations, and a key check: a known constant sealed with the keys);
 * afterwards derives the keys with the stored parameters and verifies the key check, so a wrong
 * secret fails here with `storage/wrong-secret` before any record is read or written.
 * @internal
 */
export async function unlockDatabase(
  backend: StorageBackend,
  cipher: Cipher,
  credentials: Credentials,
): Promise<SealedCodec> {
  const secret = credentials.kind === 'secret';
  const codecFor = async (salt: Uint8Array, iterations: number): Promise<SealedCodec> =>
    new SealedCodec(
      cipher,
      secret
        ? await deriveKeysFromSecret(cipher, credentials.secret, salt, iterations)
        : await expandRawKey(cipher, credentials.key),
    );
  const stored = await backend.getItem(metadataKey);
  if (stored === undefined) {
    // A new database: its metadata is written by code loaded only then, off the start-up path.
    const codec = await (await setup()).createMetadata(backend, credentials, codecFor, lent);
    return codec ? bindDatabase(backend, codec, true) : unlockDatabase(backend, cipher, credentials);
  }
  const metadata = parseMetadata(stored, Math.max(maxStoredIterations, secret ? credentials.iterations : 0));
  if ((metadata.kdf === 'raw') === secret) {
    throw storageError(
      'storage/wrong-secret',
      `This database was created with ${secret ? 'a raw `key`: open it with the same `key` option, not `secret`' : 'a `secret`: open it with the same `secret` option, not `key`'}.`,
    );
  }
  // (A raw key's metadata has neither: expandRawKey reads neither.)
  const { salt, iterations } = metadata as { salt?: string; iterations: number };
  const codec = await codecFor(fromBase64(salt) as Uint8Array, iterations);
  const verified = await codec.decode(keyCheckKey, metadata.check).then(
    (value) => value === keyCheckValue,
    () => false,
  );
  // A wrong secret, or the salt or iterations altered: told apart off the start-up path.
  if (!verified) throw (await setup()).refused(metadata, lent);
  return bindDatabase(backend, codec);
}

/** Where an encrypted database keeps its random id (and whether its records carry it). @internal */
export const bindingKey = '\u0000fluxy:binding';
const bindingCheck = 'fluxy database binding';

/**
 * The codec for this database's records, bound to its random id. The id lives in its own record,
 * `{ v: 1, db: <base64, 16 bytes>, check }`, `check` being `{ check, migrated }` sealed with the id
 * in its MAC, so neither can be changed without the keys. A database without one (created by an
 * earlier Fluxy, or just now) gets one, and an earlier Fluxy's records are migrated
 * (database-setup.ts: loaded only then, off the start-up path).
 */
async function bindDatabase(
  backend: StorageBackend,
  codec: SealedCodec,
  created = false,
): Promise<SealedCodec> {
  const stored = await backend.getItem(bindingKey);
  const binding = stored === undefined ? undefined : await readBinding(codec, stored);
  return binding?.migrated
    ? codec.bindTo({ id: binding.id, acceptUnbound: false })
    : (await setup()).bindDatabase(backend, codec, created, binding, lent);
}

async function readBinding(
  codec: SealedCodec,
  stored: string,
): Promise<{ id: Uint8Array; migrated: boolean }> {
  const corrupt = (cause?: unknown) =>
    storageError(
      'storage/tampered',
      'The database id record is corrupt or was altered: the encrypted data cannot be trusted. Restore the database from a backup or delete it.',
      cause,
    );
  const { db, check } = refuseUnversioned(stored, 'The database id record');
  const id = fromBase64(db);
  if (id?.length !== 16) throw corrupt();
  // (A `check` that is not a string fails to decode.)
  const content = await codec
    .bindTo({ id, acceptUnbound: false })
    .decode(bindingKey, check)
    .catch((error: unknown) => {
      throw corrupt(error);
    });
  const { check: marker, migrated } = (content ?? {}) as Record<string, unknown>;
  if (marker !== bindingCheck || typeof migrated !== 'boolean') throw corrupt();
  return { id, migrated };
}

/**
 * What database-setup.ts borrows from this module: it imports none at run time, so its lazy chunk
 * shares no module with the start-up one.
 */
const lent: Lent = [
  reservedKeyPrefix,
  metadataKey,
  keyCheckKey,
  keyCheckValue,
  bindingKey,
  bindingCheck,
  recordVersion,
  toBase64,
  randomBytes,
  storageError,
  readBinding,
  formatSealed,
];
/** The chunk of the rare paths of an open (creating, migrating, telling a refusal apart, merging a fallback). @internal */
export const setup = () => import('./database-setup.js');

/** Refuses to open an encrypted database without credentials. @internal */
export async function assertUnencrypted(backend: StorageBackend): Promise<void> {
  if ((await backend.getItem(metadataKey)) !== undefined) {
    throw storageError(
      'storage/wrong-secret',
      'This database is encrypted: pass the `secret` (or `key`) it was created with.',
    );
  }
}

function parseMetadata(stored: string, maxIterations: number): Metadata {
  const record = refuseUnversioned(stored, 'The database metadata record');
  const { iterations, salt } = record;
  // One check (one throw in the production build).
  if (
    typeof record.check !== 'string' ||
    (record.kdf !== 'raw' &&
      (record.kdf !== 'pbkdf2-sha256' ||
        !Number.isInteger(iterations) ||
        (iterations as number) < 1 ||
        (iterations as number) > maxIterations ||
        fromBase64(salt)?.length !== 16))
  ) {
    throw storageError(
      'storage/tampered',
      `The database metadata (kdf ${String(record.kdf)}, ${String(iterations)} PBKDF2 iterations, salt, key check) is corrupt, or asks for more iterations than the ${maxIterations} accepted: the encrypted data cannot be opened. Restore it from a backup or delete the database; or, if it was created with more iterations, pass that count as the \`iterations\` option. Nothing was derived, read or written.`,
    );
  }
  // The record itself, once checked: a field it may have besides these is never read.
  return record as Metadata;
}

/** Where every database keeps its generation: a random id written when the database is created. @internal */
export const generationKey = '\u0000fluxy:generation';

/**
 * Reads the database's generation (creating it in a new database) and compares it with the one
 * remembered outside the database ({@link StorageBackend.hint}). `lost` when the hint names
 * another generation: the database this app used before was wiped (or replaced) between runs.
 * What a wipe left behind without its generation (records, encryption metadata) is deleted
 * first, so no part of the lost data — half an outbox — is ever used again. @internal
 */
export async function openGeneration(backend: StorageBackend): Promise<{ id: string; lost: boolean }> {
  const remembered = await backend.hint?.read().catch(() => undefined);
  let id = await backend.getItem(generationKey);
  if (id === undefined) {
    if (remembered !== undefined) await backend.clear();
    await backend.insertIfAbsent(generationKey, toBase64(randomBytes(16)));
    id = (await backend.getItem(generationKey)) as string;
  }
  // Without the hint a later wipe looks like a first run; nothing worse: the open goes on.
  if (remembered !== id) await backend.hint?.write(id).catch(() => {});
  return { id, lost: remembered !== undefined && remembered !== id };
}

/**
 * Watches an open database for being wiped under the running app: the driver's own signal
 * (IndexedDB closed or deleted by the browser), a key listing without the generation, or, after a
 * driver failure, the generation missing from a listing, replaced, or its database gone (the
 * driver's `gone()`). Calls `onLost` once. @internal
 */
export class GenerationWatch {
  lost = false;
  readonly #backend: StorageBackend;
  readonly #id: string;
  readonly #onLost: () => void;

  constructor(backend: StorageBackend, id: string, onLost: () => void) {
    this.#backend = backend;
    this.#id = id;
    this.#onLost = onLost;
    backend.onGone?.(() => this.#declare());
  }

  #declare(): void {
    if (this.lost) return;
    this.lost = true;
    this.#onLost();
  }

  /** A full key listing of the database: the generation must be in it. True when lost. */
  checkListing(keys: readonly string[]): boolean {
    if (!keys.includes(generationKey)) this.#declare();
    return this.lost;
  }

  /**
   * After a driver failure: true when the failure is the database being gone. The check is loaded
   * then (database-setup.ts), off the start-up path; if that chunk cannot load (offline, never
   * fetched), the database counts as not gone and the failure is reported as it is.
   */
  async confirm(): Promise<boolean> {
    if (
      !this.lost &&
      (await setup().then(
        (lazy) => lazy.isGone(this.#backend, generationKey, this.#id),
        () => false,
      ))
    ) {
      this.#declare();
    }
    return this.lost;
  }
}
