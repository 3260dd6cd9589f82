import type { GenerationWatch } from './database-metadata.js';
import type { StorageBackend } from './drivers/storage-backend.js';
import { storageError, toStorageError } from './errors.js';
import { GroupCommit } from './group-commit.js';
import { toJson } from './json-value.js';
import type { KeyValueStore, StorageChange } from './key-value-store.js';
import { NamespaceView } from './namespace-view.js';
import type { RecordCodec } from './record-codec.js';
import {
  assertChanges,
  assertKey,
  assertPrefix,
  namespaceSeparator,
  reservedKeyPrefix,
} from './storage-keys.js';

/**
 * The {@link KeyValueStore} over a driver backend and a record codec (plain or encrypted). It
 * validates keys and values before touching the driver, so bad input changes nothing, and maps
 * driver failures to `storage/quota-exceeded` / `storage/unavailable`. Reserved metadata keys
 * are invisible to `keys()` and `clear()`. Concurrent writes share driver commits
 * ({@link GroupCommit}); each still resolves only once its own write is committed.
 *
 * @example
 * const store = new RecordStore(new MemoryDriver(), new PlainCodec());
 * await store.set('a', { n: 1 });
 * await store.keys(); // ['a']
 */
export class RecordStore implements KeyValueStore {
  readonly #backend: StorageBackend;
  readonly #codec: RecordCodec;
  readonly #commits: GroupCommit;
  readonly #watch: GenerationWatch | undefined;
  // Settles once the latest write was handed to the driver: writes reach it in call order even
  // though encrypting takes a variable time.
  #issued: Promise<unknown> = Promise.resolve();
  // Settles once every write called so far was committed or failed: reads wait for it (so they
  // see the writes called before them, and none called after), and close() for it.
  #written: Promise<unknown> = Promise.resolve();

  /** With `watch`, a database wiped under the app fails every call with `storage/lost`. */
  constructor(backend: StorageBackend, codec: RecordCodec, watch?: GenerationWatch) {
    this.#backend = backend;
    this.#codec = codec;
    this.#watch = watch;
    this.#commits = new GroupCommit(backend);
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    assertKey(key);
    const stored = await this.#read(() => this.#backend.getItem(key), 'get', key);
    if (stored === undefined) return undefined;
    return (await this.#codec.decode(key, stored)) as T;
  }

  async set(key: string, value: unknown): Promise<void> {
    assertKey(key);
    const record = this.#codec.encode(key, toJson(value, key));
    await this.#inCallOrder(record, (stored) =>
      this.#call(() => this.#commits.writeGroup([{ key, value: stored }]), 'set', key),
    );
  }

  async remove(key: string): Promise<void> {
    assertKey(key);
    await this.#inCallOrder(undefined, () =>
      this.#call(() => this.#commits.writeGroup([{ key }]), 'remove', key),
    );
  }

  async commit(changes: readonly StorageChange[]): Promise<void> {
    assertChanges(changes);
    for (const change of changes) assertKey(change.key);
    // Every value checked before anything is encoded or written.
    const json = changes.map((change) => ('remove' in change ? undefined : toJson(change.value, change.key)));
    const records = Promise.all(
      changes.map((change, index) => {
        const text = json[index];
        return text === undefined ? undefined : this.#codec.encode(change.key, text);
      }),
    );
    await this.#inCallOrder(records, (stored) =>
      this.#call(
        () =>
          this.#commits.writeGroup(
            changes.map((change, index) => ({ key: change.key, value: stored[index] })),
          ),
        'commit',
      ),
    );
  }

  async keys(prefix?: string): Promise<string[]> {
    assertPrefix(prefix);
    return this.#list(prefix);
  }

  /** The keys under `prefix`, listed once `after` settled (by default, the writes called before). */
  async #list(prefix?: string, after?: Promise<unknown>): Promise<string[]> {
    const keys = await this.#read(() => this.#backend.keys(), 'keys', prefix, after);
    if (this.#watch?.checkListing(keys)) throw lostError();
    const start = prefix ?? '';
    // Array#sort without a comparator orders by UTF-16 code units, whatever the driver returned.
    return keys.filter((key) => key.startsWith(start) && !key.startsWith(reservedKeyPrefix)).sort();
  }

  async clear(prefix?: string): Promise<void> {
    assertPrefix(prefix);
    const written = this.#written;
    // Held until done, so a write called after clear() is never cleared by it.
    await this.#inCallOrder(
      undefined,
      async () => {
        const keys = await this.#list(prefix, written);
        await this.#call(
          () => Promise.all(keys.map((key) => this.#commits.writeGroup([{ key }]))),
          'clear',
          prefix,
        );
      },
      true,
    );
  }

  namespace<U = unknown>(prefix: string): KeyValueStore<U> {
    assertKey(prefix, 'namespace');
    return new NamespaceView(this, prefix + namespaceSeparator);
  }

  /**
   * Calls `perform` once `prepare` (if any) resolved and every earlier write was handed to the driver
   * (with `hold`, once this one finished), so drivers see writes in call order while encryption
   * of several writes runs concurrently.
   */
  #inCallOrder<P, T>(
    prepare: P | Promise<P>,
    perform: (prepared: P) => Promise<T>,
    hold = false,
  ): Promise<T> {
    const previous = this.#issued;
    const ready = Promise.all([prepare, previous]);
    const result = ready.then(([prepared]) => perform(prepared));
    this.#written = Promise.allSettled([this.#written, result]);
    // With `hold`, once every write so far settled: this one settles after the earlier ones.
    this.#issued = hold ? this.#written : Promise.allSettled([prepare, previous]);
    return result;
  }

  /**
   * Reads through {@link #call} once `after` settled: by default once the writes called before
   * are committed, so a read sees them (as IndexedDB orders a readonly transaction after a
   * readwrite one), and waits for none called after it.
   */
  #read<T>(read: () => Promise<T>, method: string, key?: string, after = this.#written): Promise<T> {
    return after.then(() => this.#call(read, method, key));
  }

  /**
   * Calls the driver; its failure becomes a storage error — `storage/lost` once the database is
   * found gone. `method` and `key` name the call in the message.
   */
  async #call<T>(call: () => Promise<T>, method: string, key?: string): Promise<T> {
    if (this.#watch?.lost) throw lostError();
    try {
      return await call();
    } catch (error) {
      if (await this.#watch?.confirm()) throw lostError();
      throw toStorageError(error, `${method}(${key === undefined ? '' : JSON.stringify(key)})`);
    }
  }

  /** Releases the driver (connections, handles). */
  async close(): Promise<void> {
    // Writes called before close() commit first (one may still be encrypting). Reads called before
    // it wait for the same writes, so they reach the driver before it is closed.
    await this.#written;
    await this.#backend.close();
  }
}

/** What every call of a store whose database was found gone fails with. @internal */
export function lostError(): Error {
  return storageError(
    'storage/lost',
    'The database was deleted while the app ran (site data cleared, storage evicted, its folder removed): this app reads and writes nothing more, so no part of the lost data is used again. Reload (or create a new app) to start on a fresh database.',
  );
}
