/**
 * The `fetch` Fluxy calls (the connectivity probe, the sync transport): the global `fetch` or
 * anything with its shape, injectable for tests and odd runtimes.
 *
 * @example const fetch: FetchFunction = (url, init) => globalThis.fetch(url, init);
 */
export type FetchFunction = (url: string, init: RequestInit) => Promise<Response>;

/**
 * The part of `navigator.locks` (the Web Locks API) Fluxy uses: the storage plugin while it opens
 * a database, the sync plugin to elect one flusher among tabs, a collection for one pull at a time
 * (`ifAvailable`: skip when another tab pulls). Injectable for tests.
 *
 * @example new SyncPlugin({ locks: navigator.locks });
 */
export interface LockManagerLike {
  request(
    name: string,
    options: { signal?: AbortSignal; ifAvailable?: boolean },
    callback: (lock: unknown) => Promise<unknown>,
  ): Promise<unknown>;
}

/**
 * The part of `BroadcastChannel` Fluxy uses to reach the other tabs of an origin (sync's shared
 * state, connectivity's verdicts). Injectable for tests.
 */
export interface BroadcastChannelLike {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  removeEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  close(): void;
}
