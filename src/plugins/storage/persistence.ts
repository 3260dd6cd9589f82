import type { StoragePersistence } from './plugin.js';

interface StorageManagerLike {
  persist?(): Promise<boolean>;
  persisted?(): Promise<boolean>;
}

/**
 * `navigator.storage.persist()` (for storage.requestPersistence()) or `persisted()` (for
 * storage.persistence()) as a {@link StoragePersistence}: loaded when the app asks (on a user's
 * gesture), off the start-up path. A rejection counts as not persisted. @internal
 */
export async function askStorageManager(
  method: 'requestPersistence' | 'persistence',
): Promise<StoragePersistence> {
  const manager = (globalThis as { navigator?: { storage?: StorageManagerLike } }).navigator?.storage;
  const ask = manager?.[method === 'persistence' ? 'persisted' : 'persist'];
  if (typeof ask !== 'function') return 'unsupported';
  try {
    return (await ask.call(manager)) ? 'persisted' : 'best-effort';
  } catch {
    return 'best-effort';
  }
}
