import type { ReadonlySignal } from '@preact/signals-core';
import { publish } from '../../core/errors.js';
import type { LockManagerLike } from '../../core/platform-types.js';
import { signal } from '../../core/signals-core.js';

/** How tabs of one origin agree on a single flusher. */
export type Coordination = 'web-locks' | 'none';

/**
 * Elects one flusher among the tabs (and workers) of an origin with a Web Lock: a queued
 * `locks.request(name, cb)` whose callback holds the lock for this tab's lifetime. When the
 * leader closes or crashes, the browser grants the lock to the next waiting tab.
 *
 * Measured (../shared/RELIABILITY.md): this pattern never gave two leaders in 20 simultaneous
 * starts and fails over in ~40 ms; an `ifAvailable` probe gave two leaders in 2 of 40.
 * Without Web Locks (Node, plain-http origins) every instance leads, and idempotency keys are
 * what keeps a second sender harmless: both send an op as the same request — also one that
 * mentions another instance's temporary id before this instance learned it, as the stored
 * temporary ids are listed again before it is sent (TempIds.resolve; docs/sync.md, "Several tabs").
 */
export class TabLeader {
  readonly coordination: Coordination;
  readonly #isLeader = signal(false);
  readonly #locks: LockManagerLike | undefined;
  readonly #name: string;
  readonly #controller = new AbortController();
  /** Lets the lock go; set by start() (so a second start() does nothing). */
  #release: (() => void) | undefined;

  constructor(locks: LockManagerLike | undefined, name: string) {
    this.#locks = locks;
    this.#name = name;
    this.coordination = locks ? 'web-locks' : 'none';
  }

  /** True while this instance holds the lock (always true without Web Locks). */
  get isLeader(): ReadonlySignal<boolean> {
    return this.#isLeader;
  }

  /** Queue for the lock (or lead at once without Web Locks). */
  start(): void {
    if (this.#release || this.#controller.signal.aborted) return;
    const held = new Promise<void>((resolve) => {
      this.#release = resolve;
    });
    if (!this.#locks) {
      this.#lead();
      return;
    }
    this.#locks
      .request(this.#name, { signal: this.#controller.signal }, async () => {
        if (this.#controller.signal.aborted) return;
        this.#lead();
        await held;
      })
      .catch(() => {
        // Aborted while waiting: this instance was disposed before it led.
      });
  }

  /**
   * Give the lock up (or stop waiting for it), for good: at dispose, or when this tab's storage
   * was lost under it (SyncEngine.storageLost), so that a live tab leads.
   */
  dispose(): void {
    this.#controller.abort();
    this.#release?.();
    // At dispose the engine's effects are gone: no app effect runs from this write. At a loss it
    // runs within the storage plugin's publish() (storage.lost's write), which keeps a throwing
    // app effect from escaping.
    this.#isLeader.value = false;
  }

  /**
   * Lead. Through the engine's effects this write runs the app's effects on sync's signals: one
   * that throws must not end the lock's callback (the lock would be let go while this tab leads)
   * nor start().
   */
  #lead(): void {
    publish(() => {
      this.#isLeader.value = true;
    });
  }
}
