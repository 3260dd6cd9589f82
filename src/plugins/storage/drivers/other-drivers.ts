import type { toStorageError } from '../errors.js';
import { type FallbackLocks, fallbackMarker } from '../fallback-merge.js';
import type { LocalForageLike } from './localforage-driver.js';
import type { DriverRequest, StorageDriverName } from './open-driver.js';
import type { StorageBackend } from './storage-backend.js';

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
 * What open-driver.ts does not open itself (a browser on IndexedDB never loads this chunk): a
 * driver other than IndexedDB, a localforage instance the app gives, the default where IndexedDB
 * does not exist, or — after `indexedDbFailure` — the fallback without an explicit driver. An
 * explicit driver that fails rejects with `storage/unavailable`. @internal
 */
export async function openOtherDriver(
  request: DriverRequest,
  storageFailure: typeof toStorageError,
  indexedDbFailure?: { error: unknown },
): Promise<{ backend: StorageBackend; driver: StorageDriverName | 'localforage' }> {
  const isNode = typeof globalThis.process?.versions?.node === 'string';
  const chosen = request.driver ?? chooseDefaultDriver({ hasIndexedDB: false, isNode });
  if (indexedDbFailure) {
    const { error } = indexedDbFailure;
    // (The production build strips the prose: the driver and the error stay.)
    request.logger.warn(
      `IndexedDB could not be opened (${error instanceof Error ? error.message : String(error)}): storage.driver is`,
      chosen,
      error,
    );
  } else if (request.driver === undefined && chosen === 'localstorage') {
    request.logger.warn(
      'IndexedDB is not available here: storing in localStorage, which has no transactions and holds about 5 MB. storage.driver is',
      chosen,
    );
  }
  // A fallback to localStorage: a later start on IndexedDB merges what it writes (fallback-merge.ts).
  const fallback = request.driver === undefined && chosen === 'localstorage';
  const release = fallback ? await holdFallbackLock(request.name) : undefined;
  try {
    const backend = await open(chosen, request);
    if (fallback) {
      // Marked before anything is written there: a start on IndexedDB reads only this key (beside
      // its generation hint, `fluxy:generation:<name>`). A marker that cannot be written (a full
      // localStorage) fails the open: what it would write there would never be merged.
      const { localStorage } = globalThis;
      const marker = fallbackMarker(request.name);
      if (localStorage.getItem(marker) === null) localStorage.setItem(marker, '1');
      if (release) {
        const close = backend.close.bind(backend);
        backend.close = () => {
          release();
          return close();
        };
      }
    }
    return { backend, driver: typeof chosen === 'object' ? 'localforage' : chosen };
  } catch (error) {
    release?.();
    throw storageFailure(
      error,
      indexedDbFailure
        ? `Opening the ${String(chosen)} driver (after IndexedDB failed)`
        : `Opening the ${typeof chosen === 'object' ? 'localforage instance' : `${chosen} driver`}`,
    );
  }
}

/**
 * Where Web Locks exist, a fallback holds `fluxy-fallback:<name>` in shared mode while it is open
 * (closed, or its page gone), so that no tab starting on IndexedDB merges its records meanwhile
 * (fallback-merge.ts asks for it exclusively, if available); it waits for a merge under way
 * first. Resolves once granted, with the function that releases it.
 */
async function holdFallbackLock(name: string): Promise<(() => void) | undefined> {
  const locks = (globalThis as { navigator?: { locks?: FallbackLocks } }).navigator?.locks;
  if (typeof locks?.request !== 'function') return undefined;
  return new Promise((granted) => {
    locks
      .request(
        `fluxy-fallback:${name}`,
        { mode: 'shared' },
        () => new Promise((release) => granted(() => release(undefined))),
      )
      .catch(() => granted(undefined)); // no lock: as without Web Locks
  });
}

async function open(
  driver: StorageDriverName | LocalForageLike,
  request: DriverRequest,
): Promise<StorageBackend> {
  if (typeof driver === 'object') {
    // An instance the app gives, used as it is.
    const { LocalForageBackend } = await import('./localforage-driver.js');
    await driver.ready();
    return new LocalForageBackend(driver);
  }
  switch (driver) {
    case 'indexeddb':
      throw new Error(
        'IndexedDB does not exist here: in Node, use driver "file" (or install fake-indexeddb for tests); in a browser, check that site data is allowed',
      );
    case 'localstorage': {
      // localforage (which looks at its environment when it loads) is loaded only for this driver
      // or an instance the app gives: never on the default path.
      const [{ default: library }, { LocalForageBackend }] = await Promise.all([
        import('localforage'),
        import('./localforage-driver.js'),
      ]);
      return LocalForageBackend.open(library, { name: request.name, driverId: library.LOCALSTORAGE });
    }
    case 'memory': {
      const { MemoryDriver } = await import('./memory-driver.js');
      return new MemoryDriver({ quota: request.quota });
    }
    case 'file': {
      // A package import: the `node` condition gets ./file-driver.ts, everything else (browser
      // bundlers) ./file-driver-unavailable.ts, so no browser build ever sees a `node:` import.
      const { FileDriver } = await import('#file-driver');
      return FileDriver.open({ dir: request.dir, name: request.name, quota: request.quota });
    }
  }
}
