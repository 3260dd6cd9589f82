import type { KeyValueStore } from '../storage/key-value-store.js';
import { HybridClock, randomHex } from './clock.js';
import type { CollectionLocks, Row } from './options.js';

/**
 * Where a collection keeps its state, in its own storage namespace (encrypted with the rest):
 *
 *   c/<id>       the confirmed rows as a log of chunks, each `{ rows, deleted }` as one pull page
 *                or one server answer wrote it, in parts of at most ≈ 40 KB (`c/<id>+001`…: in
 *                Chromium, an IndexedDB value over 64 KB is written as a blob file, ≈ 4× the cost
 *                of the same bytes in smaller records); chunk ids sort in write order, so replaying them
 *                in key order gives the rows (a row older than the one replayed before it — both
 *                with a numeric `version` — is skipped; a deletion has no version: only the order
 *                keeps a deleted row deleted). What orders them: before each write, the chunk-id
 *                clock (below) moves past the last chunk stamp stored (`l`, written in the commit
 *                of every chunk), whichever tab or run wrote it; so a chunk sorts after every chunk whose commit
 *                ended before it was written, even if the wall clock went back since (NTP, the
 *                user) or stands still (two tabs in one millisecond). Only writes at the same time
 *                (an answer stored during another tab's pull) are not ordered: no clock can tell.
 *                Keys are as before: caches of earlier versions replay as they did (their
 *                first write has no `l` to follow: the wall clock orders it, as before). Writing a page
 *                is one record (and `l`) and reads only `l` (listing the keys instead cost a
 *                listing of the whole database per write), and tabs never overwrite each other:
 *                they only add chunks. Past 64 chunks, the log is compacted into snapshot chunks
 *                (under the collection's write lock, in one commit replacing only the chunks it
 *                read); replay reads the snapshot first, then the chunks written since in key order.
 *   l            the last chunk stamp written (see above)
 *   meta         { v: 1, cursor, pulledAt }
 *   clock        the last hybrid logical clock stamp issued or adopted
 *   a/<tempId>   the server id that replaced a temporary id (while a pending change may use it)
 *   x/<opId>     a write refused with 412, to resolve once a pull brought the server's row
 *   w/<opId>     a write of this replica applied: [row id, version made on, version made, …] (conflicts.ts)
 * @internal
 */
export class RowCache<R extends Row> {
  /** The namespace (conflicts.ts keeps its `x/` records there). */
  readonly kv: KeyValueStore;
  readonly #key: string;
  /** The collection's locks (across tabs with Web Locks): compaction, deciding refusals (conflicts.ts). */
  readonly lock: Lock;
  /**
   * Chunk ids: a hybrid logical clock's stamps without their dashes — 9 base-36 digits of ms, 4 of
   * a counter, and 8 random hex digits of this instance (7 base-36 ones in older chunks: the first
   * 13 sort them alike), which tell apart chunks two tabs write in the same millisecond. Moved
   * past the stored chunks before each write (see above).
   */
  readonly #ids = new HybridClock(randomHex(4));
  #writesSinceCheck = 0;

  constructor(store: KeyValueStore, key: string, lock: Lock) {
    this.kv = store;
    this.#key = key;
    this.lock = lock;
  }

  /** Everything stored, read at start-up: the rows, the aliases (unchecked), the meta, the clock (unchecked). */
  loadAll(): Promise<[rows: R[], aliases: Array<[string, unknown]>, meta: CacheMeta, clock: unknown]> {
    return Promise.all([this.readRows(), this.#aliases(), this.readMeta(), this.kv.get('clock')]);
  }

  /** The confirmed rows, replayed from the chunk log. */
  async readRows(): Promise<R[]> {
    return [...(await this.#replay(await this.kv.keys('c/'))).values()];
  }

  async #replay(keys: readonly string[]): Promise<Map<string, R>> {
    // Snapshots (`.` in the key) first, then the other chunks in key order: a chunk beside a
    // snapshot was not folded into it, so it came later, whatever its key (another tab's chunk of
    // the same millisecond can sort before the snapshot).
    keys = [...keys].sort((a, b) => +b.includes('.') - +a.includes('.'));
    const chunks = await Promise.all(keys.map((key) => this.kv.get<Chunk<R>>(key)));
    const rows = new Map<string, R>();
    for (const chunk of chunks) {
      if (chunk?.v !== 1) continue;
      for (const row of chunk.rows) {
        const id = row[this.#key] as string;
        const current = rows.get(id);
        if (current && isOlder(row, current)) continue;
        rows.set(id, row);
      }
      for (const id of chunk.deleted) rows.delete(id);
    }
    return rows;
  }

  async readMeta(): Promise<CacheMeta> {
    const meta = await this.kv.get<CacheMeta>('meta');
    return meta?.v === 1 ? meta : { v: 1, cursor: '' };
  }

  /**
   * Store pages of rows and deletions, with the temporary ids they resolve (and, for pull pages,
   * the new cursor) in one commit: each page one chunk, the cursor last — never the cursor
   * without its rows.
   */
  async writePages(
    pages: ReadonlyArray<{
      rows: readonly R[];
      deleted: readonly string[];
      aliases?: ReadonlyArray<[string, string]>;
    }>,
    meta?: CacheMeta,
  ): Promise<void> {
    // Past every chunk stored before (see above): `l` holds the last chunk stamp any tab or run wrote.
    this.#ids.restoreStamp((await this.kv.get('l')) as string);
    const changes: Array<{ key: string; value: unknown }> = [];
    for (const { rows, deleted, aliases = [] } of pages) {
      for (const [tempId, serverId] of aliases) changes.push({ key: `a/${tempId}`, value: serverId });
      if (!rows.length && !deleted.length) continue;
      const id = `c/${this.#ids.nextStamp().replace(/-/g, '')}`;
      const parts = split(rows);
      parts.forEach((part, n) => {
        const chunk: Chunk<R> = {
          v: 1,
          rows: part,
          deleted: n === parts.length - 1 ? (deleted as string[]) : [],
        };
        changes.push({ key: n === 0 ? id : `${id}+${n.toString(36).padStart(3, '0')}`, value: chunk });
      });
    }
    if (meta) changes.push({ key: 'meta', value: meta });
    if (!changes.length) return;
    changes.push({ key: 'l', value: this.#ids.lastStamp });
    await this.kv.commit(changes);
    this.#writesSinceCheck += pages.length;
    if (this.#writesSinceCheck >= compactEvery) {
      this.#writesSinceCheck = 0;
      // Loaded at the first look: a log reaches 16 writes only after many pages or answers.
      await (await import('./compaction.js')).compactLog(
        this.kv,
        this.lock,
        (keys) => this.#replay(keys),
        split,
      );
    }
  }

  saveClock(stamp: string): Promise<void> {
    return this.kv.set('clock', stamp);
  }

  /** The temporary ids stored (`a/`): [temporary id, server id]. */
  async #aliases(): Promise<Array<[string, unknown]>> {
    const keys = await this.kv.keys('a/');
    return Promise.all(keys.map(async (key) => [key.slice(2), await this.kv.get(key)] as [string, unknown]));
  }

  /** Forget temporary ids no pending change uses any more. */
  async forgetAliases(tempIds: Iterable<string>): Promise<void> {
    await Promise.all([...tempIds].map((tempId) => this.kv.remove(`a/${tempId}`)));
  }
}

/**
 * `rows` in parts of at most ≈ 40 KB of JSON (estimated from the first rows), so that each
 * record, encrypted and in base64, stays under Chromium's 64 KB blob threshold. @internal
 */
export function split<R>(rows: readonly R[]): R[][] {
  // Bytes per row: over 1 (`[{}]` is 4); Infinity without rows (one empty part then).
  const bytes = new TextEncoder().encode(JSON.stringify(rows.slice(0, 8))).length / Math.min(rows.length, 8);
  const size = Math.max(1, Math.floor(partBytes / bytes));
  const parts: R[][] = [];
  // (At least one part, empty without rows.)
  for (let start = 0; !start || start < rows.length; start += size)
    parts.push(rows.slice(start, start + size));
  return parts;
}

const partBytes = 40_000;
/** How many writes between two looks at the log's length (a key listing). */
const compactEvery = 16;

/** A record of the log. @internal */
export interface Chunk<R> {
  v: 1;
  rows: R[];
  deleted: string[];
}

/** True when both rows carry a numeric version and `row`'s is lower. @internal */
export function isOlder(row: Row, current: Row): boolean {
  return (
    typeof row.version === 'number' && typeof current.version === 'number' && row.version < current.version
  );
}

/** What `meta` holds. @internal */
export interface CacheMeta {
  v: 1;
  /** The server's cursor of the last page stored; '' before the first pull. */
  cursor: string;
  /** When the last complete pull ended (ms since epoch); null or absent: none yet. */
  pulledAt?: number | null;
}

/**
 * Runs `task` holding the named lock of this collection: across tabs with Web Locks, in this
 * instance without; resolves once it ran. With `ifAvailable`, resolves without running `task`
 * when the lock is held elsewhere. @internal
 */
export type Lock = (
  name: 'pull' | 'write' | 'resolve',
  task: () => Promise<unknown>,
  options?: { ifAvailable?: boolean; signal?: AbortSignal },
) => Promise<void>;

/** @internal */
export function createLock(locks: CollectionLocks | false | undefined, prefix: string): Lock {
  const queues = new Map<string, Promise<unknown>>();
  const held = new Set<string>();
  return (name, task, options = {}) => {
    // In this instance: one at a time (Web Locks would queue us behind ourselves anyway).
    if (options.ifAvailable && held.has(name)) return Promise.resolve();
    const run = (queues.get(name) ?? Promise.resolve()).then(async () => {
      held.add(name);
      try {
        // (A lock held elsewhere, with ifAvailable: null, and nothing runs.)
        await (locks
          ? locks.request(`${prefix}:${name}`, options, async (lock) => lock !== null && task())
          : task());
      } finally {
        held.delete(name);
      }
    });
    queues.set(
      name,
      run.catch(() => undefined),
    );
    return run;
  };
}
