import { FluxyError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import { toStorageError } from '../errors.js';
import { IndexedDbDriver } from './indexeddb-driver.js';
import type { LocalForageLike } from './localforage-driver.js';
import type { StorageBackend } from './storage-backend.js';

/**
 * A storage driver: `'indexeddb'` (browsers, workers, Node with fake-indexeddb), `'localstorage'`
 * (a fallback: no transactions, ~5 MB), `'memory'` (tests) or `'file'` (Node: one folder per
 * database, one file per key, atomic writes).
 *
 * @example
 * const driver: StorageDriverName | undefined = storage.driver; // 'indexeddb' after init in a browser
 */
export type StorageDriverName = 'indexeddb' | 'localstorage' | 'memory' | 'file';

/** The names of the drivers, in documentation order. @internal */
export const driverNames: readonly StorageDriverName[] = ['indexeddb', 'localstorage', 'memory', 'file'];

/** What {@link openDriver} needs. @internal */
export interface DriverRequest {
  readonly name: string;
  readonly driver: StorageDriverName | LocalForageLike | undefined;
  readonly dir: string;
  readonly quota: number | undefined;
  readonly indexedDB: IDBFactory | undefined;
  readonly logger: Pick<Logger, 'warn'>;
}

/**
 * Opens the configured driver. IndexedDB (configured, or by default where it exists) is opened
 * here; everything else — another driver, a localforage instance given as `driver` (reported as
 * `'localforage'`), the default where IndexedDB does not exist, and the fallback when it cannot
 * be opened — by other-drivers.ts, a chunk a browser on IndexedDB never loads. Without an
 * explicit `driver`, a failure to open IndexedDB falls back (with a warning) to the file driver
 * in Node or localStorage elsewhere; an explicit driver that fails rejects with
 * `storage/unavailable`. @internal
 */
export async function openDriver(
  request: DriverRequest,
): Promise<{ backend: StorageBackend; driver: StorageDriverName | 'localforage' }> {
  const factory = request.indexedDB ?? globalThis.indexedDB;
  let failure: { error: unknown } | undefined;
  if (factory !== undefined && (request.driver ?? 'indexeddb') === 'indexeddb') {
    try {
      return { backend: await IndexedDbDriver.open(factory, request.name), driver: 'indexeddb' };
    } catch (error) {
      // An open that never finished (a FluxyError) does not fall back either: the database may
      // hold the queue, and writes to another driver would be unseen once IndexedDB opens again.
      if (request.driver || error instanceof FluxyError)
        throw toStorageError(error, 'Opening the indexeddb driver');
      failure = { error };
    }
  }
  // (toStorageError handed over: this chunk's modules stay out of that one.)
  return (await import('./other-drivers.js')).openOtherDriver(request, toStorageError, failure);
}
