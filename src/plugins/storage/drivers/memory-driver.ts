import { quotaExceeded, recordSize, type StorageBackend, type StorageWrite } from './storage-backend.js';

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

  /** All or nothing: a batch over the quota changes nothing. */
  async writeBatch(writes: readonly StorageWrite[]): Promise<void> {
    const next = new Map<string, string | undefined>();
    let used = this.#used;
    for (const { key, value } of writes) {
      const previous = next.has(key) ? next.get(key) : this.#records.get(key);
      used +=
        (value === undefined ? 0 : recordSize(key, value)) -
        (previous === undefined ? 0 : recordSize(key, previous));
      next.set(key, value);
    }
    if (this.#quota !== undefined && used > this.#quota) throw quotaExceeded(this.#quota, used);
    for (const [key, value] of next) {
      if (value === undefined) this.#records.delete(key);
      else this.#records.set(key, value);
    }
    this.#used = used;
  }

  async insertIfAbsent(key: string, value: string): Promise<boolean> {
    if (this.#records.has(key)) return false;
    await this.setItem(key, value);
    return true;
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
