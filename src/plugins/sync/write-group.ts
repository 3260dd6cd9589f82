/** One change of a {@link WriteGroup}, as `fluxy/storage`'s `commit()` takes it. */
export type OutboxChange =
  | { readonly key: string; readonly value: unknown }
  | { readonly key: string; readonly remove: true };

/**
 * Changes to the outbox's namespace that must land together — an operation and the temporary id
 * it introduces; a sent operation's removal, its outcome and its server id — committed in one
 * storage `commit()` (one transaction where the driver has them). Each part adds its changes,
 * and what it must remember in memory once they landed (or forget if they did not).
 */
export class WriteGroup {
  readonly #changes: OutboxChange[] = [];
  readonly #settled: Array<(committed: boolean) => void> = [];

  /** Store `value` under `key`; `settled` runs after the commit, told whether it landed. */
  set(key: string, value: unknown, settled?: (committed: boolean) => void): this {
    this.#changes.push({ key, value });
    if (settled) this.#settled.push(settled);
    return this;
  }

  /** Delete `key`. */
  remove(key: string): this {
    this.#changes.push({ key, remove: true });
    return this;
  }

  /** Commit every change together, in the order added; rejects (nothing written) when storage fails. */
  async commit(storage: { commit(changes: readonly OutboxChange[]): Promise<void> }): Promise<void> {
    try {
      await storage.commit(this.#changes);
    } catch (error) {
      for (const settled of this.#settled) settled(false);
      throw error;
    }
    for (const settled of this.#settled) settled(true);
  }
}
