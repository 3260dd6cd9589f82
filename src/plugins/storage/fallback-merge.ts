import type { Logger } from '../../core/logger.js';
import type { StorageBackend, StorageWrite } from './drivers/storage-backend.js';
import type { RecordCodec } from './record-codec.js';

// In the chunk of database-setup.ts (loaded only when IndexedDB's hint says a fallback left
// records), and in other-drivers.ts's: it imports nothing at run time, so the start-up chunks stay
// as they are. Hence the constants below repeat those of database-metadata.ts and
// indexeddb-driver.ts (tests/storage/fallback-merge*.test.ts go through them).

/**
 * The localStorage key a fallback to localStorage sets before it writes anything (other-drivers.ts),
 * that IndexedDB's open reads (indexeddb-driver.ts: the hint's `fallback`), and that this merge
 * removes last. @internal
 */
export const fallbackMarker = (name: string): string => `fluxy:fallback:${name}`;
const metadataKey = '\u0000fluxy:meta';
const reserved = '\u0000';

/**
 * Brings into IndexedDB (`database`: opened, its generation checked, `codec` its encryption) the
 * records that a run which fell back to localStorage left there, then removes them from
 * localStorage — before the app reads anything (open-store.ts):
 *
 * - Only the records under keys IndexedDB does not hold are copied: a key in both keeps
 *   IndexedDB's value (Sync's keys are unique operation ids, so only a record merged before — a
 *   crash, another tab — is in both; a collection's cursor keeps IndexedDB's, older one, and its
 *   next pull brings what changed since). The fallback's own reserved records (generation,
 *   encryption metadata) are never copied: the generation check ran on IndexedDB alone before,
 *   so a wipe of IndexedDB is still reported, and the merge never looks like one.
 * - Unencrypted records are copied as they are (`{"v":1,"value":…}`, the same text on every
 *   driver). Encrypted ones cannot be: their MAC binds the fallback database's random id, and its
 *   own salt gave other keys. The fallback database is opened with the same options (`unlock`:
 *   its key check), and each record is decrypted and sealed again for IndexedDB. A record that
 *   fails authentication is copied as it is (and refused when read, as it was).
 * - One IndexedDB transaction for all of them; then the records are removed from localStorage
 *   (the app's first, the fallback's reserved ones next, the marker last), all before `ready()`.
 *   A crash between the two leaves both copies: the next start copies nothing again (IndexedDB has
 *   the keys) and removes the rest. A copy or a removal that fails fails the open: going on would
 *   let Sync send an operation that a later start would merge again.
 * - Where Web Locks exist, the open runs under the database's lock (open-store.ts), so two tabs
 *   merge one after the other: the marker, read again here, tells the later one there is nothing
 *   left. Without them, a record is copied only if it is still in localStorage in the turn its
 *   transaction is created: a record another tab merged (and may have sent and removed since) is
 *   not copied again, and one it has not removed from localStorage yet cannot have been sent
 *   (it removes them before its ready()).
 * - A tab still running on the fallback holds `fluxy-fallback:<name>` (shared; other-drivers.ts):
 *   then nothing is merged at this start, with a warning (it still writes there); a later start
 *   merges it. Without Web Locks such a tab is not seen.
 * - What cannot be read with these options (the fallback is encrypted and this database is not,
 *   or the other way round, or another secret) stays in localStorage, with a warning at each start.
 * @internal
 */
export async function merge(
  database: StorageBackend,
  codec: RecordCodec,
  unlock: (database: StorageBackend) => Promise<RecordCodec>,
  { name }: { readonly name: string },
  logger: Pick<Logger, 'warn'>,
): Promise<void> {
  const locks = (globalThis as { navigator?: { locks?: FallbackLocks } }).navigator?.locks;
  const run = () => mergeNow(database, codec, unlock, name, logger);
  if (typeof locks?.request !== 'function') return run();
  await locks.request(`fluxy-fallback:${name}`, { ifAvailable: true }, (lock) => {
    if (lock) return run();
    logger.warn(
      'Another tab still runs on the localStorage fallback of this database: what it stored there is merged into IndexedDB at a later start. Database:',
      name,
    );
    return Promise.resolve();
  });
}

/** What {@link merge} and the fallback ask of Web Locks beyond what Sync does. @internal */
export interface FallbackLocks {
  request(
    name: string,
    options: { ifAvailable?: boolean; mode?: 'shared' | 'exclusive' },
    callback: (lock: unknown) => Promise<unknown>,
  ): Promise<unknown>;
}

async function mergeNow(
  database: StorageBackend,
  codec: RecordCodec,
  unlock: (database: StorageBackend) => Promise<RecordCodec>,
  name: string,
  logger: Pick<Logger, 'warn'>,
): Promise<void> {
  const storage = globalThis.localStorage;
  const prefix = `${name}/records/`;
  const fallback = new LocalStorageRecords(storage, prefix);
  // Another tab merged it while this one waited for the lock.
  if (storage.getItem(fallbackMarker(name)) === null) return;
  const keys = fallback.list();
  const records = keys.filter((key) => !key.startsWith(reserved));
  const seen = new Map<string, string>();
  if (records.length > 0) {
    const sealed = (await database.getItem(metadataKey)) !== undefined;
    if (sealed !== (fallback.read(metadataKey) !== undefined)) {
      logger.warn(
        `The localStorage fallback of this database holds records ${sealed ? 'without' : 'with'} encryption, which this database ${sealed ? 'has' : 'has not'}: they stay there, not merged. Database and records:`,
        name,
        records.length,
      );
      return;
    }
    let reader: RecordCodec | undefined;
    try {
      // Unencrypted records are the same text on every driver; encrypted ones are sealed again.
      reader = sealed ? await unlock(fallback) : undefined;
    } catch (error) {
      logger.warn(
        `The localStorage fallback of this database does not open with these options (${error instanceof Error ? error.message : String(error)}): its records stay there, not merged. Database, records and error:`,
        name,
        records.length,
        error,
      );
      return;
    }
    const present = new Set(await database.keys());
    const copies: Array<StorageWrite & { stored: string }> = [];
    for (const key of records) {
      const stored = fallback.read(key);
      if (stored === undefined) continue;
      seen.set(key, stored);
      if (present.has(key)) continue;
      const value = reader
        ? await reader.decode(key, stored).then(
            (decoded) => codec.encode(key, JSON.stringify(decoded)),
            () => stored,
          )
        : stored;
      copies.push({ key, value, stored });
    }
    // Read again in the turn the transaction is created (see above): no await in between.
    const still = copies.filter(({ key, stored }) => fallback.read(key) === stored);
    if (still.length > 0) await database.writeBatch(still.map(({ key, value }) => ({ key, value })));
  }
  // The records copied (or whose key IndexedDB has), as they were read: one rewritten meanwhile
  // (a tab on the fallback, without Web Locks) stays, and with it the metadata and the marker.
  for (const [key, stored] of seen) if (fallback.read(key) === stored) storage.removeItem(prefix + key);
  if (fallback.list().some((key) => !key.startsWith(reserved))) return;
  // The fallback's reserved records, and the marker last: a crash part-way leaves it, so the next
  // start finishes the job.
  for (const key of keys) if (key.startsWith(reserved)) storage.removeItem(prefix + key);
  storage.removeItem(fallbackMarker(name));
}

/**
 * A database of the `localstorage` driver read and written without localforage: localforage's
 * localStorage driver keeps each value under `<name>/records/<key>` (its store `records` is not
 * its default one), as `JSON.stringify` of the string the record store gave it. Enough of a
 * {@link StorageBackend} for `unlock` to read the fallback's metadata (and, should it need to,
 * write what an open writes). @internal
 */
export class LocalStorageRecords implements StorageBackend {
  readonly #storage: Storage;
  readonly #prefix: string;

  constructor(storage: Storage, prefix: string) {
    this.#storage = storage;
    this.#prefix = prefix;
  }

  /** The keys of this database (without the prefix), synchronously. */
  list(): string[] {
    const keys: string[] = [];
    for (let index = 0; index < this.#storage.length; index++) {
      const key = this.#storage.key(index);
      if (key?.startsWith(this.#prefix)) keys.push(key.slice(this.#prefix.length));
    }
    return keys;
  }

  /** The stored string under `key`, synchronously (as localforage reads it: JSON). */
  read(key: string): string | undefined {
    const text = this.#storage.getItem(this.#prefix + key);
    if (text === null) return undefined;
    try {
      const value: unknown = JSON.parse(text);
      return typeof value === 'string' ? value : text;
    } catch {
      return text;
    }
  }

  async getItem(key: string): Promise<string | undefined> {
    return this.read(key);
  }

  async setItem(key: string, value: string): Promise<void> {
    this.#storage.setItem(this.#prefix + key, JSON.stringify(value));
  }

  async keys(): Promise<string[]> {
    return this.list();
  }

  async writeBatch(writes: readonly StorageWrite[]): Promise<void> {
    for (const { key, value } of writes) {
      if (value === undefined) this.#storage.removeItem(this.#prefix + key);
      else await this.setItem(key, value);
    }
  }

  async insertIfAbsent(key: string, value: string): Promise<boolean> {
    if (this.read(key) !== undefined) return false;
    await this.setItem(key, value);
    return true;
  }

  async clear(): Promise<void> {
    for (const key of this.list()) this.#storage.removeItem(this.#prefix + key);
  }

  async close(): Promise<void> {}
}
