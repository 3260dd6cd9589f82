import { storageError } from '../errors.js';
import type { GenerationHint, StorageBackend, StorageWrite } from './storage-backend.js';

const storeName = 'records';
/** How long `IndexedDbDriver.open()` waits for the database to open. @internal */
export const openTimeoutMs = 10_000;

/**
 * A {@link StorageBackend} over IndexedDB: database `name`, one object store, one transaction
 * per operation (one per batch for `writeBatch`). Writes resolve on the transaction's `complete` event; a transaction that aborts
 * rejects with its `error` (e.g. a `QuotaExceededError`). The factory is looked up when the
 * database is opened, so tests can install a fresh `fake-indexeddb` factory at any time.
 *
 * Note: browsers complete transactions with relaxed durability (safe across a tab or browser
 * crash, maybe not across an OS crash or power loss).
 *
 * @example
 * const backend = await IndexedDbDriver.open(globalThis.indexedDB, 'fluxy');
 */
export class IndexedDbDriver implements StorageBackend {
  readonly #db: IDBDatabase;
  /** The reads asked for in this turn, read together at its end (see {@link getItem}). */
  #reads: { keys: string[]; values: Promise<IDBRequest[]> } | undefined;
  readonly hint: GenerationHint | undefined;

  private constructor(db: IDBDatabase, name: string) {
    this.#db = db;
    this.hint = localStorageHint(name);
  }

  /**
   * Opens (creating if needed) the database; rejects if it is blocked or cannot be opened, and
   * with `storage/unavailable` if it has not opened after 10 s: Safari and Chromium have been seen
   * to leave an open without any event, which held `ready()` forever. Once it rejected, its timer
   * is cleared, and a connection that opens after all (the timeout, or a blocked open whose other
   * tab let go) is closed at once: nothing uses it.
   */
  static open(factory: IDBFactory, name: string): Promise<IndexedDbDriver> {
    return new Promise((resolve, reject) => {
      const request = factory.open(name, 1);
      const fail = (error: unknown): void => {
        clearTimeout(timer);
        request.onsuccess = () => request.result.close();
        reject(error);
      };
      // A FluxyError: openDriver does not fall back to another driver after it.
      const timer = setTimeout(
        fail,
        openTimeoutMs,
        storageError(
          'storage/unavailable',
          `indexedDB.open("${name}") did not finish within ${openTimeoutMs / 1000} s (a known browser fault): reload the page. Nothing was read or written.`,
        ),
      );
      // Version 1 is only ever upgraded from 0: a new database, with no object store yet.
      request.onupgradeneeded = () => request.result.createObjectStore(storeName);
      request.onsuccess = () => {
        clearTimeout(timer);
        const db = request.result;
        // Let another tab upgrade or delete the database instead of blocking it forever.
        db.onversionchange = () => db.close();
        resolve(new IndexedDbDriver(db, name));
      };
      request.onerror = () => fail(request.error ?? new Error(`indexedDB.open("${name}") failed`));
      request.onblocked = () =>
        fail(new Error(`indexedDB.open("${name}") is blocked by a connection in another tab`));
    });
  }

  /**
   * Reads asked for in the same turn share one readonly transaction: a read-ahead of several
   * records costs one (in Chromium, each transaction running while a request is on the wire
   * delayed its answer by ≈ 0.4 ms on the bench machine). Each resolves on its `complete`.
   */
  getItem(key: string): Promise<string | undefined> {
    let reads = this.#reads;
    if (!reads) {
      const keys: string[] = [];
      const values = Promise.resolve().then(() => {
        this.#reads = undefined;
        return this.#run('readonly', (store) => keys.map((key) => store.get(key)));
      });
      reads = this.#reads = { keys, values };
    }
    const index = reads.keys.push(key) - 1;
    return reads.values.then((requests) => {
      const value: unknown = requests[index]?.result;
      return typeof value === 'string' ? value : value === undefined ? undefined : JSON.stringify(value);
    });
  }

  async setItem(key: string, value: string): Promise<void> {
    await this.#run('readwrite', (store) => store.put(value, key));
  }

  async writeBatch(writes: readonly StorageWrite[]): Promise<void> {
    await this.#run('readwrite', (store) => {
      for (const { key, value } of writes) {
        if (value === undefined) store.delete(key);
        else store.put(value, key);
      }
    });
  }

  async insertIfAbsent(key: string, value: string): Promise<boolean> {
    let inserted = true;
    await this.#run('readwrite', (store) => {
      const request = store.add(value, key);
      request.onerror = (event) => {
        if (request.error?.name !== 'ConstraintError') return;
        inserted = false;
        event.preventDefault(); // the key exists: not a failure, and the transaction must not abort
      };
    });
    return inserted;
  }

  async keys(): Promise<string[]> {
    const keys = (await this.#run('readonly', (store) => store.getAllKeys())).result;
    return keys.filter((key): key is string => typeof key === 'string');
  }

  async clear(): Promise<void> {
    await this.#run('readwrite', (store) => store.clear());
  }

  /** A turn later, so the reads asked for until now get their transaction first (close() lets it finish). */
  async close(): Promise<void> {
    await null;
    this.#db.close();
  }

  /**
   * The browser closes the connection itself when the database is deleted from outside (site
   * data cleared, eviction); a deletion from another page asks for version `null` first.
   */
  onGone(listener: () => void): void {
    const db = this.#db;
    db.onclose = listener;
    db.onversionchange = (event) => {
      if (event.newVersion === null) listener();
      db.close();
    };
  }

  /**
   * One transaction: `operation` makes its requests; resolves with what it returned once the
   * transaction completes (so a write is committed), rejects if it aborts. A request that throws
   * (a key IndexedDB refuses) aborts it, so the others never commit alone.
   */
  #run<T>(mode: IDBTransactionMode, operation: (store: IDBObjectStore) => T): Promise<T> {
    return new Promise((resolve, reject) => {
      const transaction = this.#db.transaction(storeName, mode);
      transaction.onabort = () =>
        reject(transaction.error ?? new Error('the IndexedDB transaction was aborted'));
      try {
        const result = operation(transaction.objectStore(storeName));
        transaction.oncomplete = () => resolve(result);
      } catch (error) {
        transaction.onabort = () => reject(error);
        transaction.abort();
      }
    });
  }
}

/**
 * The generation hint in `localStorage` (which survives when only IndexedDB is cleared); none where
 * it is unusable. It also tells whether a fallback to localStorage left records of database `name`
 * there (other-drivers.ts marks it under `fluxy:fallback:<name>` before it writes anything): one
 * read, so a start with nothing to merge loads nothing more.
 */
function localStorageHint(name: string): GenerationHint | undefined {
  let storage: Storage | undefined;
  try {
    storage = globalThis.localStorage;
  } catch {
    // Access denied (site data blocked): no hint.
  }
  if (!storage) return undefined;
  const key = `fluxy:generation:${name}`;
  return {
    read: async () => storage.getItem(key) ?? undefined,
    write: async (id) => storage.setItem(key, id),
    fallback: storage.getItem(`fluxy:fallback:${name}`),
  };
}
