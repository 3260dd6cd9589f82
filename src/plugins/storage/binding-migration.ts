import type { StorageBackend } from './drivers/storage-backend.js';
import type { SealedCodec } from './sealed-codec.js';

const migrationBatch = 256;

/**
 * Re-authenticates a database's version-1 records with its id (same IV and ciphertext, a new
 * MAC; nothing decrypted), 256 per write. Only for a database written by a Fluxy build before the
 * binding, so it is loaded then. `reserved`: the prefix of the metadata keys, left as they are
 * (given, like every import here is a type, so this lazy chunk shares no module with the
 * start-up one). @internal
 */
export async function migrateRecords(
  backend: StorageBackend,
  bound: SealedCodec,
  reserved: string,
): Promise<void> {
  const keys = (await backend.keys()).filter((key) => !key.startsWith(reserved));
  for (let start = 0; start < keys.length; start += migrationBatch) {
    const writes: Array<{ key: string; value: string }> = [];
    for (const key of keys.slice(start, start + migrationBatch)) {
      const value = await backend.getItem(key);
      const migratedValue = value === undefined ? undefined : await bound.migrate(key, value);
      if (migratedValue !== undefined) writes.push({ key, value: migratedValue });
    }
    if (writes.length > 0) await backend.writeBatch(writes);
  }
}
