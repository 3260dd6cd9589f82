import type { LocalForageLike } from './localforage-driver.js';
import type { DriverRequest, StorageDriverName } from './open-driver.js';
import type { StorageBackend } from './storage-backend.js';

/**
 * Opens a driver other than IndexedDB: a localforage instance the app gives, `localstorage`,
 * `memory` or `file`. Loaded only for them, so a browser on IndexedDB never fetches it. @internal
 */
export async function openOtherDriver(
  driver: Exclude<StorageDriverName, 'indexeddb'> | LocalForageLike,
  request: DriverRequest,
): Promise<StorageBackend> {
  if (typeof driver === 'object') {
    // An instance the app gives, used as it is.
    const { LocalForageBackend } = await import('./localforage-driver.js');
    await driver.ready();
    return new LocalForageBackend(driver);
  }
  switch (driver) {
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
