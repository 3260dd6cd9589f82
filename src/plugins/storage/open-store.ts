import type { Logger } from '../../core/logger.js';
import type { LockManagerLike } from '../../core/platform-types.js';
import { loadCipher } from './cipher.js';
import { assertUnencrypted, GenerationWatch, openGeneration, unlockDatabase } from './database-metadata.js';
import { openDriver, type StorageDriverName } from './drivers/open-driver.js';
import { toStorageError } from './errors.js';
import type { ResolvedStorageOptions } from './options.js';
import { PlainCodec } from './record-codec.js';
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
 * database without one), and returns the record store. On failure the driver is closed again.
 * The first open of a database runs under a Web Lock where those exist, so two tabs do not both
 * create its salt. @internal
 */
export async function openStore(
  options: ResolvedStorageOptions,
  logger: Pick<Logger, 'warn'>,
  onLost: () => void,
): Promise<OpenedStore> {
  const { backend, driver } = await openDriver({ ...options, logger });
  try {
    const { codec, id, lost } = await withOpenLock(`fluxy-storage:${options.name}`, async () => {
      const { id, lost } = await openGeneration(backend);
      if (!options.credentials) {
        await assertUnencrypted(backend);
        return { codec: new PlainCodec(), id, lost };
      }
      const codec = await unlockDatabase(backend, await loadCipher(options.engine), options.credentials);
      return { codec, id, lost };
    });
    return { store: new RecordStore(backend, codec, new GenerationWatch(backend, id, onLost)), driver, lost };
  } catch (error) {
    await backend.close().catch(() => {});
    throw toStorageError(error, 'Opening the storage (its database, generation and encryption)');
  }
}

function withOpenLock<T>(name: string, task: () => Promise<T>): Promise<T> {
  const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
  return typeof locks?.request === 'function' ? (locks.request(name, {}, task) as Promise<T>) : task();
}
