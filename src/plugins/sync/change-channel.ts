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
  | { type: 'flush' | 'rescan' | 'pause' | 'resume' | 'hello' | 'here' };

/** The part of `BroadcastChannel` the channel needs. */
export interface BroadcastChannelLike {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  removeEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  close(): void;
}

/** Tells the other tabs of an origin what changed (BroadcastChannel where it exists). @internal */
export class ChangeChannel {
  readonly #channel: BroadcastChannelLike | undefined;
  readonly #listeners = new Set<(message: SyncMessage) => void>();
  readonly #onMessage = (event: { data: unknown }): void => {
    const message = event.data as SyncMessage;
    if (message === null || typeof message !== 'object' || typeof message.type !== 'string') return;
    for (const listener of this.#listeners) listener(message);
  };

  constructor(create: ((name: string) => BroadcastChannelLike) | undefined, name: string) {
    this.#channel = create?.(name);
    this.#channel?.addEventListener('message', this.#onMessage);
    (this.#channel as { unref?: () => void } | undefined)?.unref?.();
  }

  post(message: SyncMessage): void {
    try {
      this.#channel?.postMessage(message);
    } catch {
      // A closed channel during teardown: nothing to tell.
    }
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
