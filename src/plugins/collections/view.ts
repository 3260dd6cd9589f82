import type { ReadonlySignal, Signal } from '@preact/signals-core';
import { isOlder } from './cache.js';
import { computed, signal, publish as write } from './deps.js';
import type { Row } from './options.js';

/** A local change not yet answered by the server: what `items` shows on top of the confirmed rows. @internal */
export interface Change {
  /** The outbox operation that carries it; undefined while `queue()` has not committed it yet. */
  opId?: string | undefined;
  type: 'insert' | 'update' | 'remove';
  /** The row id as the change was made (possibly a temporary id). */
  id: string;
  /** Inserted fields or the patch. */
  data?: Row | undefined;
  /** Local order of changes not yet committed (none for a change listed from the outbox). */
  callOrder?: number;
  /** The collection's epoch at which this tab committed it (see `Collection`'s outbox listing). */
  commitEpoch?: number;
  /** When it stops being shown, having left the outbox without this tab seeing its answer. */
  settleBy?: number;
  /** Its row's entry in `pending` with it applied, as last computed (none: an update of a row not shown). */
  shownAs?: PendingRow<Row> | undefined;
}

/** A row with changes the server has not confirmed yet (`Collection.pending`). */
export interface PendingRow<R extends Row> {
  /**
   * `'insert'`: not created on the server yet (later updates included); `'update'`: changed;
   * `'remove'`: deleted here (`items` no longer shows it), the deletion not confirmed yet.
   */
  readonly type: 'insert' | 'update' | 'remove';
  /** The row as the server last had it; undefined for an insert. */
  readonly confirmed: R | undefined;
  /** The row as shown (as in `items`); undefined once removed. */
  readonly row: R | undefined;
  /** For a removal: what the row showed when it was removed (e.g. for a "deleting…" line). */
  readonly removed: R | undefined;
}

/**
 * The rows a collection shows: the confirmed rows (the server's, as cached) with the pending
 * changes applied on top, in a stable order. Only the rows with pending changes are computed
 * (they are `pending`'s rows; every other row is shown as confirmed), and a row whose content
 * did not change keeps its object, so `get(id)` notifies only when that row changes. @internal
 */
export class RowView<R extends Row> {
  readonly #key: string;
  readonly #compare: ((a: R, b: R) => number) | undefined;
  readonly #confirmed = new Map<string, R>();
  readonly #aliases = new Map<string, string>();
  /** Confirmed ids in the default order; undefined when it must be sorted again. */
  #order: string[] | undefined = [];
  #previousOrder: string[] = [];
  readonly #signals = new Map<string, Signal<R | undefined>>();
  readonly #aliasVersion = signal(0);
  readonly #items: Signal<readonly R[]>;
  readonly #changeCount: Signal<number>;
  readonly #pending: Signal<ReadonlyMap<string, PendingRow<R>>>;
  /** Rows changed (or the order) that `items` does not show yet. */
  #stale = false;

  /** @param options - the signal options of items, the change count and pending (`watched`: called when one gets its first watcher). */
  constructor(key: string, compare?: (a: R, b: R) => number, options?: { watched(): void }) {
    this.#key = key;
    this.#compare = compare;
    this.items = this.#items = signal<readonly R[]>(Object.freeze([]) as readonly R[], options);
    this.changeCount = this.#changeCount = signal(0, options);
    this.pending = this.#pending = signal<ReadonlyMap<string, PendingRow<R>>>(new Map(), options);
  }

  // (Declared: set by the constructor, no field of their own in the build.)
  declare readonly items: ReadonlySignal<readonly R[]>;
  /** How many changes are shown on top of the confirmed rows. */
  declare readonly changeCount: ReadonlySignal<number>;
  /** The temporary ids known, with their server ids. */
  readonly aliasMap: ReadonlyMap<string, string> = this.#aliases;
  /** The rows with pending changes, in the order of their first change (see `Collection.pending`). */
  declare readonly pending: ReadonlySignal<ReadonlyMap<string, PendingRow<R>>>;

  /** The id a (possibly temporary) id stands for now. */
  currentId(id: string): string {
    return this.#aliases.get(id) ?? id;
  }

  /** The shown row of `id` now (temporary ids resolved). */
  shownRow(id: string): R | undefined {
    return this.#shown(this.currentId(id));
  }

  /** The confirmed row of `id` (the server's last known version). */
  confirmedRow(id: string): R | undefined {
    return this.#confirmed.get(this.currentId(id));
  }

  /** The pending changes, oldest first (set only by this class). */
  changeList: Change[] = [];

  /**
   * A signal of one row that notifies only when that row changes (or its temporary id is replaced).
   * Each row's signal is kept (and set at each change of the row) until nothing watches it any
   * more; then it is dropped, and made to change, so a `watchRow()` signal that read it reads again.
   */
  watchRow(id: string): ReadonlySignal<R | undefined> {
    const signals = this.#signals;
    return computed(() => {
      this.#aliasVersion.value;
      const resolved = this.currentId(id);
      let rowSignal = signals.get(resolved);
      if (!rowSignal) {
        rowSignal = signal(this.#shown(resolved), {
          unwatched() {
            signals.delete(resolved);
            this.value = this as never;
          },
        });
        signals.set(resolved, rowSignal);
      }
      return rowSignal.value;
    });
  }

  #shown(id: string): R | undefined {
    const pending = this.#pending.peek().get(id);
    return pending ? pending.row : this.#confirmed.get(id);
  }

  /**
   * Apply confirmed rows and deletions (a pull page, a server answer, another tab's). A row
   * replaces the confirmed one unless both carry a numeric `version` and the new one is older.
   * With `publish: false` (a page of a longer pull), `get(id)` is current at once and `items`
   * at the next change or {@link publishRows}: the list is not rebuilt for every page. With
   * `owned` (rows parsed for this view alone, e.g. a pull page), the rows are frozen, not copied.
   */
  confirmRows(rows: readonly R[], deleted: readonly string[], publish = true, owned = false): void {
    const before = new Map<string, R | undefined>();
    const touch = (id: string, current?: R) => {
      if (!before.has(id)) before.set(id, this.#shown(id));
      if (!current) this.#invalidateOrder();
    };
    for (const row of rows) {
      const id = row[this.#key];
      if (typeof id !== 'string') continue;
      const current = this.#confirmed.get(id);
      if (current && (isOlder(row, current) || sameRow(current, row))) continue;
      touch(id, current);
      this.#confirmed.set(id, Object.freeze(owned ? row : { ...row }) as R);
    }
    for (const id of deleted) {
      if (!this.#confirmed.has(id)) continue;
      touch(id);
      this.#confirmed.delete(id);
    }
    this.#refresh(before, publish);
  }

  /** Show in `items` what {@link confirmRows} did not publish. */
  publishRows(): void {
    if (this.#stale) this.#refresh(new Map());
  }

  /** Replace every pending change (after listing the outbox). */
  setChanges(changes: Change[]): void {
    this.changeList = changes;
    this.#refresh(this.#before([...this.#pending.peek().keys(), ...changes.map((change) => change.id)]));
  }

  /** Add one change (a local write, in the same frame). */
  addChange(change: Change): void {
    this.changeList.push(change);
    this.#refresh(this.#before([change.id]));
  }

  /** Remove the changes for which `drop` is true. */
  dropChanges(drop: (change: Change) => boolean): void {
    const dropped = this.changeList.filter(drop);
    if (!dropped[0]) return;
    // (`drop` is a test of the change alone: asked again.)
    this.changeList = this.changeList.filter((change) => !drop(change));
    this.#refresh(this.#before(dropped.map((change) => change.id)));
  }

  /** A temporary id now stands for the server's id. */
  addAlias(tempId: string, serverId: string): void {
    if (this.#aliases.get(tempId) === serverId) return;
    const before = this.#before([tempId, serverId]);
    this.#aliases.set(tempId, serverId);
    write(() => {
      this.#refresh(before);
      this.#aliasVersion.value++;
    });
  }

  /** The rows shown now of these ids (temporary ids resolved). */
  #before(ids: string[]): Map<string, R | undefined> {
    return new Map(ids.map((id) => [this.currentId(id), this.shownRow(id)]));
  }

  /** The order must be made again (and `items` too); the last one is kept to merge the new ids into. */
  #invalidateOrder(): void {
    if (this.#order) this.#previousOrder = this.#order;
    this.#order = undefined;
    this.#stale = true;
  }

  /**
   * Show what changed: `before` holds the rows shown before of the ids touched. Only their
   * changes are applied again (one pass over the changes, which only looks at the others' ids):
   * each change keeps the entry it made, so a row not touched keeps its entry, at no cost. A row
   * equal to the one shown before stays that object, and so does an entry.
   */
  #refresh(before: Map<string, R | undefined>, publish = true): void {
    let pending = this.#pending.peek();
    const next = new Map<string, PendingRow<R>>();
    let count = 0;
    for (const change of this.changeList) {
      const id = this.currentId(change.id);
      if (before.has(id)) {
        const prior = next.get(id);
        const confirmed = this.#confirmed.get(id);
        const shown = prior ? prior.row : confirmed;
        const was = before.get(id);
        const old = pending.get(id);
        // An insert over a confirmed row: its row came from the server before the insert's answer.
        let row =
          change.type !== 'remove'
            ? (Object.freeze({ ...shown, ...change.data, [this.#key]: id }) as R)
            : undefined;
        if (was && row && sameRow(was, row)) row = was;
        const entry = {
          type: prior?.type === 'insert' && change.type === 'update' ? 'insert' : change.type,
          confirmed,
          row,
          removed: change.type === 'remove' ? shown : prior?.removed,
        } as const;
        // An update of a row not shown (deleted on the server, or removed here) changes nothing
        // shown: not a pending row (its answer, a 404, is a conflict).
        change.shownAs =
          change.type === 'update' && !shown
            ? undefined
            : JSON.stringify(entry) === JSON.stringify(old)
              ? old
              : Object.freeze(entry);
      }
      if (change.shownAs) {
        count++;
        next.set(id, change.shownAs as PendingRow<R>);
      }
    }
    // The same entries: the same map, so `pending` notifies only when one of them changed.
    if (next.size !== pending.size || [...next].some(([id, entry]) => entry !== pending.get(id)))
      pending = next;
    let shownChanged = this.#stale;
    write(() => {
      this.#pending.value = pending;
      this.#changeCount.value = count;
      for (const [id, was] of before) {
        let now = this.#shown(id);
        // A row confirmed equal to what its changes showed keeps the object shown.
        if (was && now && was !== now && !pending.has(id) && sameRow(was, now)) {
          this.#confirmed.set(id, was);
          now = was;
        }
        if (now === was) continue;
        shownChanged = true;
        const rowSignal = this.#signals.get(id);
        if (rowSignal) rowSignal.value = now;
      }
      this.#stale = shownChanged && !publish;
      if (shownChanged && publish) this.#items.value = Object.freeze(this.#list());
    });
  }

  #list(): R[] {
    this.#order ??= sortedIds(this.#confirmed, this.#previousOrder);
    const list: R[] = [];
    for (const id of this.#order) {
      const row = this.#shown(id);
      if (row) list.push(row);
    }
    for (const [id, { type, row }] of this.#pending.peek())
      if (type === 'insert' && row && !this.#confirmed.has(id)) list.push(row);
    const compare = this.#compare;
    if (compare) list.sort(compare); // stable: ties keep the default order
    return list;
  }
}

/**
 * The confirmed ids in the default order: the previous order without the ids gone, then the new
 * ids, sorted (TimSort merges the two runs: a pull page adds 500 ids to 10,000 without a full sort).
 */
function sortedIds(confirmed: ReadonlyMap<string, unknown>, previous: readonly string[]): string[] {
  const ids = previous.filter((id) => confirmed.has(id));
  const known = new Set(ids);
  for (const id of confirmed.keys()) if (!known.has(id)) ids.push(id);
  return ids.sort(byId);
}

/** Default order: shorter ids first, then by code unit (so `n_2` comes before `n_10`). */
function byId(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

function sameRow(a: Row, b: Row): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  // (JSON values: two that differ have different texts — a key missing from b included.)
  for (const key of keys)
    if (a[key] !== b[key] && JSON.stringify(a[key]) !== JSON.stringify(b[key])) return false;
  return true;
}
