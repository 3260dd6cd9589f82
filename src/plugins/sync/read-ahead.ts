import type { OperationRecord } from './operation.js';
import type { Outbox } from './outbox.js';

/**
 * Pending records read ahead of the flush: while a request is on the wire, the next operation is
 * read (and decrypted), so it can be sent as soon as the current one's removal is committed. At
 * most one copy is held, and any rewrite or removal of its record — here or announced by another
 * tab — drops it.
 */
export class ReadAhead {
  readonly #outbox: Outbox;
  readonly #copies = new Map<string, Promise<OperationRecord | undefined>>();

  constructor(outbox: Outbox) {
    this.#outbox = outbox;
  }

  /** Start reading pending record `id`, replacing the copy held (if it is another one). */
  prefetch(id: string): void {
    if (this.#copies.has(id)) return;
    const read = this.#outbox.read('pending', id);
    read.catch(() => undefined);
    this.#copies.clear();
    this.#copies.set(id, read);
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
