/**
 * One change of {@link KeyValueStore.commit}: store `value` under `key`, or (`remove: true`)
 * delete `key`.
 */
export type StorageChange =
  | { readonly key: string; readonly value: unknown }
  | { readonly key: string; readonly remove: true };

/**
 * The storage interface other plugins program against (Sync keeps its outbox in one). Both
 * {@link StoragePlugin} and its namespace views implement it.
 *
 * - `set`, `remove` and `clear` resolve only after the driver committed the change.
 * - `keys(prefix?)` lists keys without reading or decrypting values, sorted ascending by UTF-16
 *   code units (JavaScript's default string order) on every driver.
 * - Keys are not secret; with a `secret`, values are encrypted and authenticated.
 *
 * @example
 * async function saveDraft(store: KeyValueStore, id: string, text: string) {
 *   await store.set(`draft/${id}`, { text, savedAt: Date.now() });
 * }
 */
export interface KeyValueStore {
  /** The value under `key`, or `undefined` when absent. */
  get<T = unknown>(key: string): Promise<T | undefined>;
  /** Stores a JSON-serialisable `value` under `key`; resolves after commit. */
  set(key: string, value: unknown): Promise<void>;
  /** Deletes `key` (absent keys are fine); resolves after commit. */
  remove(key: string): Promise<void>;
  /**
   * Applies several changes together, in order, and resolves once all are committed: all or
   * nothing where the driver has transactions (IndexedDB, memory) and for a quota or full-disk
   * failure on the file driver (every new value is written before anything is renamed or
   * deleted); only a crash part-way through a file-driver commit, or localStorage, can leave a
   * prefix of it applied — so put the change that must come last (a removal) last.
   * Bad input throws before anything is written.
   *
   * @example await store.commit([{ key: 'outcome/1', value: outcome }, { key: 'op/1', remove: true }]);
   */
  commit(changes: readonly StorageChange[]): Promise<void>;
  /** Keys starting with `prefix` (all keys when omitted), sorted ascending. */
  keys(prefix?: string): Promise<string[]>;
  /** Deletes the keys starting with `prefix` (all keys of this store or view when omitted). */
  clear(prefix?: string): Promise<void>;
  /** A view whose keys live under `prefix + '/'`; it sees none of the others' keys. Views nest. */
  namespace(prefix: string): KeyValueStore;
}
