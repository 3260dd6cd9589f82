import type { FluxyError } from '../../core/errors.js';
import type { toBase64 } from './bytes.js';
import type { Credentials, Metadata } from './database-metadata.js';
import type { StorageBackend } from './drivers/storage-backend.js';
import type { storageError } from './errors.js';
import type { formatSealed } from './record-format.js';
import type { SealedCodec } from './sealed-codec.js';

// The merge of a fallback's records into IndexedDB (open-store.ts): as rare, in the same chunk.
export { merge } from './fallback-merge.js';

/**
 * What this module borrows from database-metadata.ts, given by it rather than imported: every
 * import here is a type, so this lazy chunk shares no module with the start-up one. @internal
 */
export type Lent = readonly [
  reservedKeyPrefix: string,
  metadataKey: string,
  keyCheckKey: string,
  keyCheckValue: string,
  bindingKey: string,
  bindingCheck: string,
  recordVersion: number,
  toBase64: typeof toBase64,
  randomBytes: (length: number) => Uint8Array,
  storageError: typeof storageError,
  readBinding: (codec: SealedCodec, stored: string) => Promise<Binding>,
  formatSealed: typeof formatSealed,
];

/** A database's id, and whether its records were all re-authenticated with it. @internal */
export interface Binding {
  readonly id: Uint8Array;
  readonly migrated: boolean;
}

const migrationBatch = 256;

/**
 * After a driver failure (GenerationWatch.confirm): true when the database is gone — the
 * generation `id` under `generationKey` missing from a key listing or replaced by another
 * database's, or, when the listing or the read fails, the driver's `gone()` says so.
 */
export async function isGone(backend: StorageBackend, generationKey: string, id: string): Promise<boolean> {
  try {
    // A listing, not a read: a read that fails while a moved folder comes back reads as absent.
    if (!(await backend.keys()).includes(generationKey)) return true;
    const stored = await backend.getItem(generationKey);
    return stored !== undefined && stored !== id; // replaced by another database
  } catch {
    return (await backend.gone?.().catch(() => false)) ?? false;
  }
}

/**
 * Writes the metadata record of a new encrypted database: a random 16-byte salt, the iterations
 * (with a secret), and a key check — a known constant sealed with the keys. Returns the codec of
 * those keys, or `undefined` when another tab or process created the database at the same moment
 * (without Web Locks: Node, plain-http pages): only one insert can win, and the loser opens with
 * the winner's salt. Loaded only for a new database, off the start-up path. @internal
 */
export async function createMetadata(
  backend: StorageBackend,
  credentials: Credentials,
  codecFor: (salt: Uint8Array, iterations: number) => Promise<SealedCodec>,
  lent: Lent,
): Promise<SealedCodec | undefined> {
  const [
    reserved,
    metadataKey,
    keyCheckKey,
    keyCheckValue,
    ,
    ,
    recordVersion,
    toBase64,
    randomBytes,
    storageError,
  ] = lent;
  if ((await backend.keys()).some((key) => !key.startsWith(reserved))) {
    throw storageError(
      'storage/wrong-secret',
      'This database already holds records written without a secret: open it without `secret`/`key`, or use another `name` for the encrypted store.',
    );
  }
  const secret = credentials.kind === 'secret';
  const salt = randomBytes(16);
  const codec = await codecFor(salt, secret ? credentials.iterations : 0);
  const saltText = toBase64(salt);
  const metadata = {
    v: recordVersion,
    ...(secret
      ? {
          kdf: 'pbkdf2-sha256',
          iterations: credentials.iterations,
          salt: saltText,
          // Both again: an edit to one reads as tampering, not as a wrong secret (see refused).
          params: `${credentials.iterations}${saltText}`,
        }
      : { kdf: 'raw' }),
    check: await codec.encode(keyCheckKey, JSON.stringify(keyCheckValue)),
  };
  return (await backend.insertIfAbsent(metadataKey, JSON.stringify(metadata))) ? codec : undefined;
}

/**
 * Why the key check refused the credentials: `storage/tampered` when the metadata's salt or
 * iterations no longer match their copy in `params` (written with them since session 15: either
 * edit changes the derived keys, and the key check alone cannot tell that from another secret),
 * `storage/wrong-secret` otherwise. No key can cover `params` (none is derived without the salt):
 * an edit of both copies still reads as a wrong secret, and so does an altered database written
 * before `params` existed. Loaded only after a refusal, off the start-up path. @internal
 */
export function refused(metadata: Metadata, lent: Lent): FluxyError {
  const storageError = lent[9];
  const { iterations, salt, params } = metadata as { iterations?: number; salt?: string; params?: string };
  return params !== undefined && params !== `${iterations}${salt}`
    ? storageError(
        'storage/tampered',
        'The database metadata was altered (its salt or iterations no longer match their copy): the encrypted data cannot be opened. Restore the database from a backup or delete it. Nothing was read or written.',
      )
    : storageError(
        'storage/wrong-secret',
        'The secret (or key) does not open this database: pass the one it was created with. Nothing was read or written.',
      );
}

/**
 * The codec bound to the database's id, for a database whose id record is missing (`binding`
 * undefined) or whose records are not all migrated yet. A missing id record is created — with
 * `insertIfAbsent`, so two openers agree — `migrated` at once for a database just `created` (no
 * records yet). Otherwise its version-1 records (an earlier Fluxy's) are re-authenticated with the
 * id (same IV and ciphertext, a new MAC; nothing decrypted), 256 per write, after which `migrated`
 * is set and version-1 records are refused. A crash part-way resumes at the next open; until then
 * version-1 records are still read. @internal
 */
export async function bindDatabase(
  backend: StorageBackend,
  codec: SealedCodec,
  created: boolean,
  binding: Binding | undefined,
  lent: Lent,
): Promise<SealedCodec> {
  const [
    reserved,
    ,
    ,
    ,
    bindingKey,
    bindingCheck,
    recordVersion,
    toBase64,
    randomBytes,
    ,
    readBinding,
    formatSealed,
  ] = lent;
  /** The id record: `{ v: 1, db, check }`, `check` sealed with the id in its MAC. */
  const record = async (id: Uint8Array, migrated: boolean): Promise<string> => {
    const check = await codec
      .bindTo({ id, acceptUnbound: false })
      .encode(bindingKey, JSON.stringify({ check: bindingCheck, migrated }));
    return JSON.stringify({ v: recordVersion, db: toBase64(id), check });
  };
  if (!binding) {
    await backend.insertIfAbsent(bindingKey, await record(randomBytes(16), created));
    binding = await readBinding(codec, (await backend.getItem(bindingKey)) as string);
  }
  const { id, migrated } = binding;
  const state = { id, acceptUnbound: !migrated };
  const bound = codec.bindTo(state);
  if (migrated) return bound;
  const keys = (await backend.keys()).filter((key) => !key.startsWith(reserved));
  for (let start = 0; start < keys.length; start += migrationBatch) {
    const writes: Array<{ key: string; value: string }> = [];
    for (const key of keys.slice(start, start + migrationBatch)) {
      const value = await backend.getItem(key);
      // A version-1 record re-authenticated for this database (same IV and ciphertext, nothing
      // decrypted); one that is not authentic (or already migrated) stays as it is, and is
      // refused when read.
      const parts =
        value === undefined ? undefined : await bound.openParts(key, value).catch(() => undefined);
      if (parts?.version !== recordVersion) continue;
      const mac = await bound.macFor(2, key, parts.iv, parts.ciphertext);
      writes.push({ key, value: formatSealed({ ...parts, version: 2, mac }) });
    }
    if (writes.length > 0) await backend.writeBatch(writes);
  }
  await backend.setItem(bindingKey, await record(id, true));
  state.acceptUnbound = false;
  return bound;
}
