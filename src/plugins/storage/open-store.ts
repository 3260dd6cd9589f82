import type { Logger } from '../../core/logger.js';
import { loadCipher } from './cipher.js';
import { assertUnencrypted, unlockDatabase } from './database-metadata.js';
import { openDriver, type StorageDriverName } from './drivers/open-driver.js';
import { toStorageError } from './errors.js';
import type { ResolvedStorageOptions } from './options.js';
import { PlainCodec } from './record-codec.js';
import { RecordStore } from './record-store.js';

/** A store opened by {@link openStore}, and the driver it runs on. @internal */
export interface OpenedStore {
  readonly store: RecordStore;
  readonly driver: StorageDriverName | 'localforage';
}

/**
 * Opens the driver, then the encryption (derive keys, check the secret, or refuse an encrypted
 * database without one), and returns the record store. On failure the driver is closed again.
 * The first open of a database runs under a Web Lock where those exist, so two tabs do not both
 * create its salt. @internal
 */
export async function openStore(
  options: ResolvedStorageOptions,
  logger: Pick<Logger, 'warn'>,
): Promise<OpenedStore> {
  const { backend, driver } = await openDriver({ ...options, logger });
  try {
    const codec = await withOpenLock(`fluxy-storage:${options.name}`, async () => {
      if (!options.credentials) {
        await assertUnencrypted(backend);
        return new PlainCodec();
      }
      return unlockDatabase(backend, await loadCipher(options.engine), options.credentials);
    });
    return { store: new RecordStore(backend, codec), driver };
  } catch (error) {
    await backend.close().catch(() => {});
    throw toStorageError(error, 'Opening the storage');
  }
}

interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

function withOpenLock<T>(name: string, task: () => Promise<T>): Promise<T> {
  const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
  return typeof locks?.request === 'function' ? locks.request(name, task) : task();
}
