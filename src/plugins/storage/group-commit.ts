import type { StorageBackend, StorageWrite } from './drivers/storage-backend.js';

/** At most this many writes share one driver commit (bounds a transaction's size and memory). */
const maxBatch = 512;

interface Waiting {
  /** One write, or a group that must be committed together. */
  readonly writes: readonly StorageWrite[];
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Group commit over a {@link StorageBackend}: writes handed over while a commit is in progress
 * wait for it and then go to the driver together, in one `writeBatch` (one IndexedDB
 * transaction). A lone write goes at once, so sequential awaited writes cost what they did; a
 * burst of concurrent writes costs a few commits instead of one each. Writes reach the driver in
 * the order they were handed over. Each promise resolves only once its own write is committed.
 * When a batch fails, the groups in it (a single write is a group of one) are tried one by one,
 * so only the group that caused the failure (say, the write over quota) rejects; a group is
 * never split.
 *
 * @example
 * const commits = new GroupCommit(backend);
 * await Promise.all([commits.writeGroup([{ key: 'a', value: '1' }]), commits.writeGroup([{ key: 'b' }])]); // set a, remove b
 */
export class GroupCommit {
  readonly #backend: StorageBackend;
  #waiting: Waiting[] = [];
  #running: Promise<void> | undefined;

  constructor(backend: StorageBackend) {
    this.#backend = backend;
  }

  /**
   * Hands writes to the driver as one unit (in one `writeBatch`: now, or with the next batch);
   * resolves once all are committed.
   */
  writeGroup(writes: readonly StorageWrite[]): Promise<void> {
    if (writes.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#waiting.push({ writes, resolve, reject });
      this.#running ??= this.#run();
    });
  }

  async #run(): Promise<void> {
    while (this.#waiting.length > 0) {
      const batch = this.#waiting.splice(0, maxBatch);
      await this.#commit(batch);
    }
    this.#running = undefined;
  }

  async #commit(batch: Waiting[]): Promise<void> {
    try {
      // A lone write too: a batch of one is one transaction, as setItem would be.
      await this.#backend.writeBatch(batch.flatMap((waiting) => waiting.writes));
      for (const waiting of batch) waiting.resolve();
      return;
    } catch (error) {
      if (batch.length === 1) {
        batch[0]?.reject(error);
        return;
      }
    }
    // Attribute the failure: retry one by one (rewriting a value that did land is harmless).
    for (const waiting of batch) {
      try {
        await this.#backend.writeBatch(waiting.writes);
        waiting.resolve();
      } catch (error) {
        waiting.reject(error);
      }
    }
  }
}
