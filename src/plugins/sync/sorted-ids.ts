/**
 * The ids of one outbox list in memory, sorted (so in send order), with O(1) membership and the
 * head, and O(1) amortised appends and head removals — the two changes a queue makes all the time —
 * so neither enqueue nor flush costs more as the queue grows. Other inserts and removals (another
 * tab's ids, a discard in the middle) binary-search their place.
 * @internal
 */
export class SortedIds {
  #ids: string[] = [];
  /** Index of the first live id in `#ids`: removing the head just moves it. */
  #start = 0;
  readonly #members = new Set<string>();

  /** How many ids there are. */
  get length(): number {
    return this.#members.size;
  }

  /** The first (oldest) id, if any. */
  first(): string | undefined {
    return this.#ids[this.#start];
  }

  /** Whether `id` is in the list. */
  has(id: string): boolean {
    return this.#members.has(id);
  }

  /** Replace the whole content (unsorted input is fine). */
  reset(ids: Iterable<string>): void {
    this.#members.clear();
    for (const id of ids) this.#members.add(id);
    this.#ids = [...this.#members].sort();
    this.#start = 0;
  }

  /** Add ids not yet present, each at its place in order. */
  add(ids: Iterable<string>): void {
    for (const id of ids) {
      if (this.#members.has(id)) continue;
      this.#members.add(id);
      const last = this.#ids[this.#ids.length - 1];
      if (this.#ids.length === this.#start || (last !== undefined && last < id)) this.#ids.push(id);
      else this.#ids.splice(this.#upperBound(id), 0, id);
    }
  }

  /** Remove the ids that are present; others are ignored. */
  remove(ids: Iterable<string>): void {
    let scattered = false;
    for (const id of ids) {
      if (!this.#members.delete(id)) continue;
      if (this.#ids[this.#start] === id) this.#start++;
      else scattered = true;
    }
    if (scattered) {
      this.#ids = this.#ids.slice(this.#start).filter((id) => this.#members.has(id));
      this.#start = 0;
    } else if (this.#start > 1024 && this.#start * 2 > this.#ids.length) {
      this.#ids = this.#ids.slice(this.#start);
      this.#start = 0;
    }
  }

  /** At most `limit` ids, in order, starting after `after` (from the first when undefined). */
  page(after: string | undefined, limit: number): string[] {
    const start = after === undefined ? this.#start : this.#upperBound(after);
    return this.#ids.slice(start, start + limit);
  }

  /** Index in `#ids` of the first id greater than `id`. */
  #upperBound(id: string): number {
    let low = this.#start;
    let high = this.#ids.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.#ids[middle] as string) <= id) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
