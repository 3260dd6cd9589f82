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
  /** Keys starting with `prefix` (all keys when omitted), sorted ascending. */
  keys(prefix?: string): Promise<string[]>;
  /** Deletes the keys starting with `prefix` (all keys of this store or view when omitted). */
  clear(prefix?: string): Promise<void>;
  /** A view whose keys live under `prefix + '/'`; it sees none of the others' keys. Views nest. */
  namespace(prefix: string): KeyValueStore;
}
