/**
 * One change of {@link KeyValueStore.commit}: store `value` under `key`, or (`remove: true`)
 * delete `key`. `V` is the type of the values of the store it is given to.
 */
export type StorageChange<V = unknown> =
  | { readonly key: string; readonly value: V }
  | { readonly key: string; readonly remove: true };

/**
 * The storage interface other plugins program against (Sync keeps its outbox in one). Both
 * {@link StoragePlugin} and its namespace views implement it.
 *
 * - `set`, `remove` and `clear` resolve only after the driver committed the change.
 * - `get` and `keys` see the writes called before them on the same storage (any view), awaited
 *   or not: they wait for those to commit, never for writes called after them.
 * - `keys(prefix?)` lists keys without reading or decrypting values, sorted ascending by UTF-16
 *   code units (JavaScript's default string order) on every driver.
 * - Keys are not secret; with a `secret`, values are encrypted and authenticated.
 *
 * `V` is the type of the values, as the caller declares it (`storage.namespace<Note>('notes')`);
 * it is not checked at run time: stored data is the app's own, and each value is authenticated
 * when a secret is set.
 *
 * @example
 * async function saveDraft(store: KeyValueStore<Draft>, id: string, text: string) {
 *   await store.set(`draft/${id}`, { text, savedAt: Date.now() });
 * }
 */
export interface KeyValueStore<V = unknown> {
  /** The value under `key`, or `undefined` when absent. */
  get<T extends V = V>(key: string): Promise<T | undefined>;
  /** Stores a JSON-serialisable `value` under `key`; resolves after commit. */
  set(key: string, value: V): Promise<void>;
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
  commit(changes: readonly StorageChange<V>[]): Promise<void>;
  /** Keys starting with `prefix` (all keys when omitted), sorted ascending. */
  keys(prefix?: string): Promise<string[]>;
  /** Deletes the keys starting with `prefix` (all keys of this store or view when omitted). */
  clear(prefix?: string): Promise<void>;
  /**
   * A view whose keys live under `prefix + '/'`; it sees none of the others' keys. Views nest.
   * `U` types its values: `const notes = storage.namespace<Note>('notes')`.
   */
  namespace<U = unknown>(prefix: string): KeyValueStore<U>;
}
