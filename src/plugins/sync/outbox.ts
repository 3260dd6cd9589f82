import { isFluxyError } from '../../core/errors.js';
import { isOperationRecord, type OperationRecord } from './operation.js';
import { isOperationId } from './operation-id.js';
import { type OutboxChange, WriteGroup } from './write-group.js';

/** The part of a key-value store the outbox needs (a `fluxy/storage` namespace fits). */
export interface OutboxStorage {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<void>;
  remove(key: string): Promise<void>;
  keys(prefix?: string): Promise<string[]>;
  /** Several changes committed together (see `KeyValueStore.commit` in `fluxy/storage`). */
  commit(changes: readonly OutboxChange[]): Promise<void>;
}

/** Which list a record is in. */
export type OutboxList = 'pending' | 'failed';

const prefixes: Record<OutboxList, string> = { pending: 'p/', failed: 'f/' };

/** A record that exists but failed authentication, decryption or shape checks. */
export class UnreadableRecordError extends Error {
  constructor(
    readonly id: string,
    cause: unknown,
  ) {
    super(`record ${id} is unreadable`, { cause });
    this.name = 'UnreadableRecordError';
  }
}

const unreadableCodes = new Set(['storage/tampered', 'storage/unsupported-version']);

/**
 * Ordered operation records in one storage namespace: `p/<id>` for pending, `f/<id>` for failed.
 * Ids are time-ordered, so keys sort in enqueue order and appending costs the same at any depth.
 * It knows nothing about HTTP; the flusher decides what to do with the records.
 */
export class Outbox {
  readonly #storage: OutboxStorage;

  constructor(storage: OutboxStorage) {
    this.#storage = storage;
  }

  /**
   * The ids in each list, sorted, read from keys only (given, or listed now) (no record is decrypted) — except for the
   * rare id found in both lists after a crash mid-move, which is settled by the records' `rev`.
   */
  async scan(keys?: string[]): Promise<{ pending: string[]; failed: string[] }> {
    // One key listing for both lists (a listing costs about the same whatever the prefix).
    const all = keys ?? (await this.#storage.keys());
    const pending = idsOf(all, prefixes.pending);
    const failed = idsOf(all, prefixes.failed);
    const failedSet = new Set(failed);
    for (const id of pending.filter((candidate) => failedSet.has(candidate))) {
      // Rare (a crash mid-move): settled by code loaded then (queue-edits.ts).
      const keep = await (await import('./queue-edits.js')).settleDuplicate(this, id);
      const list = keep === 'pending' ? failed : pending;
      list.splice(list.indexOf(id), 1);
    }
    return { pending, failed };
  }

  /** Read a record; undefined if absent; throws {@link UnreadableRecordError} if it cannot be trusted. */
  async read(list: OutboxList, id: string): Promise<OperationRecord | undefined> {
    let value: unknown;
    try {
      value = await this.#storage.get(prefixes[list] + id);
    } catch (error) {
      if (isFluxyError(error) && unreadableCodes.has(error.code)) throw new UnreadableRecordError(id, error);
      throw error;
    }
    if (value === undefined || value === null) return undefined;
    if (!isOperationRecord(value, id))
      throw new UnreadableRecordError(id, new Error('not an operation record'));
    return value;
  }

  /** Write a record into a list (commit before resolving). */
  async write(list: OutboxList, record: OperationRecord): Promise<void> {
    await this.commit(this.stage(new WriteGroup(), list, record));
  }

  /** Remove a record from a list. */
  async remove(list: OutboxList, id: string): Promise<void> {
    await this.#storage.remove(prefixes[list] + id);
  }

  /** Add the write of `record` into `list` to `group`. */
  stage(group: WriteGroup, list: OutboxList, record: OperationRecord): WriteGroup {
    return group.set(prefixes[list] + record.id, record);
  }

  /** Add the removal of record `id` from `list` to `group`. */
  stageRemoval(group: WriteGroup, list: OutboxList, id: string): WriteGroup {
    return group.remove(prefixes[list] + id);
  }

  /**
   * Add the move of a record to the other list to `group`: the new copy (with a higher `rev`)
   * first, then the removal of the old one, so a commit cut short (a crash on a driver without
   * transactions) leaves two copies (settled by `scan`), never none. Returns the moved record.
   */
  stageMove(group: WriteGroup, record: OperationRecord, to: OutboxList): OperationRecord {
    const moved: OperationRecord = { ...record, rev: record.rev + 1 };
    this.stage(group, to, moved);
    this.stageRemoval(group, to === 'failed' ? 'pending' : 'failed', record.id);
    return moved;
  }

  /** Commit a group of changes to the outbox's namespace together. */
  commit(group: WriteGroup): Promise<void> {
    return group.commit(this.#storage);
  }
}

function idsOf(keys: string[], prefix: string): string[] {
  const ids: string[] = [];
  for (const key of keys) {
    if (!key.startsWith(prefix)) continue;
    const id = key.slice(prefix.length);
    if (isOperationId(id)) ids.push(id);
  }
  return ids.sort();
}
