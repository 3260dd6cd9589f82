import type { Logger } from '../../core/logger.js';
import type { Operation, OperationError, OperationRecord, UnreadableOperation } from './operation.js';
import { toOperation } from './operation.js';
import type { OutboxStorage } from './outbox.js';

/** What a `sent` outcome handler receives. */
export interface SentOutcome {
  operation: Operation;
  status: number;
  /** The parsed JSON body (or text) of the server's answer. */
  response: unknown;
  /** The server id read from the response, when the operation introduced a `tempId`. */
  serverId?: string;
}

/** What a `failed` outcome handler receives. */
export interface FailedOutcome {
  operation: Operation | UnreadableOperation;
  error: OperationError;
}

/**
 * Handlers for the outcomes of one kind of operation (`queue(…, { kind })`). They run once per
 * outcome, in the tab that flushes, and still run when the outcome arrives after a reload or on
 * the next start (the outcome is stored before the operation leaves the queue). A crash while a
 * handler runs makes it run again: write handlers that can run twice (at least once).
 */
export interface OutcomeHandlers {
  sent?(outcome: SentOutcome): void | Promise<void>;
  failed?(outcome: FailedOutcome): void | Promise<void>;
}

/** The stored form of an outcome waiting for its handlers (`o/<id>`). @internal */
type OutcomeRecord =
  | { v: 1; type: 'sent'; record: OperationRecord; status: number; response: unknown; serverId?: string }
  | { v: 1; type: 'failed'; record: OperationRecord; error: OperationError };

const prefix = 'o/';

/** Durable delivery of outcomes to handlers registered per kind. @internal */
export class OutcomeLog {
  readonly #storage: OutboxStorage;
  readonly #logger: Logger;
  readonly #handlers = new Map<string, Set<OutcomeHandlers>>();

  constructor(storage: OutboxStorage, logger: Logger) {
    this.#storage = storage;
    this.#logger = logger;
  }

  /** Register handlers for `kind`; returns the unsubscribe function. */
  handle(kind: string, handlers: OutcomeHandlers): () => void {
    let set = this.#handlers.get(kind);
    if (!set) {
      set = new Set();
      this.#handlers.set(kind, set);
    }
    set.add(handlers);
    return () => {
      set.delete(handlers);
    };
  }

  hasHandlers(kind: string | undefined): boolean {
    return kind !== undefined && (this.#handlers.get(kind)?.size ?? 0) > 0;
  }

  /** Store an outcome before the operation leaves the queue. */
  async record(outcome: OutcomeRecord): Promise<void> {
    await this.#storage.set(prefix + outcome.record.id, outcome);
  }

  /** Run the handlers of a stored outcome, then forget it. Handler errors are logged, never thrown. */
  async deliver(outcome: OutcomeRecord): Promise<void> {
    const kind = outcome.record.kind;
    const handlers = kind === undefined ? [] : [...(this.#handlers.get(kind) ?? [])];
    if (handlers.length === 0) return; // kept for a handler registered later
    for (const handler of handlers) {
      try {
        if (outcome.type === 'sent') {
          const payload: SentOutcome = {
            operation: toOperation(outcome.record) as Operation,
            status: outcome.status,
            response: outcome.response,
          };
          if (outcome.serverId !== undefined) payload.serverId = outcome.serverId;
          await handler.sent?.(payload);
        } else {
          await handler.failed?.({ operation: toOperation(outcome.record), error: outcome.error });
        }
      } catch (error) {
        this.#logger.error(`a "${outcome.type}" handler of kind "${kind}" threw`, error);
      }
    }
    await this.#storage.remove(prefix + outcome.record.id);
  }

  /**
   * Deliver outcomes left by an earlier session. An outcome whose operation is still pending is
   * dropped: the operation will be sent (or refused) again and make a fresh outcome.
   */
  async deliverStored(isPending: (id: string) => boolean): Promise<void> {
    for (const key of await this.#storage.keys(prefix)) {
      const id = key.slice(prefix.length);
      if (isPending(id)) {
        await this.#storage.remove(key);
        continue;
      }
      const outcome = (await this.#storage.get(key).catch(() => undefined)) as OutcomeRecord | undefined;
      if (outcome?.v !== 1) {
        await this.#storage.remove(key);
        continue;
      }
      await this.deliver(outcome);
    }
  }

  async clear(): Promise<void> {
    for (const key of await this.#storage.keys(prefix)) await this.#storage.remove(key);
  }
}
