import type { Operation, OperationError, UnreadableOperation } from './operation.js';

/** Events of the Sync plugin: `sync.on(name, handler)` returns the unsubscribe function. */
export interface SyncEvents {
  /**
   * The server accepted an operation (2xx). `response` is the parsed JSON body (or text); a body
   * over `maxResponseBytes` is dropped (`response` undefined, `responseTooLarge: true`).
   */
  sent: {
    operation: Operation;
    status: number;
    response: unknown;
    serverId?: string;
    responseTooLarge?: true;
  };
  /** An operation became failed (a 4xx, retries exhausted, or an unreadable record). */
  failed: { operation: Operation | UnreadableOperation; error: OperationError };
  /** An attempt failed and will be retried after `delayMs`, with the same Idempotency-Key. */
  retry: { operation: Operation; error: OperationError; delayMs: number };
  /**
   * The server answered 401, to an operation or to `read()` (a collection's pull): the queue
   * is paused until you refresh credentials and call `resume()`. For a read, `operation` is the
   * read's pseudo-operation (`{ id: 'read', kind: 'read', method: 'GET', url }`, the one the
   * `headers` option gets), not a queued one.
   */
  unauthorized: { operation: Operation; status: number };
  /**
   * Operations left the queue unsent, by `discard(id)` (when it was queued) or `clearQueue()`
   * (when it removed some), in this tab: the ids removed.
   */
  discarded: { ids: string[] };
  /** `pendingCount` or `failedCount` changed (in this tab or another). */
  change: { pendingCount: number; failedCount: number };
}

/** The name of a Sync event. */
export type SyncEventName = keyof SyncEvents;
