import type { StorageBackend, StorageWrite } from './storage-backend.js';

/**
 * What Fluxy uses of a localforage instance (`localforage.createInstance(...)`, on any of its
 * drivers, built-in or defined with `localforage.defineDriver`).
 *
 * @example
 * const instance: LocalForageLike = localforage.createInstance({ name: 'app', driver: someDriver });
 * new StoragePlugin({ driver: instance });
 */
export interface LocalForageLike {
  ready(): Promise<void>;
  getItem<T>(key: string): Promise<T | null>;
  setItem<T>(key: string, value: T): Promise<T>;
  removeItem(key: string): Promise<void>;
  keys(): Promise<string[]>;
  clear(): Promise<void>;
}

/**
 * A {@link StorageBackend} over a localforage instance: localStorage through localforage's own
 * driver, or an instance the app gives. localforage has no transactions: a batch is written one
 * change after the other, each atomic, and put back when one fails (see writeBatch). @internal
 */
export class LocalForageBackend implements StorageBackend {
  readonly #instance: LocalForageLike;

  constructor(instance: LocalForageLike) {
    this.#instance = instance;
  }

  /** A new instance (never the global default one) for database `name` on localforage driver `driverId`. */
  static async open(
    library: LocalForageLike & { createInstance(options: LocalForageOptions): LocalForageLike },
    options: { name: string; driverId: string },
  ): Promise<LocalForageBackend> {
    const instance = library.createInstance({
      name: options.name,
      storeName: 'records',
      driver: options.driverId,
    });
    await instance.ready();
    return new LocalForageBackend(instance);
  }

  async getItem(key: string): Promise<string | undefined> {
    const value = await this.#instance.getItem<unknown>(key);
    return value === null ? undefined : typeof value === 'string' ? value : JSON.stringify(value);
  }

  async setItem(key: string, value: string): Promise<void> {
    await this.#instance.setItem(key, value);
  }

  /**
   * One change after the other (localforage has no transactions). When one fails — a write over
   * the quota — the changes before it are put back, latest first, so the batch changes nothing,
   * as an aborted IndexedDB transaction does (unless putting back fails too: a crash or a broken
   * store). The last change needs no copy: nothing after it is undone.
   */
  async writeBatch(writes: readonly StorageWrite[]): Promise<void> {
    const instance = this.#instance;
    const undo: Array<[key: string, previous: unknown]> = [];
    try {
      for (const [index, { key, value }] of writes.entries()) {
        if (index < writes.length - 1) undo.push([key, await instance.getItem<unknown>(key)]);
        if (value === undefined) await instance.removeItem(key);
        else await instance.setItem(key, value);
      }
    } catch (error) {
      for (const [key, previous] of undo.reverse()) {
        await (previous === null ? instance.removeItem(key) : instance.setItem(key, previous)).catch(
          () => {},
        );
      }
      throw error;
    }
  }

  /** A read then a write: atomic over localStorage (synchronous, one origin), best effort elsewhere. */
  async insertIfAbsent(key: string, value: string): Promise<boolean> {
    if ((await this.#instance.getItem(key)) !== null) return false;
    await this.#instance.setItem(key, value);
    return true;
  }

  keys(): Promise<string[]> {
    return this.#instance.keys();
  }

  clear(): Promise<void> {
    return this.#instance.clear();
  }

  async close(): Promise<void> {}
}
