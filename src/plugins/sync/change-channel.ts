import type { BroadcastChannelLike } from '../../core/platform-types.js';
import type { OperationError } from './operation.js';

/** The state a leader tab shares with the others. */
export interface SharedSyncState {
  isSyncing: boolean;
  status: SyncStatus;
  lastError: OperationError | null;
  progress: SyncProgress;
}

/**
 * `idle`: nothing to do or waiting for a trigger; `syncing`: sending; `offline`: connectivity
 * says offline; `paused`: `pause()` was called or the server answered 401; `error`: the last
 * attempt failed and the head operation waits for its retry. An operation that became failed
 * does not make the status `error` (the queue goes on): `lastError` and `failedCount` tell.
 */
export type SyncStatus = 'idle' | 'syncing' | 'offline' | 'paused' | 'error';

/** Progress of the current flush: `done` of `total` operations handled. */
export interface SyncProgress {
  total: number;
  done: number;
}

/** Messages between tabs. A hint, not a log: every tab rescans storage now and then. @internal */
export type SyncMessage =
  | { type: 'added' | 'removed'; list: 'pending' | 'failed'; ids: string[] }
  | { type: 'state'; state: SharedSyncState }
  /** `reason`: why the queue paused (absent from an earlier version: `pause()`). */
  | { type: 'pause'; reason?: 'manual' | 'unauthorized' }
  /** `reason`: lift only a pause for that reason (a 401's, by `retry()`); absent: any (`resume()`). */
  | { type: 'resume'; reason?: 'unauthorized' | undefined }
  | { type: 'flush' | 'rescan' | 'hello' | 'here' }
  /** A tab that does not send asks the one that does to discard (or `retry`) op `id`, or clear the ops before `cut`. */
  | { type: 'ask'; ref: string; id?: string; cut?: string; retry?: true }
  /** The sending tab's answer to an `ask`: the ids removed; undefined if it failed (the asking tab does it). */
  | { type: 'answer'; ref: string; ids: string[] | undefined };

/**
 * Tells the other tabs of an origin what changed (BroadcastChannel where it exists) — once one
 * of them has been heard from. A tab that starts later rescans storage and says 'hello', so
 * nothing is lost by staying silent while alone (BroadcastChannel costs ~0.1 ms a post). The
 * leader's state is posted at most once per task, with the latest state. @internal
 */
export class ChangeChannel {
  readonly #channel: BroadcastChannelLike | undefined;
  readonly #listeners = new Set<(message: SyncMessage) => void>();
  /** Another tab has been heard from: from then on, changes are posted. */
  #heard = false;
  #state: SharedSyncState | undefined;
  #statePostScheduled = false;
  readonly #onMessage = (event: { data: unknown }): void => {
    const message = event.data as SyncMessage;
    if (message === null || typeof message !== 'object' || typeof message.type !== 'string') return;
    if (this.#listeners.size === 0) return;
    if (!this.#heard) {
      // Until now this tab thought it was alone and announced nothing: have the others rescan.
      this.#heard = true;
      this.post({ type: 'rescan' });
    }
    for (const listener of this.#listeners) listener(message);
  };

  constructor(create: ((name: string) => BroadcastChannelLike) | undefined, name: string) {
    this.#channel = create?.(name);
    this.#channel?.addEventListener('message', this.#onMessage);
    (this.#channel as { unref?: () => void } | undefined)?.unref?.();
  }

  /** Tell the other tabs, if there are any ('hello' always goes: it is how they are found). */
  post(message: SyncMessage): void {
    if (!this.#heard && message.type !== 'hello') return;
    try {
      this.#channel?.postMessage(message);
    } catch {
      // A closed channel during teardown: nothing to tell.
    }
  }

  /** The leader's latest state, posted at the end of this task if this tab still leads then. */
  share(state: SharedSyncState, isLeader: () => boolean): void {
    this.#state = state;
    if (!this.#heard || this.#statePostScheduled) return;
    this.#statePostScheduled = true;
    queueMicrotask(() => {
      this.#statePostScheduled = false;
      if (isLeader()) this.postState();
    });
  }

  /** Post the latest state shared, now (to a tab that just said 'hello'). */
  postState(): void {
    if (this.#state) this.post({ type: 'state', state: this.#state });
  }

  subscribe(listener: (message: SyncMessage) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    this.#listeners.clear();
    this.#channel?.removeEventListener('message', this.#onMessage);
    this.#channel?.close();
  }
}
