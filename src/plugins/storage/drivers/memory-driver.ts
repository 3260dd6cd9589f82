import { quotaExceeded, recordSize, type StorageBackend } from './storage-backend.js';

/**
 * A {@link StorageBackend} in memory, for tests: nothing survives the instance. An optional
 * byte `quota` makes quota failures reproducible.
 *
 * @example
 * const backend = new MemoryDriver({ quota: 1024 });
 */
export class MemoryDriver implements StorageBackend {
  readonly #records = new Map<string, string>();
  readonly #quota: number | undefined;
  #used = 0;

  /** @param options.quota - bytes (UTF-8 of keys and values) this store may hold. @default unlimited */
  constructor(options: { quota?: number | undefined } = {}) {
    this.#quota = options.quota;
  }

  async getItem(key: string): Promise<string | undefined> {
    return this.#records.get(key);
  }

  async setItem(key: string, value: string): Promise<void> {
    const previous = this.#records.get(key);
    const used =
      this.#used - (previous === undefined ? 0 : recordSize(key, previous)) + recordSize(key, value);
    if (this.#quota !== undefined && used > this.#quota) throw quotaExceeded(this.#quota, used);
    this.#records.set(key, value);
    this.#used = used;
  }

  async removeItem(key: string): Promise<void> {
    const previous = this.#records.get(key);
    if (previous === undefined) return;
    this.#records.delete(key);
    this.#used -= recordSize(key, previous);
  }

  async keys(): Promise<string[]> {
    return [...this.#records.keys()];
  }

  async clear(): Promise<void> {
    this.#records.clear();
    this.#used = 0;
  }

  async close(): Promise<void> {
    this.#records.clear();
    this.#used = 0;
  }
}
