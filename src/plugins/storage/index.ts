import type { StoragePlugin } from './plugin.js';

export type { CipherEngine } from './cipher.js';
export type { LocalForageLike } from './drivers/localforage-driver.js';
export type { StorageDriverName } from './drivers/open-driver.js';
export type { StorageErrorCode } from './errors.js';
export type { KeyValueStore, StorageChange } from './key-value-store.js';
export type { StorageOptions } from './options.js';
export { type StorageEvents, type StorageLoss, type StoragePersistence, StoragePlugin } from './plugin.js';
export { defaultIterations, minIterations } from './record-keys.js';

declare module '../../core/plugin.js' {
  interface FluxyPlugins {
    storage: StoragePlugin;
  }
}

declare module '../../core/errors.js' {
  interface FluxyErrorCodes {
    storage: import('./errors.js').StorageErrorCode;
  }
}
