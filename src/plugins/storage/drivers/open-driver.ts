import type { Logger } from '../../../core/logger.js';
import { storageError, toStorageError } from '../errors.js';
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

/** The facts the default driver depends on. @internal */
export interface DriverEnvironment {
  readonly hasIndexedDB: boolean;
  readonly isNode: boolean;
}

/**
 * The driver used when none is configured: IndexedDB where it exists, the file driver in Node
 * without it, localStorage (with a warning) otherwise. @internal
 */
export function chooseDefaultDriver(environment: DriverEnvironment): StorageDriverName {
  if (environment.hasIndexedDB) return 'indexeddb';
  return environment.isNode ? 'file' : 'localstorage';
}

/**
 * Opens the configured driver (a localforage instance given as `driver` is used as it is,
 * reported as `'localforage'`). Without an explicit
 * `driver`, a failure to open IndexedDB falls back (with a warning) to the file driver in Node
 * or localStorage elsewhere; an explicit driver that fails rejects with `storage/unavailable`.
 * @internal
 */
export async function openDriver(
  request: DriverRequest,
): Promise<{ backend: StorageBackend; driver: StorageDriverName | 'localforage' }> {
  const given = request.driver;
  const environment: DriverEnvironment = {
    hasIndexedDB: (request.indexedDB ?? globalThis.indexedDB) !== undefined,
    isNode: typeof globalThis.process?.versions?.node === 'string',
  };
  const chosen = given ?? chooseDefaultDriver(environment);
  if (given === undefined && chosen === 'localstorage') {
    request.logger.warn(
      'IndexedDB is not available here: storing in localStorage, which has no transactions and holds about 5 MB. storage.driver is "localstorage".',
    );
  }
  try {
    return {
      backend: await open(chosen, request),
      driver: typeof chosen === 'object' ? 'localforage' : chosen,
    };
  } catch (error) {
    if (given !== undefined || chosen !== 'indexeddb')
      throw toStorageError(
        error,
        `Opening the ${typeof chosen === 'object' ? 'localforage instance' : `${chosen} driver`}`,
      );
    const fallback = environment.isNode ? 'file' : 'localstorage';
    request.logger.warn(
      `IndexedDB could not be opened (${error instanceof Error ? error.message : String(error)}): storing with the ${fallback} driver instead. storage.driver is "${fallback}".`,
    );
    try {
      return { backend: await open(fallback, request), driver: fallback };
    } catch (fallbackError) {
      throw toStorageError(fallbackError, `Opening the ${fallback} driver (after IndexedDB failed)`);
    }
  }
}

async function open(
  driver: StorageDriverName | LocalForageLike,
  request: DriverRequest,
): Promise<StorageBackend> {
  if (driver === 'indexeddb') {
    const factory = request.indexedDB ?? globalThis.indexedDB;
    if (factory === undefined) {
      throw storageError(
        'storage/unavailable',
        'IndexedDB does not exist here: in Node, use driver "file" (or install fake-indexeddb for tests); in a browser, check that site data is allowed.',
      );
    }
    return IndexedDbDriver.open(factory, request.name);
  }
  // Every other driver (never on a browser's default path) is behind one more lazy chunk.
  return (await import('./other-drivers.js')).openOtherDriver(driver, request);
}
