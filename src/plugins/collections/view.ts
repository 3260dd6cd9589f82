import { batch, computed, type ReadonlySignal, type Signal, signal } from '@preact/signals-core';
import { isOlder } from './cache.js';
import type { Row } from './options.js';

/** A local change not yet answered by the server: what `items` shows on top of the confirmed rows. @internal */
export interface Change {
  /** The outbox operation that carries it; undefined while `queue()` has not committed it yet. */
  opId: string | undefined;
  type: 'insert' | 'update' | 'remove';
  /** The row id as the change was made (possibly a temporary id). */
  id: string;
  /** Inserted fields or the patch. */
  data?: Row;
  /** Local order of changes not yet committed. */
  seq: number;
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
 * changes applied on top, in a stable order. Only the rows whose inputs changed are recomputed,
 * and a row whose content did not change keeps its object, so `get(id)` notifies only when that
 * row changes. @internal
 */
export class RowView<R extends Row> {
  readonly #key: string;
  readonly #compare: ((a: R, b: R) => number) | undefined;
  readonly #confirmed = new Map<string, R>();
  #changes: Change[] = [];
  /** Pending changes by the row they touch (temporary ids resolved). */
  #byRow = new Map<string, Change[]>();
  readonly #aliases = new Map<string, string>();
  /** What is shown, by id. */
  readonly #rows = new Map<string, R>();
  /** Confirmed ids in the default order; undefined when it must be sorted again. */
  #order: string[] | undefined = [];
  #previousOrder: string[] = [];
  readonly #signals = new Map<string, Signal<R | undefined>>();
  readonly #aliasVersion = signal(0);
  readonly #items = signal<readonly R[]>(Object.freeze([]) as readonly R[]);
  readonly #changeCount = signal(0);
  /** Bumped whenever the pending changes or the temporary ids change. */
  readonly #changed = signal(0);
  /** Rows changed that `items` does not show yet. */
  #stale = false;

  constructor(key: string, compare?: (a: R, b: R) => number) {
    this.#key = key;
    this.#compare = compare;
  }

  readonly items: ReadonlySignal<readonly R[]> = this.#items;
  /** How many changes are shown on top of the confirmed rows. */
  readonly changeCount: ReadonlySignal<number> = this.#changeCount;
  /** The temporary ids known, with their server ids. */
  readonly aliases: ReadonlyMap<string, string> = this.#aliases;

  /** The id a (possibly temporary) id stands for now. */
  resolve(id: string): string {
    return this.#aliases.get(id) ?? id;
  }

  /** The shown row of `id` now (temporary ids resolved). */
  peek(id: string): R | undefined {
    return this.#rows.get(this.resolve(id));
  }

  /** The confirmed row of `id` (the server's last known version). */
  confirmed(id: string): R | undefined {
    return this.#confirmed.get(this.resolve(id));
  }

  /** The pending changes, oldest first. */
  get changes(): readonly Change[] {
    return this.#changes;
  }

  /** A signal of one row that notifies only when that row changes (or its temporary id is replaced). */
  row(id: string): ReadonlySignal<R | undefined> {
    return computed(() => {
      this.#aliasVersion.value;
      return this.#signalOf(this.resolve(id)).value;
    });
  }

  #signalOf(id: string): Signal<R | undefined> {
    let rowSignal = this.#signals.get(id);
    if (!rowSignal) {
      rowSignal = signal(this.#rows.get(id));
      this.#signals.set(id, rowSignal);
    }
    return rowSignal;
  }

  /**
   * Apply confirmed rows and deletions (a pull page, a server answer, another tab's). A row
   * replaces the confirmed one unless both carry a numeric `version` and the new one is older.
   * With `publish: false` (a page of a longer pull), `get(id)` is current at once and `items`
   * at the next change or {@link publish}: the list is not rebuilt for every page. With
   * `owned` (rows parsed for this view alone, e.g. a pull page), the rows are frozen, not copied.
   */
  confirm(rows: readonly R[], deleted: readonly string[], publish = true, owned = false): void {
    const touched = new Set<string>();
    for (const row of rows) {
      const id = row[this.#key];
      if (typeof id !== 'string') continue;
      const current = this.#confirmed.get(id);
      if (current && isOlder(row, current)) continue;
      if (!current) this.#invalidateOrder();
      this.#confirmed.set(id, Object.freeze(owned ? row : { ...row }) as R);
      touched.add(id);
    }
    for (const id of deleted) {
      if (this.#confirmed.delete(id)) {
        this.#invalidateOrder();
        touched.add(id);
      }
    }
    this.#refresh(touched, publish);
  }

  /** Show in `items` what {@link confirm} did not publish. */
  publish(): void {
    if (this.#stale) this.#refresh(new Set());
  }

  /** Replace every pending change (after listing the outbox). */
  setChanges(changes: Change[]): void {
    const touched = new Set<string>();
    for (const change of this.#changes) touched.add(this.resolve(change.id));
    this.#changes = changes;
    for (const change of changes) touched.add(this.resolve(change.id));
    this.#index();
    this.#refresh(touched);
  }

  /** Add one change (a local write, in the same frame). */
  addChange(change: Change): void {
    this.#changes.push(change);
    this.#index();
    this.#refresh(new Set([this.resolve(change.id)]));
  }

  /** Remove the changes for which `drop` is true. */
  dropChanges(drop: (change: Change) => boolean): void {
    const touched = new Set<string>();
    const kept = this.#changes.filter((change) => {
      if (!drop(change)) return true;
      touched.add(this.resolve(change.id));
      return false;
    });
    if (kept.length === this.#changes.length) return;
    this.#changes = kept;
    this.#index();
    this.#refresh(touched);
  }

  /** A temporary id now stands for the server's id. */
  alias(tempId: string, serverId: string): void {
    if (this.#aliases.get(tempId) === serverId) return;
    this.#aliases.set(tempId, serverId);
    this.#index();
    batch(() => {
      this.#refresh(new Set([tempId, serverId]));
      this.#aliasVersion.value++;
    });
  }

  /** The temporary id of a pending insert that has no server id yet, or undefined. */
  isUnresolvedInsert(tempId: string): boolean {
    return (
      !this.#aliases.has(tempId) &&
      this.#changes.some((change) => change.type === 'insert' && change.id === tempId)
    );
  }

  /** The order must be made again; the last one is kept to merge the new ids into. */
  #invalidateOrder(): void {
    if (this.#order !== undefined) this.#previousOrder = this.#order;
    this.#order = undefined;
  }

  /** The rows with pending changes, in the order of their first change (see `Collection.pending`). */
  readonly pending: ReadonlySignal<ReadonlyMap<string, PendingRow<R>>> = computed(() => {
    this.#changed.value;
    this.#items.value; // a confirmed row may have changed
    const pending = new Map<string, PendingRow<R>>();
    for (const change of this.#changes) {
      const id = this.resolve(change.id);
      const before = pending.get(id);
      const confirmed = this.#confirmed.get(id);
      const shown = before ? before.row : confirmed;
      const type = before?.type === 'insert' && change.type === 'update' ? 'insert' : change.type;
      const row = change.type === 'remove' ? undefined : this.#apply(shown, change, id);
      const removed = change.type === 'remove' ? shown : before?.removed;
      pending.set(id, Object.freeze({ type, confirmed, row, removed }));
    }
    return pending;
  });

  #index(): void {
    this.#changeCount.value = this.#changes.length;
    this.#changed.value++;
    const byRow = new Map<string, Change[]>();
    for (const change of this.#changes) {
      const id = this.resolve(change.id);
      const list = byRow.get(id);
      if (list) list.push(change);
      else byRow.set(id, [change]);
    }
    this.#byRow = byRow;
  }

  #compute(id: string): R | undefined {
    let row = this.#confirmed.get(id);
    for (const change of this.#byRow.get(id) ?? []) row = this.#apply(row, change, id);
    return row;
  }

  #apply(row: R | undefined, change: Change, id: string): R | undefined {
    // An insert over a confirmed row: its row came from the server before the insert's answer.
    if (change.type === 'insert') return { ...row, ...change.data, [this.#key]: id } as R;
    if (change.type === 'update') return row ? ({ ...row, ...change.data, [this.#key]: id } as R) : row;
    return undefined;
  }

  #refresh(ids: Set<string>, publish = true): void {
    let changed = this.#stale;
    batch(() => {
      for (const id of ids) {
        const before = this.#rows.get(id);
        const computedRow = this.#compute(id);
        const after = before && computedRow && sameRow(before, computedRow) ? before : computedRow;
        if (after !== undefined && !Object.isFrozen(after)) Object.freeze(after);
        if (after === before) continue;
        changed = true;
        if (after === undefined) this.#rows.delete(id);
        else this.#rows.set(id, after);
        const rowSignal = this.#signals.get(id);
        if (rowSignal) rowSignal.value = after;
      }
      this.#stale = changed && !publish;
      if (changed && publish) this.#items.value = Object.freeze(this.#list());
    });
  }

  #list(): R[] {
    if (this.#order === undefined) this.#order = sortedIds(this.#confirmed, this.#previousOrder);
    const list: R[] = [];
    for (const id of this.#order) {
      const row = this.#rows.get(id);
      if (row) list.push(row);
    }
    const listed = new Set<string>();
    for (const change of this.#changes) {
      if (change.type !== 'insert') continue;
      const id = this.resolve(change.id);
      if (this.#confirmed.has(id) || listed.has(id)) continue;
      listed.add(id);
      const row = this.#rows.get(id);
      if (row) list.push(row);
    }
    const compare = this.#compare;
    if (compare) list.sort(compare); // stable: ties keep the default order
    return list;
  }
}

/**
 * The confirmed ids in the default order: the previous order without the ids gone, merged with
 * the new ids sorted on their own (a pull page adds 500 ids to 10,000: no full sort).
 */
function sortedIds(confirmed: ReadonlyMap<string, unknown>, previous: readonly string[]): string[] {
  const kept = previous.filter((id) => confirmed.has(id));
  const known = new Set(kept);
  const added: string[] = [];
  for (const id of confirmed.keys()) if (!known.has(id)) added.push(id);
  added.sort(byId);
  const merged: string[] = [];
  let i = 0;
  let j = 0;
  while (i < kept.length || j < added.length) {
    if (j >= added.length || (i < kept.length && byId(kept[i] as string, added[j] as string) <= 0))
      merged.push(kept[i++] as string);
    else merged.push(added[j++] as string);
  }
  return merged;
}

/** Default order: shorter ids first, then by code unit (so `n_2` comes before `n_10`). */
function byId(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

function sameRow(a: Row, b: Row): boolean {
  if (a === b) return true;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) {
    const x = a[key];
    const y = b[key];
    if (x === y) continue;
    if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
    if (JSON.stringify(x) !== JSON.stringify(y)) return false;
  }
  return true;
}
