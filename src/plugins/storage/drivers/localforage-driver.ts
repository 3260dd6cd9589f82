import type localforage from 'localforage';
import type { StorageBackend, StorageWrite } from './storage-backend.js';

type LocalForageInstance = typeof localforage;

interface AdapterInstance {
  _dbInfo: { backend: StorageBackend } | null;
}

/** The localforage config key through which an instance receives its opened backend. @internal */
const backendOption = 'fluxyBackend';

/**
 * A localforage custom driver named `id` that forwards every call to the {@link StorageBackend}
 * given to `createInstance({ fluxyBackend })`. The driver object holds no state: localforage
 * calls its methods with `this` bound to the instance, which keeps the backend in `_dbInfo`.
 * @internal
 */
export function createBackendDriver(id: string): LocalForageDriver {
  const backendOf = (instance: unknown): StorageBackend => {
    const info = (instance as AdapterInstance)._dbInfo;
    if (!info) throw new Error('the Fluxy localforage driver was used before it was initialised');
    return info.backend;
  };
  return {
    _driver: id,
    _support: true,
    _initStorage(options) {
      const backend = (options as Record<string, unknown>)[backendOption] as StorageBackend | undefined;
      if (!backend) return Promise.reject(new Error(`driver ${id} needs the "${backendOption}" option`));
      (this as unknown as AdapterInstance)._dbInfo = { backend };
      return Promise.resolve();
    },
    getItem<T>(key: string) {
      return backendOf(this)
        .getItem(key)
        .then((value) => (value ?? null) as T | null);
    },
    setItem<T>(key: string, value: T) {
      return backendOf(this)
        .setItem(key, String(value))
        .then(() => value);
    },
    removeItem(key: string) {
      return backendOf(this).removeItem(key);
    },
    clear() {
      return backendOf(this).clear();
    },
    keys() {
      return backendOf(this).keys();
    },
    length() {
      return backendOf(this)
        .keys()
        .then((keys) => keys.length);
    },
    key(index: number) {
      return backendOf(this)
        .keys()
        .then((keys) => keys.sort()[index] as string);
    },
    async iterate<T, U>(iteratee: (value: T, key: string, iteration: number) => U) {
      const backend = backendOf(this);
      let iteration = 1;
      for (const key of (await backend.keys()).sort()) {
        const result = iteratee((await backend.getItem(key)) as T, key, iteration++);
        if (result !== undefined) return result;
      }
      return undefined as U;
    },
  };
}

/**
 * A {@link StorageBackend} over a localforage instance (built-in driver, or a custom driver
 * wrapping `inner`). @internal
 */
export class LocalForageBackend implements StorageBackend {
  readonly #instance: LocalForageInstance;
  readonly #inner: StorageBackend | undefined;

  private constructor(instance: LocalForageInstance, inner: StorageBackend | undefined) {
    this.#instance = instance;
    this.#inner = inner;
  }

  /**
   * A new localforage instance (never the global default one) for database `name` on driver
   * `driverId`; with `inner`, that driver is defined first as a {@link createBackendDriver}.
   */
  static async open(
    library: LocalForageInstance,
    options: { name: string; driverId: string; inner?: StorageBackend },
  ): Promise<LocalForageBackend> {
    if (options.inner && !library.supports(options.driverId)) {
      // A boolean `_support` makes localforage register the driver synchronously, so two
      // concurrent opens cannot both define it.
      library.defineDriver(createBackendDriver(options.driverId)).catch(() => {});
    }
    const config: LocalForageOptions & Record<string, unknown> = {
      name: options.name,
      storeName: 'records',
      driver: options.driverId,
      [backendOption]: options.inner,
    };
    const instance = library.createInstance(config);
    await instance.ready();
    if (instance.driver() !== options.driverId) {
      throw new Error(`localforage chose driver ${instance.driver()} instead of ${options.driverId}`);
    }
    return new LocalForageBackend(instance, options.inner);
  }

  // With one of our drivers inside, the hot paths call it directly: localforage would only add
  // its ready() and callback wrappers (several promise hops per call) on the way to the same code.
  async getItem(key: string): Promise<string | undefined> {
    if (this.#inner) return this.#inner.getItem(key);
    const value = await this.#instance.getItem<unknown>(key);
    return value === null ? undefined : typeof value === 'string' ? value : JSON.stringify(value);
  }

  async setItem(key: string, value: string): Promise<void> {
    if (this.#inner) return this.#inner.setItem(key, value);
    await this.#instance.setItem(key, value);
  }

  removeItem(key: string): Promise<void> {
    if (this.#inner) return this.#inner.removeItem(key);
    return this.#instance.removeItem(key);
  }

  /** One transaction when the wrapped driver has them (IndexedDB); else one write after the other. */
  async writeBatch(writes: readonly StorageWrite[]): Promise<void> {
    if (this.#inner) return this.#inner.writeBatch(writes);
    for (const { key, value } of writes) {
      if (value === undefined) await this.#instance.removeItem(key);
      else await this.#instance.setItem(key, value);
    }
  }

  /** Atomic through the wrapped driver; over localStorage (synchronous, one origin) a read then a write. */
  async insertIfAbsent(key: string, value: string): Promise<boolean> {
    if (this.#inner) return this.#inner.insertIfAbsent(key, value);
    if ((await this.#instance.getItem(key)) !== null) return false;
    await this.#instance.setItem(key, value);
    return true;
  }

  keys(): Promise<string[]> {
    if (this.#inner) return this.#inner.keys();
    return this.#instance.keys();
  }

  clear(): Promise<void> {
    return this.#instance.clear();
  }

  async close(): Promise<void> {
    await this.#inner?.close();
  }
}
