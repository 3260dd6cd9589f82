import type { Logger } from '../../core/logger.js';
import type { LockManagerLike } from '../../core/platform-types.js';
import { loadCipher } from './cipher.js';
import {
  assertUnencrypted,
  GenerationWatch,
  openGeneration,
  setup,
  unlockDatabase,
} from './database-metadata.js';
import { openDriver, type StorageDriverName } from './drivers/open-driver.js';
import type { StorageBackend } from './drivers/storage-backend.js';
import { toStorageError } from './errors.js';
import type { ResolvedStorageOptions } from './options.js';
import { PlainCodec, type RecordCodec } from './record-codec.js';
import { RecordStore } from './record-store.js';

/** A store opened by {@link openStore}, and the driver it runs on. @internal */
export interface OpenedStore {
  readonly store: RecordStore;
  readonly driver: StorageDriverName | 'localforage';
  /** The database this app used before was wiped between runs (see {@link openGeneration}). */
  readonly lost: boolean;
}

/**
 * Opens the driver, checks the database's generation, then the encryption (derive keys, check the secret, or refuse an encrypted
 * database without one), merges what a fallback to localStorage left (IndexedDB only:
 * fallback-merge.ts), and returns the record store. On failure the driver is closed again.
 * All of it runs under a Web Lock where those exist, so two tabs do not both create a database's
 * salt, nor both merge. @internal
 */
export async function openStore(
  options: ResolvedStorageOptions,
  logger: Pick<Logger, 'warn'>,
  onLost: () => void,
): Promise<OpenedStore> {
  const { backend, driver } = await openDriver({ ...options, logger });
  // The encryption of a database opened with these options (this one, or a fallback's: below).
  const unlock = async (database: StorageBackend): Promise<RecordCodec> => {
    if (!options.credentials) {
      await assertUnencrypted(database);
      return new PlainCodec();
    }
    return unlockDatabase(database, await loadCipher(options.engine), options.credentials);
  };
  const open = async (): Promise<OpenedStore> => {
    const { id, lost } = await openGeneration(backend);
    const codec = await unlock(backend);
    // IndexedDB, and a run that fell back to localStorage left records there: merged now (by
    // code loaded only then, never localforage), before anything reads the database.
    if (backend.hint?.fallback) await (await setup()).merge(backend, codec, unlock, options, logger);
    return { store: new RecordStore(backend, codec, new GenerationWatch(backend, id, onLost)), driver, lost };
  };
  const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
  try {
    return await (typeof locks?.request === 'function'
      ? (locks.request(`fluxy-storage:${options.name}`, {}, open) as Promise<OpenedStore>)
      : open());
  } catch (error) {
    await backend.close().catch(() => {});
    throw toStorageError(
      error,
      'Opening the storage (its database, generation, encryption and what a fallback left)',
    );
  }
}
