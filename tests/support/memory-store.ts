import type { OutboxStorage } from '../../src/plugins/sync/outbox.js';

/**
 * A Map-backed store for engine tests: values are deep-copied on the way in and out (as a real
 * driver would), and hooks let a test make a key fail to read or a write fail.
 */
export class MemoryStore implements OutboxStorage {
  readonly data = new Map<string, string>();
  failReads = new Map<string, Error>();
  failWrites: Error | undefined;
  writes = 0;

  async get(key: string): Promise<unknown> {
    const error = this.failReads.get(key);
    if (error) throw error;
    const text = this.data.get(key);
    return text === undefined ? undefined : (JSON.parse(text) as unknown);
  }

  async set(key: string, value: unknown): Promise<void> {
    if (this.failWrites) throw this.failWrites;
    this.writes++;
    this.data.set(key, JSON.stringify(value));
  }

  async remove(key: string): Promise<void> {
    this.data.delete(key);
  }

  /** All or nothing: with `failWrites` set, a commit that stores anything fails and changes nothing. */
  async commit(
    changes: ReadonlyArray<{ key: string; value: unknown } | { key: string; remove: true }>,
  ): Promise<void> {
    if (this.failWrites && changes.some((change) => !('remove' in change))) throw this.failWrites;
    for (const change of changes) {
      if ('remove' in change) this.data.delete(change.key);
      else {
        this.writes++;
        this.data.set(change.key, JSON.stringify(change.value));
      }
    }
  }

  async keys(prefix = ''): Promise<string[]> {
    return [...this.data.keys()].filter((key) => key.startsWith(prefix)).sort();
  }
}

/**
 * A store whose commits that remove `p/<id>` first wait for `hold(id)` (a promise: resolve to
 * commit, reject to fail the commit and change nothing). With `ordered`, commits also land in
 * the order they were called, as IndexedDB runs readwrite transactions on one object store: a
 * commit called while a held one waits lands after it.
 */
export class GatedStore extends MemoryStore {
  hold: ((id: string) => Promise<void>) | undefined;
  ordered = false;
  #last: Promise<unknown> = Promise.resolve();

  override commit(
    changes: ReadonlyArray<{ key: string; value: unknown } | { key: string; remove: true }>,
  ): Promise<void> {
    const run = async (): Promise<void> => {
      const removed = changes.find((change) => 'remove' in change && change.key.startsWith('p/'));
      if (removed && this.hold) await this.hold(removed.key.slice(2));
      await super.commit(changes);
    };
    if (!this.ordered) return run();
    const landed = this.#last.then(run);
    this.#last = landed.catch(() => undefined);
    return landed;
  }
}

/** A promise with its resolve and reject. */
export function gate() {
  let open: () => void = () => {};
  let fail: (error: Error) => void = () => {};
  const promise = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}
