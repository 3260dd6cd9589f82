import type { Logger } from '../../core/logger.js';
import type { FlushSummary, Step, SyncEngine } from './engine.js';
import type { Operation, OperationError, OperationRecord, UnreadableOperation } from './operation.js';
import type { OutboxStorage } from './outbox.js';
import type { QueueLists } from './queue-lists.js';
import type { WriteGroup } from './write-group.js';

/** What a `sent` outcome handler receives. */
export interface SentOutcome {
  operation: Operation;
  status: number;
  /** The parsed JSON body (or text) of the server's answer. */
  response: unknown;
  /** The server id read from the response, when the operation introduced a `tempId`. */
  serverId?: string;
  /** The response body was larger than `maxResponseBytes`: it was dropped (`response` is undefined). */
  responseTooLarge?: true;
}

/** What a `failed` outcome handler receives. */
export interface FailedOutcome {
  operation: Operation | UnreadableOperation;
  error: OperationError;
  /**
   * Claim the refusal: this handler settled it (e.g. it queued the change again, or found it was
   * no failure for the app). Call it before the handler returns (or its promise resolves); a later
   * call does nothing. The operation then leaves the outbox as settled, as if discarded but without
   * a `discarded` event: no `failed` event, never counted in `failedCount` nor listed by `failed()`,
   * not counted as failed in `flush()`'s summary, not in `lastError`. The other handlers of its kind
   * still run. Not claimed, it is failed as usual — its `failed` event comes after its handlers.
   *
   * @example
   * sync.handle('note.update', {
   *   failed: async ({ operation, error, claim }) => {
   *     if (error.status === 409 && (await resendMerged(operation))) claim();
   *   },
   * });
   */
  claim(): void;
}

/**
 * Handlers for the outcomes of one kind of operation (`queue(…, { kind })`). They run once per
 * outcome, in the tab that flushes; a `failed` one may claim the refusal it settled
 * ({@link FailedOutcome.claim}). Every outcome of an operation with a `kind` is stored before
 * the operation leaves the queue, and kept until a handler for its kind runs: so they still run
 * when the outcome arrives after a reload, while no handler was registered yet (they run when
 * one is), in another tab's session, or on the next start. A crash while a handler runs makes it
 * run again: write handlers that can run twice (at least once).
 */
export interface OutcomeHandlers {
  sent?(outcome: SentOutcome): void | Promise<void>;
  failed?(outcome: FailedOutcome): void | Promise<void>;
}

/** The stored form of an outcome waiting for its handlers (`o/<id>`). @internal */
export type OutcomeRecord =
  | {
      v: 1;
      type: 'sent';
      record: OperationRecord;
      status: number;
      response: unknown;
      serverId?: string;
      responseTooLarge?: true;
    }
  | { v: 1; type: 'failed'; record: OperationRecord; error: OperationError };

const prefix = 'o/';

/** What the log tells the engine of a refusal (see {@link OutcomeLog.settleRefusal}). @internal */
interface OutcomeEngine {
  readonly events: SyncEngine['events'];
  headFailed(error: OperationError | false, id: string): void;
  publishStatus(): void;
}

/**
 * At most this many stored outcomes wait for a handler of their kind; past it, the oldest
 * (by operation id, so by enqueue order) are dropped with a logged warning, so outcomes of kinds
 * no code ever handles cannot grow without bound.
 */
export const maxWaitingOutcomes = 500;

/**
 * Durable delivery of outcomes to handlers registered per kind. Deliveries run one at a time
 * (the flush's, and those of stored outcomes when a handler is registered or this tab starts
 * flushing), and each stored outcome is removed once its handlers ran, so one runs once.
 * @internal
 */
export class OutcomeLog {
  readonly #storage: OutboxStorage;
  readonly #logger: Logger;
  readonly #toOperation: (record: OperationRecord) => Operation | UnreadableOperation;
  readonly #maxWaiting: number;
  /**
   * True once the engine is disposed: no handler runs any more, and a failure of storage (closing
   * with the app) is no failure; what is stored waits for the next start.
   */
  readonly #closed: () => boolean;
  readonly #handlers = new Map<string, Set<OutcomeHandlers>>();
  /** Recorded by this session's flush and not yet offered to handlers: the flush delivers them. */
  readonly #fresh = new Map<string, OutcomeRecord>();
  /** Stored outcomes known to wait for a handler: operation id → kind. */
  readonly #waiting = new Map<string, { kind: string | undefined; type: OutcomeRecord['type'] }>();
  #busy = false;
  /**
   * True while handlers run. The app's edits called meanwhile (from a handler, which the flush
   * awaits) do not wait for the flush: it waits for them.
   */
  running = false;
  readonly #queued: Array<() => void> = [];
  #warned = false;
  readonly #lists: QueueLists | undefined;
  readonly #engine: OutcomeEngine | undefined;
  /** The last operation whose refusal a handler claimed (for {@link settleRefusal}). */
  #claimed: string | undefined;
  /**
   * The refused operation whose `failed` handlers the flush runs now (see {@link settleRefusal}): in
   * neither list meanwhile (not counted), but listed by `failed()`, and retried or discarded by
   * `retry()` or `discard()` as a failed one (queue-edits.ts, which then forgets it here).
   */
  settling: string | undefined;

  /**
   * `toOperation` is operation.ts's, passed in by the engine: imported here, it would make
   * operation.ts a chunk of its own, shared by the engine and this lazy module. `closed`: whether
   * the engine was disposed. `lists` and `engine`: where a refusal goes (see {@link settleRefusal}).
   */
  constructor(
    storage: OutboxStorage,
    logger: Logger,
    toOperation: (record: OperationRecord) => Operation | UnreadableOperation,
    closed: () => boolean = () => false,
    lists?: QueueLists,
    engine?: OutcomeEngine,
    maxWaiting = maxWaitingOutcomes,
  ) {
    this.#lists = lists;
    this.#engine = engine;
    this.#storage = storage;
    this.#logger = logger;
    this.#toOperation = toOperation;
    this.#closed = closed;
    this.#maxWaiting = maxWaiting;
  }

  /**
   * Register handlers for `kind`; returns the unsubscribe function. With deliver true (the engine's
   * `handle()` in a tab that sends), the stored outcomes are delivered now ({@link deliverAll}).
   */
  handle(kind: string, handlers: OutcomeHandlers, deliver?: boolean): () => void {
    let set = this.#handlers.get(kind);
    if (!set) {
      set = new Set();
      this.#handlers.set(kind, set);
    }
    set.add(handlers);
    if (deliver) this.deliverAll();
    return () => {
      set.delete(handlers);
    };
  }

  /** The handlers of `kind` that have a callback for `type` (a `{ failed }` handler never consumes a `sent`). */
  #handlersFor(kind: string | undefined, type: OutcomeRecord['type']): OutcomeHandlers[] {
    if (kind === undefined) return [];
    return [...(this.#handlers.get(kind) ?? [])].filter((handler) => typeof handler[type] === 'function');
  }

  /** Add to `group` the storing of an outcome, committed with the operation's leaving the queue. */
  stageRecord(group: WriteGroup, outcome: OutcomeRecord): void {
    const id = outcome.record.id;
    group.set(prefix + id, outcome, (committed) => {
      if (committed) this.#fresh.set(id, outcome);
    });
  }

  /**
   * The flush's delivery, once the operation left the queue: run the handlers of its kind and
   * forget the outcome, or keep it stored for a handler registered later. Handler errors are
   * logged, never thrown.
   */
  deliver(outcome: OutcomeRecord): Promise<void> {
    return this.#exclusive(async () => {
      const id = outcome.record.id;
      if (!this.#fresh.delete(id)) return; // already delivered from storage meanwhile
      if (await this.#run(outcome)) return;
      this.#waiting.set(id, { kind: outcome.record.kind, type: outcome.type });
      await this.#prune();
    });
  }

  /**
   * The flush's delivery of a refusal: the operation is stored in the failed list with its outcome;
   * it leaves the pending one, its `failed` handlers run ({@link deliver}), then it joins the
   * failed list — unless one of them claimed it (then it is removed: resolves true), or
   * retried or discarded it meanwhile.
   */
  async settleRefusal(outcome: OutcomeRecord & { type: 'failed' }, summary: FlushSummary): Promise<Step> {
    const { record, error } = outcome;
    const { id } = record;
    const engine = this.#engine as OutcomeEngine;
    this.settling = id;
    this.#lists?.remove('pending', [id]);
    try {
      await this.deliver(outcome);
    } finally {
      if (this.settling === id) this.#lists?.add('failed', [id]);
      this.settling = undefined;
    }
    const claimed = this.#claimed === id;
    engine.headFailed(!claimed && error, id);
    if (!claimed) {
      engine.events.emit('failed', { operation: this.#toOperation(record) as Operation, error });
      summary.failed++;
    }
    return 'next';
  }

  /**
   * Deliver the stored outcomes whose kind has a handler now: those left by an earlier session or
   * another tab, and those kept while no handler was registered. An outcome whose operation is
   * pending again (retried, or a crash before it left the queue) is dropped: the operation will be
   * sent (or refused) again and make a fresh outcome. `isPending`: by default, what storage holds
   * (not what this tab has heard: just after taking over from another tab, its messages about the
   * last ops it handled may still be on their way), read when each outcome is looked at, not
   * listed once before (a flush may answer an op in between, and a stale "still pending" would
   * drop the outcome it just stored).
   */
  async deliverStored(
    isPending: (id: string) => boolean | Promise<boolean> = (id) => this.#storedAsPending(id),
  ): Promise<void> {
    try {
      const known = new Set(this.#waiting.keys());
      const keys = await this.#storage.keys(prefix);
      const stored = new Set<string>();
      for (const key of keys) {
        const id = key.slice(prefix.length);
        stored.add(id);
        await this.#exclusive(() => this.#deliverStoredOne(id, isPending));
      }
      if (this.#closed()) return;
      // Forget what another tab (or process) removed.
      for (const id of known) if (!stored.has(id)) this.#waiting.delete(id);
      await this.#exclusive(() => this.#prune());
    } catch (error) {
      // Disposed meanwhile (its storage closing with the app): no failure to report.
      if (!this.#closed()) throw error;
    }
  }

  /**
   * {@link deliverStored} in the background (the engine's, when a handler is registered or this tab
   * starts sending): a failure is logged. Checked against what storage holds when each outcome's
   * turn comes.
   */
  deliverAll(): void {
    this.deliverStored().catch((error: unknown) =>
      this.#logger.error('delivering stored outcomes failed', error),
    );
  }

  /**
   * Remove every stored outcome (`clearQueue()`), with `removeAll` (given by the lazy QueueEdits).
   * Not after the delivery running: `clearQueue()` may be called by one of its handlers. Those
   * not delivered yet are dropped with their records.
   */
  async clear(removeAll: (prefix: string) => Promise<void>): Promise<void> {
    this.settling = undefined; // removed with the rest
    await removeAll(prefix);
    this.#fresh.clear();
    this.#waiting.clear();
  }

  /**
   * Whether operation `id` is in the pending list in storage (under outbox.ts's key `p/<id>`); a
   * record that cannot be read counts as pending (the flush moves it).
   */
  async #storedAsPending(id: string): Promise<boolean> {
    const record = await this.#storage.get(`p/${id}`).catch(() => true);
    return record !== undefined && record !== null;
  }

  async #deliverStoredOne(id: string, isPending: (id: string) => boolean | Promise<boolean>): Promise<void> {
    const key = prefix + id;
    const pending = await isPending(id);
    // Disposed meanwhile: a read that failed as storage closed does not mean pending.
    if (this.#closed()) return;
    if (pending) {
      // This session's flush recorded it and delivers it itself once the op left the queue.
      if (this.#fresh.has(id)) return;
      this.#waiting.delete(id);
      await this.#storage.remove(key);
      return;
    }
    const waiting = this.#waiting.get(id);
    if (waiting && this.#handlersFor(waiting.kind, waiting.type).length === 0) return; // still no handler
    let outcome = this.#fresh.get(id);
    if (!outcome) {
      const read = (await this.#storage.get(key).catch(() => undefined)) as OutcomeRecord | undefined;
      if (read === undefined || read === null) {
        this.#waiting.delete(id); // delivered and removed meanwhile
        return;
      }
      if (read.v !== 1 || read.record?.id !== id || read.record.kind === undefined) {
        this.#waiting.delete(id);
        await this.#storage.remove(key);
        return;
      }
      outcome = read;
    }
    this.#fresh.delete(id);
    if (await this.#run(outcome)) {
      this.#waiting.delete(id);
      return;
    }
    this.#waiting.set(id, { kind: outcome.record.kind, type: outcome.type });
  }

  /**
   * Run the handlers of the outcome's kind, then remove it from storage — and a refusal a handler
   * claimed, from the outbox (the failed list) first. False if it has none.
   */
  async #run(outcome: OutcomeRecord): Promise<boolean> {
    const { kind, id, binary } = outcome.record;
    const handlers = this.#handlersFor(kind, outcome.type);
    if (handlers.length === 0) return false;
    let claimed = false;
    this.running = true;
    for (const handler of handlers) {
      // Disposed meanwhile: the outcome stays stored; its handlers run at the next start (at least once).
      if (this.#closed()) {
        this.running = false;
        return true;
      }
      try {
        if (outcome.type === 'sent') {
          const payload: SentOutcome = {
            operation: this.#toOperation(outcome.record) as Operation,
            status: outcome.status,
            response: outcome.response,
          };
          if (outcome.serverId !== undefined) payload.serverId = outcome.serverId;
          if (outcome.responseTooLarge) payload.responseTooLarge = true;
          await handler.sent?.(payload);
        } else {
          // A claim counts once the handler returned (or its promise resolved) without throwing.
          let live = true;
          let claims = false;
          try {
            await handler.failed?.({
              operation: this.#toOperation(outcome.record),
              error: outcome.error,
              claim: () => {
                claims ||= live;
              },
            });
          } finally {
            live = false;
          }
          claimed ||= claims;
        }
      } catch (error) {
        this.#logger.error(`a "${outcome.type}" handler of kind "${kind}" threw`, error);
      }
    }
    this.running = false;
    // Disposed meanwhile (storage closing): run again at the next start, at least once.
    const remove = (key: string) =>
      this.#storage.remove(key).catch((error: unknown) => {
        if (!this.#closed()) throw error;
      });
    if (claimed) {
      // Settled by its handler: out of the outbox as discard() takes it (its binary body's chunks
      // after it), before its outcome (a crash in between runs the handlers again, which claim it again).
      this.#claimed = id;
      if (this.settling === id) this.settling = undefined;
      await remove(`f/${id}`);
      for (let index = binary?.chunks as number; index--; ) await remove(`b/${id}/${index}`);
      // (In the failed list when its outcome was stored: after a restart, or in a rescan.)
      this.#lists?.remove('failed', [id]);
      this.#engine?.publishStatus();
    }
    await remove(prefix + id);
    return true;
  }

  /** Past the cap, drop the oldest outcomes that wait for a handler. */
  async #prune(): Promise<void> {
    const excess = this.#waiting.size - this.#maxWaiting;
    if (excess <= 0) return;
    const oldest = [...this.#waiting.keys()].sort().slice(0, excess);
    if (!this.#warned) {
      this.#warned = true;
      const kinds = [...new Set(oldest.map((id) => this.#waiting.get(id)?.kind))];
      // (What the production build keeps: the kinds, after the prose it strips.)
      this.#logger.warn(
        `more than ${this.#maxWaiting} operation outcomes wait for a handler: the oldest are dropped. Register sync.handle(kind, …) at start-up for the kinds`,
        kinds,
      );
    }
    for (const id of oldest) {
      this.#waiting.delete(id);
      await this.#storage.remove(prefix + id);
    }
  }

  /**
   * Run `task` after every task queued before it, so deliveries never overlap; at once (in this
   * call) when none is running, so a handler starts as soon as its operation left the queue. Once
   * the engine is disposed, not at all (what is stored waits for the next start).
   */
  #exclusive(task: () => Promise<void>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const start = (): void => {
        this.#busy = true;
        let run: Promise<void>;
        try {
          run = this.#closed() ? Promise.resolve() : task();
        } catch (error) {
          run = Promise.reject(error);
        }
        void run.then(resolve, reject).finally(() => {
          const next = this.#queued.shift();
          if (next) next();
          else this.#busy = false;
        });
      };
      if (this.#busy) this.#queued.push(start);
      else start();
    });
  }
}
