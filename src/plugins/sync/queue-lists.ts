import type { SyncMessage } from './change-channel.js';
import type { OutboxList } from './outbox.js';
import { SortedIds } from './sorted-ids.js';

/**
 * A page of `pending()` or `failed()`: at most `limit` operations, starting after the one whose id
 * is `after` (the last id of the previous page), in list order.
 *
 * @example
 * for (let page = await sync.pending({ limit: 100 }); page.length > 0; ) {
 *   render(page);
 *   page = await sync.pending({ limit: 100, after: page.at(-1)?.id });
 * }
 */
export interface ListOptions {
  /** At most this many operations (a whole number ≥ 1). @default all */
  limit?: number | undefined;
  /** Start after the operation with this id (exclusive). @default from the first */
  after?: string | undefined;
}

/** One change to a list, journaled while a rescan reads storage. */
type Change = [list: OutboxList, change: 'add' | 'remove', id: string];

/**
 * The ids of the outbox's two lists, in memory: what the status counts and the flush walks, kept
 * true to storage. A change made here is announced to the other tabs; one they announce, or one
 * found in storage, is only noted. A rescan replaces both lists with what storage lists; changes
 * made while it reads are journaled and replayed over the listing, so a stale scan loses nothing.
 */
export class QueueLists {
  /** The pending ids, in send order. */
  readonly pending = new SortedIds();
  #failed = new Set<string>();
  readonly #journals = new Set<Change[]>();
  readonly #announce: (message: SyncMessage) => void;
  readonly #onPendingRemoved: (id: string) => void;

  /**
   * @param announce - tells the other tabs of a change made here.
   * @param onPendingRemoved - called for each id leaving the pending list (to drop a copy read ahead).
   */
  constructor(announce: (message: SyncMessage) => void, onPendingRemoved: (id: string) => void) {
    this.#announce = announce;
    this.#onPendingRemoved = onPendingRemoved;
  }

  /** The failed ids, in no particular order. */
  get failed(): ReadonlySet<string> {
    return this.#failed;
  }

  /** Ids added to `list` here: noted and announced. */
  add(list: OutboxList, ids: string[]): void {
    this.note('added', list, ids);
    this.#announce({ type: 'added', list, ids });
  }

  /** Ids removed from `list` here: noted and announced. */
  remove(list: OutboxList, ids: string[]): void {
    this.note('removed', list, ids);
    this.#announce({ type: 'removed', list, ids });
  }

  /** Ids moved from one list to the other here: noted and announced. */
  move(ids: string[], from: OutboxList, to: OutboxList): void {
    this.remove(from, ids);
    this.add(to, ids);
  }

  /** A change that needs no announcing: made by another tab, or found in storage. */
  note(change: 'added' | 'removed', list: OutboxList, ids: readonly string[]): void {
    const add = change === 'added';
    for (const journal of this.#journals)
      for (const id of ids) journal.push([list, add ? 'add' : 'remove', id]);
    if (list === 'pending') {
      if (add) this.pending.add(ids);
      else {
        for (const id of ids) this.#onPendingRemoved(id);
        this.pending.remove(ids);
      }
    } else if (add) for (const id of ids) this.#failed.add(id);
    else for (const id of ids) this.#failed.delete(id);
  }

  /**
   * Replace both lists with what `scan` reads from storage, with the changes made meanwhile
   * replayed over it. Resolves with the greatest id in either list ('' when both are empty).
   */
  async replace(scan: () => Promise<Record<OutboxList, string[]>>): Promise<string> {
    const journal: Change[] = [];
    this.#journals.add(journal);
    let scanned: Record<OutboxList, string[]>;
    try {
      scanned = await scan();
    } finally {
      this.#journals.delete(journal);
    }
    const lists = { pending: new Set(scanned.pending), failed: new Set(scanned.failed) };
    for (const [list, change, id] of journal) {
      if (change === 'add') lists[list].add(id);
      else lists[list].delete(id);
    }
    let last = '';
    for (const id of lists.pending) if (id > last) last = id;
    for (const id of lists.failed) if (id > last) last = id;
    this.pending.reset(lists.pending);
    this.#failed = lists.failed;
    return last;
  }
}
