import type { LockManagerLike } from '../../src/plugins/sync/index.js';

/**
 * An in-process lock manager with Web Locks semantics for exclusive locks: requests for a name
 * queue in order; the lock is held until the callback's promise settles; an aborted waiting
 * request rejects and leaves the queue. `crash(holder)` simulates a tab dying while holding.
 */
export class TestLockManager implements LockManagerLike {
  readonly #queues = new Map<string, Array<{ run: () => void; abort: () => void }>>();
  readonly #held = new Set<string>();
  grants = 0;

  request(
    name: string,
    options: { signal?: AbortSignal },
    callback: (lock: unknown) => Promise<unknown>,
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const entry = {
        run: () => {
          this.#held.add(name);
          this.grants++;
          Promise.resolve()
            .then(() => callback({ name }))
            .then(resolve, reject)
            .finally(() => {
              this.#held.delete(name);
              this.#next(name);
            });
        },
        abort: () => {
          const queue = this.#queues.get(name) ?? [];
          const index = queue.indexOf(entry);
          if (index >= 0) {
            queue.splice(index, 1);
            reject(options.signal?.reason ?? new Error('AbortError'));
          }
        },
      };
      if (options.signal?.aborted) return reject(options.signal.reason);
      options.signal?.addEventListener('abort', entry.abort, { once: true });
      const queue = this.#queues.get(name) ?? [];
      this.#queues.set(name, queue);
      queue.push(entry);
      if (!this.#held.has(name) && queue.length === 1) this.#next(name);
    });
  }

  #next(name: string): void {
    if (this.#held.has(name)) return;
    const entry = this.#queues.get(name)?.shift();
    entry?.run();
  }
}

/**
 * Web Locks as the tabs of one browser share them, `ifAvailable` included (the callback gets null
 * while the lock is held; TestLockManager alone ignores it): one TestLockManager underneath.
 * `onRequest` is told of every request, before it is granted or refused.
 */
export function webLocks(onRequest?: (name: string, options: { ifAvailable?: boolean }) => void) {
  const locks = new TestLockManager();
  const held = new Set<string>();
  return {
    /** Whether a lock of this name is held now. */
    held: (name: string): boolean => held.has(name),
    request(
      name: string,
      options: { signal?: AbortSignal; ifAvailable?: boolean },
      callback: (lock: unknown) => Promise<unknown>,
    ): Promise<unknown> {
      onRequest?.(name, options);
      if (options.ifAvailable && held.has(name)) return Promise.resolve(callback(null));
      return locks.request(name, options, async (lock) => {
        held.add(name);
        try {
          return await callback(lock);
        } finally {
          held.delete(name);
        }
      });
    },
  };
}
