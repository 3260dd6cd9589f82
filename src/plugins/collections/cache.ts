import type { KeyValueStore } from '../storage/key-value-store.js';
import type { CollectionLocks, Row } from './options.js';

/**
 * Where a collection keeps its state, in its own storage namespace (encrypted with the rest):
 *
 *   b/<00..1f>   the confirmed rows, in 32 buckets by a hash of the id: a cold start reads 32
 *                records, and an answer or a pull page rewrites only the buckets it touches
 *   meta         { v: 1, cursor, pulledAt }
 *   clock        the last hybrid logical clock stamp issued or adopted
 *   a/<tempId>   the server id that replaced a temporary id (while a pending change may use it)
 *   x/<opId>     a write refused with 412, to resolve once a pull brought the server's row
 *
 * Rows are rewritten under the collection's write lock (one writer at a time, across tabs), and
 * each write re-reads the buckets it changes, so two tabs never overwrite each other's rows.
 * @internal
 */
export class RowCache<R extends Row> {
  readonly #store: KeyValueStore;
  readonly #key: string;
  readonly #lock: Lock;

  constructor(store: KeyValueStore, key: string, lock: Lock) {
    this.#store = store;
    this.#key = key;
    this.#lock = lock;
  }

  /** Everything stored, read at start-up. */
  async load(): Promise<{
    rows: R[];
    meta: CacheMeta;
    clock: string | undefined;
    aliases: Array<[string, string]>;
  }> {
    const [bucketKeys, aliasKeys, meta, clock] = await Promise.all([
      this.#store.keys('b/'),
      this.#store.keys('a/'),
      this.#store.get<CacheMeta>('meta'),
      this.#store.get<string>('clock'),
    ]);
    const buckets = await Promise.all(bucketKeys.map((key) => this.#store.get<Bucket<R>>(key)));
    const aliases = await Promise.all(
      aliasKeys.map(async (key) => [key.slice(2), await this.#store.get<string>(key)] as const),
    );
    return {
      rows: buckets.flatMap((bucket) => bucket?.rows ?? []),
      meta: meta?.v === 1 ? meta : { v: 1, cursor: '' },
      clock: typeof clock === 'string' ? clock : undefined,
      aliases: aliases.filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
    };
  }

  /** The rows of the buckets that hold `ids` (to catch up on what another tab wrote). */
  async rowsOf(ids: Iterable<string>): Promise<R[]> {
    const keys = new Set([...ids].map(bucketKey));
    const buckets = await Promise.all([...keys].map((key) => this.#store.get<Bucket<R>>(key)));
    return buckets.flatMap((bucket) => bucket?.rows ?? []);
  }

  async readMeta(): Promise<CacheMeta> {
    const meta = await this.#store.get<CacheMeta>('meta');
    return meta?.v === 1 ? meta : { v: 1, cursor: '' };
  }

  /**
   * Store rows and deletions (and, for a pull page, the new cursor), under the write lock. Rows
   * older than the stored ones (both with a numeric `version`) are skipped.
   */
  write(
    rows: readonly R[],
    deleted: readonly string[],
    meta?: CacheMeta,
    aliases?: Array<[string, string]>,
  ): Promise<void> {
    return this.#lock('write', async () => {
      const byBucket = new Map<string, { rows: R[]; deleted: string[] }>();
      const entry = (id: string) => {
        const key = bucketKey(id);
        let found = byBucket.get(key);
        if (!found) {
          found = { rows: [], deleted: [] };
          byBucket.set(key, found);
        }
        return found;
      };
      for (const row of rows) entry(row[this.#key] as string).rows.push(row);
      for (const id of deleted) entry(id).deleted.push(id);
      const writes = [...byBucket].map(async ([key, change]) => {
        const stored = new Map<string, R>();
        for (const row of (await this.#store.get<Bucket<R>>(key))?.rows ?? [])
          stored.set(row[this.#key] as string, row);
        for (const row of change.rows) {
          const id = row[this.#key] as string;
          const current = stored.get(id);
          if (
            current &&
            typeof row.version === 'number' &&
            typeof current.version === 'number' &&
            row.version < current.version
          )
            continue;
          stored.set(id, row);
        }
        for (const id of change.deleted) stored.delete(id);
        if (stored.size === 0) await this.#store.remove(key);
        else await this.#store.set(key, { v: 1, rows: [...stored.values()] } satisfies Bucket<R>);
      });
      for (const [tempId, serverId] of aliases ?? []) writes.push(this.#store.set(`a/${tempId}`, serverId));
      await Promise.all(writes);
      // After the rows: a crash in between pulls the same page again, which is harmless.
      if (meta) await this.#store.set('meta', meta);
    });
  }

  saveClock(stamp: string): Promise<void> {
    return this.#store.set('clock', stamp);
  }

  /** Conflicts waiting to be resolved after the next pull: operation id → the status that refused it. */
  async conflicts(): Promise<Array<[string, number]>> {
    const keys = await this.#store.keys('x/');
    const entries = await Promise.all(
      keys.map(async (key) => [key.slice(2), await this.#store.get<number>(key)] as const),
    );
    return entries.filter((entry): entry is [string, number] => typeof entry[1] === 'number');
  }

  addConflict(operationId: string, status: number): Promise<void> {
    return this.#store.set(`x/${operationId}`, status);
  }

  removeConflict(operationId: string): Promise<void> {
    return this.#store.remove(`x/${operationId}`);
  }

  /** Forget temporary ids no pending change uses any more. */
  async forgetAliases(tempIds: Iterable<string>): Promise<void> {
    await Promise.all([...tempIds].map((tempId) => this.#store.remove(`a/${tempId}`)));
  }
}

/** What `meta` holds. @internal */
export interface CacheMeta {
  v: 1;
  /** The server's cursor of the last page stored; '' before the first pull. */
  cursor: string;
  /** When the last complete pull ended (ms since epoch). */
  pulledAt?: number;
}

interface Bucket<R> {
  v: 1;
  rows: R[];
}

/** 32 buckets by FNV-1a of the id. */
function bucketKey(id: string): string {
  let hash = 0x811c9dc5;
  for (let index = 0; index < id.length; index++) {
    hash ^= id.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return `b/${((hash >>> 0) & 31).toString(16).padStart(2, '0')}`;
}

/**
 * Runs `task` holding the named lock of this collection: across tabs with Web Locks, in this
 * instance without. With `ifAvailable`, resolves with `undefined` (not running `task`) when the
 * lock is held elsewhere. @internal
 */
export type Lock = <T>(
  name: 'pull' | 'write',
  task: () => Promise<T>,
  options?: { ifAvailable?: boolean },
) => Promise<T | undefined>;

/** @internal */
export function createLock(locks: CollectionLocks | undefined, prefix: string): Lock {
  const local = new Map<string, Promise<unknown>>();
  const held = new Set<string>();
  return async <T>(
    name: 'pull' | 'write',
    task: () => Promise<T>,
    options: { ifAvailable?: boolean } = {},
  ) => {
    // In this instance: one at a time (Web Locks would queue us behind ourselves anyway).
    if (options.ifAvailable && held.has(name)) return undefined;
    const previous = local.get(name) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    local.set(
      name,
      previous.then(() => mine),
    );
    await previous;
    held.add(name);
    try {
      if (!locks) return await task();
      let ran = false;
      const result = (await locks.request(
        `${prefix}:${name}`,
        { ifAvailable: options.ifAvailable === true },
        async (lock) => {
          if (lock === null) return undefined;
          ran = true;
          return task();
        },
      )) as T | undefined;
      return ran ? result : undefined;
    } finally {
      held.delete(name);
      release();
    }
  };
}
