import type { OperationRecord } from './operation.js';
import type { Outbox } from './outbox.js';
import type { SortedIds } from './sorted-ids.js';

/**
 * Pending records read ahead of the flush: while a request is on the wire, the next operations (or
 * the next batch's) are read (and decrypted), so the next can be sent as soon as the current one is
 * answered. Only the copies of the last prefetch are held, and any rewrite or removal
 * of a record — here or announced by another tab — drops its copy; the flush drops them all when
 * it ends (another tab may send and rewrite them before this one sends again).
 */
export class ReadAhead {
  readonly #outbox: Outbox;
  #copies = new Map<string, Promise<OperationRecord | undefined>>();

  constructor(outbox: Outbox) {
    this.#outbox = outbox;
  }

  /**
   * Start reading pending records `ids`, replacing the copies held — unless every one of them is
   * held already (then nothing changes: a batch's records read and not sent yet stay).
   */
  prefetch(...ids: string[]): void {
    if (ids.every((id) => this.#copies.has(id))) return;
    const copies = new Map<string, Promise<OperationRecord | undefined>>();
    for (const id of ids) {
      const read = this.#copies.get(id) ?? this.#outbox.read('pending', id);
      read.catch(() => undefined);
      copies.set(id, read);
    }
    this.#copies = copies;
  }

  /**
   * While op `id` is on the wire: unless the record after it is held, read the `count` after it
   * (in `ids`' order) together — reads issued together share one transaction, so a flush pays one
   * read per `count` ops (each read overlapping a request slowed it: see docs/performance.md).
   */
  after(ids: SortedIds, id: string, count: number): void {
    const next = ids.page(id, count);
    if (!this.#copies.has(next[0] as string)) this.prefetch(...next);
  }

  /** Drop every copy (the flush ended). */
  clear(): void {
    this.#copies.clear();
  }

  /** Pending record `id`, read ahead and kept for the next {@link read} (rejects like a read). */
  peek(id: string): Promise<OperationRecord | undefined> {
    this.prefetch(id);
    return this.#copies.get(id) as Promise<OperationRecord | undefined>;
  }

  /** Pending record `id`: the copy read ahead if there is one, else read now. */
  async read(id: string): Promise<OperationRecord | undefined> {
    const copy = this.#copies.get(id);
    this.#copies.delete(id);
    return copy ?? this.#outbox.read('pending', id);
  }

  /** Write a pending record (dropping the copy of its previous version). */
  async write(record: OperationRecord): Promise<void> {
    this.#copies.delete(record.id);
    await this.#outbox.write('pending', record);
  }

  /** Forget the copy of `id`: its record was removed. */
  drop(id: string): void {
    this.#copies.delete(id);
  }
}
