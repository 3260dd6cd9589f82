import { batch, type Signal, signal } from '@preact/signals-core';
import type { EventBus } from '../../core/events.js';
import type { ChangeChannel, SharedSyncState, SyncProgress, SyncStatus } from './change-channel.js';
import type { OperationError } from './operation.js';
import type { QueueLists } from './queue-lists.js';
import type { SyncEvents } from './sync-events.js';

/** What the status is computed from besides what {@link StatusSignals} holds, read at every publish. */
export interface StatusSource {
  readonly lists: QueueLists;
  readonly channel: ChangeChannel;
  readonly events: EventBus<SyncEvents>;
  isLeader(): boolean;
  isOnline(): boolean;
  /** Why sending is held back: `pause()` or a 401 (`paused`), `clearQueue()` running (`clearing`). */
  holds(): { paused: boolean; clearing: boolean };
  /** Started and not disposed: the state may be shared with the other tabs. */
  isLive(): boolean;
}

/**
 * The public status signals, defined once: made by the plugin at construction (so an app binds
 * to them before `ready()`), written only by {@link StatusSignals.publish}, exposed read-only.
 */
export interface SyncSignals {
  readonly isSyncing: Signal<boolean>;
  readonly pendingCount: Signal<number>;
  readonly failedCount: Signal<number>;
  readonly status: Signal<SyncStatus>;
  readonly lastError: Signal<OperationError | null>;
  readonly progress: Signal<SyncProgress>;
}

/** Fresh status signals: idle, nothing pending. */
export function createSyncSignals(): SyncSignals {
  return {
    isSyncing: signal(false),
    pendingCount: signal(0),
    failedCount: signal(0),
    status: signal<SyncStatus>('idle'),
    lastError: signal<OperationError | null>(null),
    progress: signal<SyncProgress>({ total: 0, done: 0 }),
  };
}

/**
 * The status signals, true to the in-memory lists and the flush: written together in `batch()`
 * by {@link StatusSignals.publish}, which also emits `change` when a count changed and, in the
 * leader tab, shares the state with the other tabs. A tab that does not send mirrors the
 * leader's state instead.
 */
export class StatusSignals {
  readonly #source: StatusSource;
  /** Written only here; the engine and the plugin expose them read-only. */
  readonly signals: SyncSignals;

  #flushing = false;
  /** True exactly while an HTTP request is outstanding (set by the flush loop). */
  requesting = false;
  #progressState: SyncProgress = { total: 0, done: 0 };
  /**
   * The last attempt's error while the head waits for its retry (network, timeout, headers,
   * retryable status, 401, storage): cleared by the next success. `id`: the op it belongs to.
   */
  #transientError: { error: OperationError; id: string | undefined; backoff: boolean } | null = null;
  /**
   * The error that moved an op to failed: kept until that op is retried or discarded, the queue
   * is cleared, or another op becomes failed. `lastError` shows the transient error over it.
   */
  #deadLetterError: { error: OperationError; id: string } | null = null;
  /** The storage was found wiped: shown over every other error; `sticky` (under the running app) for good. */
  #lostError: { error: OperationError; sticky: boolean } | null = null;
  /** The leader tab's state, for a tab that does not send. */
  #leaderState: SharedSyncState | undefined;

  constructor(source: StatusSource, signals: SyncSignals = createSyncSignals()) {
    this.#source = source;
    this.signals = signals;
  }

  /** A flush starts, with `total` operations pending. */
  flushStarted(total: number): void {
    this.#flushing = true;
    this.#progressState = { total, done: 0 };
    this.publish();
  }

  flushEnded(): void {
    this.#flushing = false;
    this.publish();
  }

  /**
   * The head's attempt failed and it waits — for its retry, or for `resume()` after a 401 — or the
   * flush stopped on a storage failure: shown until the next success. `id`: the op it belongs to.
   * `backoff`: it waits for a retry time (a flush that runs meanwhile sends nothing: not syncing).
   */
  headWaits(error: OperationError, id?: string, backoff = false): void {
    this.#transientError = { error, id, backoff };
    this.publish();
  }

  /** True when op `id` is the head shown as waiting for its retry. */
  isWaiting(id: string): boolean {
    return this.#transientError?.id === id && this.#transientError.backoff;
  }

  /** The database was wiped (see `sync/storage-lost`); `sticky` when under the running app. */
  storageLost(error: OperationError, sticky: boolean): void {
    if (!this.#lostError?.sticky) this.#lostError = { error, sticky };
    this.publish();
  }

  /** The head was sent: its retry error goes (not the error of an op that became failed). */
  headSent(): void {
    this.#completeOne();
    this.#transientError = null;
    if (!this.#lostError?.sticky) this.#lostError = null;
    this.publish();
  }

  /** Storage answered again: a storage failure shown in `lastError` goes. */
  storageRecovered(): void {
    if (this.#transientError?.error.code !== 'sync/storage-failed') return;
    this.#transientError = null;
    this.publish();
  }

  /** Op `id` became failed: its error stays until it is retried, discarded or cleared. */
  headFailed(error: OperationError, id: string): void {
    this.#completeOne();
    this.#deadLetterError = { error, id };
    this.#transientError = null; // the head moved on
    this.publish();
  }

  /** Ops left their list (retried, discarded, cleared — here or in another tab): drop their errors. */
  forgetErrorsOf(ids: readonly string[]): void {
    const transient = this.#transientError?.id;
    if (transient !== undefined && ids.includes(transient)) this.#transientError = null;
    const dead = this.#deadLetterError?.id;
    if (dead !== undefined && ids.includes(dead)) this.#deadLetterError = null;
  }

  #completeOne(): void {
    this.#progressState = { ...this.#progressState, done: this.#progressState.done + 1 };
  }

  /** The queue was cleared: no error remains. */
  clearErrors(): void {
    this.#transientError = null;
    if (!this.#lostError?.sticky) this.#lostError = null;
    this.#deadLetterError = null;
  }

  /** The state another tab shares as leader. */
  mirror(state: SharedSyncState): void {
    this.#leaderState = state;
    this.publish();
  }

  /** Write every status signal at once from the in-memory state, and tell the other tabs. */
  publish(): void {
    const { lists, events, channel } = this.#source;
    const leading = this.#source.isLeader();
    const online = this.#source.isOnline();
    const { paused, clearing } = this.#source.holds();
    const pendingCount = lists.pending.length;
    const failedCount = lists.failed.size;
    const mirror = leading ? undefined : this.#leaderState;
    // Requests are going out: a flush runs and either one is in flight or more may start at once —
    // not while the head only waits for its retry (a flush that finds it waiting sends nothing).
    const sending =
      this.#flushing &&
      (this.requesting ||
        (!paused && !clearing && online && !this.#transientError?.backoff && !this.#lostError?.sticky));
    if (this.#flushing) {
      const total = Math.max(this.#progressState.total, this.#progressState.done + pendingCount);
      if (total !== this.#progressState.total) this.#progressState = { ...this.#progressState, total };
    }
    const isSyncing = mirror ? mirror.isSyncing : sending;
    // A dead-letter error stays in lastError, but only a head waiting for its retry is 'error'.
    const lastError =
      this.#lostError?.error ??
      (mirror ? mirror.lastError : (this.#transientError?.error ?? this.#deadLetterError?.error ?? null));
    const progress = mirror ? mirror.progress : this.#progressState;
    const status: SyncStatus = paused
      ? 'paused'
      : !online
        ? 'offline'
        : isSyncing
          ? 'syncing'
          : this.#lostError?.sticky
            ? 'error'
            : mirror
              ? mirror.status
              : this.#transientError && pendingCount > 0
                ? 'error'
                : 'idle';
    const signals = this.signals;
    const changed =
      signals.pendingCount.peek() !== pendingCount || signals.failedCount.peek() !== failedCount;
    batch(() => {
      signals.pendingCount.value = pendingCount;
      signals.failedCount.value = failedCount;
      signals.isSyncing.value = isSyncing;
      signals.lastError.value = lastError;
      signals.progress.value = progress;
      signals.status.value = status;
    });
    if (changed) events.emit('change', { pendingCount, failedCount });
    if (leading && this.#source.isLive()) {
      channel.share({ isSyncing, status, lastError, progress }, this.#source.isLeader);
    }
  }
}
