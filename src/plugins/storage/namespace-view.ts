import type { KeyValueStore, StorageChange } from './key-value-store.js';
import { assertChanges, assertKey, assertPrefix, namespaceSeparator } from './storage-keys.js';

/**
 * A scoped view of a {@link KeyValueStore}: key `k` of the view is key `prefix + k` of the
 * parent, and the view lists and clears only its own keys. Views nest.
 *
 * @example
 * const outbox = new NamespaceView(store, 'sync/'); // what store.namespace('sync') returns
 * await outbox.set('op/1', op);                      // stored as 'sync/op/1'
 */
export class NamespaceView implements KeyValueStore {
  readonly #root: KeyValueStore;
  readonly #prefix: string;

  /** @param prefix - the full key prefix, ending with "/". */
  constructor(root: KeyValueStore, prefix: string) {
    this.#root = root;
    this.#prefix = prefix;
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    assertKey(key);
    return this.#root.get<T>(this.#prefix + key);
  }

  async set(key: string, value: unknown): Promise<void> {
    assertKey(key);
    return this.#root.set(this.#prefix + key, value);
  }

  async remove(key: string): Promise<void> {
    assertKey(key);
    return this.#root.remove(this.#prefix + key);
  }

  async commit(changes: readonly StorageChange[]): Promise<void> {
    assertChanges(changes);
    return this.#root.commit(
      changes.map((change) => {
        assertKey(change.key);
        return { ...change, key: this.#prefix + change.key };
      }),
    );
  }

  async keys(prefix?: string): Promise<string[]> {
    assertPrefix(prefix);
    const keys = await this.#root.keys(this.#prefix + (prefix ?? ''));
    return keys.map((key) => key.slice(this.#prefix.length));
  }

  async clear(prefix?: string): Promise<void> {
    assertPrefix(prefix);
    return this.#root.clear(this.#prefix + (prefix ?? ''));
  }

  namespace<U = unknown>(prefix: string): KeyValueStore<U> {
    assertKey(prefix, 'namespace');
    return new NamespaceView(this.#root, this.#prefix + prefix + namespaceSeparator);
  }
}
