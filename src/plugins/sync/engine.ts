import type { ReadonlySignal, Signal } from '@preact/signals-core';
import { backoffDelay } from '../../core/backoff.js';
import { FluxyError, publish } from '../../core/errors.js';
import { EventBus, type Unsubscribe } from '../../core/events.js';
import type { Logger } from '../../core/logger.js';
import { effect, signal, untracked } from '../../core/signals-core.js';
import type {
  ChangeChannel,
  SharedSyncState,
  SyncMessage,
  SyncProgress,
  SyncStatus,
} from './change-channel.js';
import type { TabLeader } from './leader.js';
import {
  createRecord,
  type Operation,
  type OperationError,
  type OperationRecord,
  toOperation,
  type UnreadableOperation,
} from './operation.js';
import { OperationIdGenerator } from './operation-id.js';
import type { ResolvedRetryOptions } from './options.js';
import { Outbox, type OutboxStorage, UnreadableRecordError } from './outbox.js';
import type { OutcomeHandlers, OutcomeLog } from './outcomes.js';
import type { QueueEdits } from './queue-edits.js';
import { type ListOptions, QueueLists } from './queue-lists.js';
import { ReadAhead } from './read-ahead.js';
import type { OperationDraft } from './request-validation.js';
import type { SyncEvents } from './sync-events.js';
import type { TempIds } from './temp-ids.js';
import {
  defaultMaxResponseBytes,
  httpError,
  type NoAnswer,
  noAnswerError,
  type SendResult,
  sendOperation,
  storageFailedError,
  type TransportOptions,
} from './transport.js';
import { WriteGroup } from './write-group.js';

/** Everything the engine needs, passed in (no globals), so it runs and is tested without a registry. */
export interface SyncEngineDeps {
  storage: OutboxStorage;
  connectivity: {
    readonly isOnline: ReadonlySignal<boolean>;
    reportFailure(): void;
    /** Why `isOnline` is what it is; `'probe'` means a connectivity probe answered. */
    readonly reason?: ReadonlySignal<string>;
    /** When `isOnline` last changed (any clock: only compared for change). */
    readonly lastChangedAt?: ReadonlySignal<number>;
  };
  transport: TransportOptions;
  retry: ResolvedRetryOptions;
  intervalMs: number;
  leader: TabLeader;
  channel: ChangeChannel;
  logger: Logger;
  now: () => number;
  random: () => number;
  randomBytes: (bytes: Uint8Array) => void;
  /** Where events go (the plugin's bus, so handlers added before init stay). */
  events?: EventBus<SyncEvents>;
  /** The status signals to write (the plugin's, made before init); fresh ones when absent. */
  signals?: SyncSignals;
  /** Where the server id of a create is in its response: a field name or a function. @default 'id' */
  serverId?: string | ((response: unknown) => string | number | undefined);
  /**
   * How long a settled temporary id is kept at least before it is forgotten (see docs/sync.md,
   * "When a temporary id is forgotten"). @default 600000 (10 minutes)
   */
  tempIdRetentionMs?: number;
  /** Send up to `max` operations in one request to `url` (the `batch` option). */
  batch?: { url: string; max: number } | undefined;
}

/**
 * The public status signals, defined once: made by the plugin at construction (so an app binds
 * to them before `ready()`), written only by the engine's `publishStatus()`, exposed read-only.
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
 * The stores of one outbox that the lazily loaded edits (queue-edits.ts) and batches (batch.ts)
 * work on: plain collaborators, no callbacks into the engine. @internal
 */
export interface OutboxStores {
  readonly storage: OutboxStorage;
  readonly outbox: Outbox;
  readonly readAhead: ReadAhead;
  readonly lists: QueueLists;
  /**
   * The temporary ids, once loaded: temp-ids.ts is loaded at the first need (a `queue()` with a
   * `tempId`, a stored `t/` key, an op that declares one) — until then no temp id is known here.
   */
  tempIds: TempIds | undefined;
  /** Loads temp-ids.ts and creates {@link tempIds} (once). */
  readonly loadTempIds: () => Promise<TempIds>;
  /**
   * The durable outcome log, once loaded: outcomes.ts is loaded at the first need (`handle()`,
   * stored `o/` keys, an op with a `kind` answered or failed) — until then none is stored here.
   */
  outcomes: OutcomeLog | undefined;
  /** Loads outcomes.ts and creates {@link outcomes} (once). */
  readonly loadOutcomes: () => Promise<OutcomeLog>;
}

/** What `flush()` resolves with. */
export interface FlushSummary {
  /** Operations the server accepted during this flush. */
  sent: number;
  /** Operations that became failed during this flush. */
  failed: number;
  /** Operations still pending when the flush stopped. */
  remaining: number;
}

/** What the flush does after a step: go on with the next operation, or stop. @internal */
export type Step = 'next' | 'stop';
type Answer = Extract<SendResult, { kind: 'response' }>;

/** How many pending records a flush reads ahead at once (one storage transaction for all). */
const readAheadCount = 8;

/**
 * The outbox's engine: one operation's whole path after `queue()` validated it — stored, sent in
 * order, its answer committed, the status signals written — and the triggers that start a flush
 * (connectivity and leadership, the interval, `queue()`, `flush()`, other tabs' news).
 *
 * Reading order: {@link enqueue} (store) → {@link flush} → `#drain` (one request at a time, in id
 * order; `#sendBatch` first with the `batch` option) → `#sendHead` → {@link sendRequest}
 * (transport.ts's `sendOperation`, its work in the lazy send-request.ts) → {@link settleAnswer} →
 * `Answers.decideAnswer` (send-request.ts too: sent, retry later, failed, or pause on a 401), or
 * {@link handleUnanswered} when no answer came → {@link publishStatus} (the signals, in one
 * `publish()`: a batch an app effect cannot throw out of).
 *
 * An operation leaves the pending list only when the server answered it — removed after a 2xx;
 * moved to the failed list after a refusal or its last retryable answer (and out of the outbox
 * when a `failed` handler claims it) — or when the app discards it. A sent operation's removal
 * commits while the next request is on the wire (see {@link removalRun}) and before that one's
 * answer is handled, unless the sent one is a create or has a kind (its server id, its outcome
 * handlers: both done before the next is sent); the next one waits for the removal too when it
 * has a retry time, a temporary id (its own, or one it refers to) or a binary body, or goes in a
 * batch. A retryable failure of the head stops the flush until its wake timer fires; a 401, until
 * `resume()` or `retry()` without an id, in any tab.
 */
export class SyncEngine {
  readonly events: EventBus<SyncEvents>;
  // The status signals (`declare`: copied from `#signals` by the constructor, no field code).
  /** True while operations are being sent (in whichever tab is the flusher). */
  declare readonly isSyncing: ReadonlySignal<boolean>;
  declare readonly pendingCount: ReadonlySignal<number>;
  declare readonly failedCount: ReadonlySignal<number>;
  declare readonly status: ReadonlySignal<SyncStatus>;
  declare readonly lastError: ReadonlySignal<OperationError | null>;
  declare readonly progress: ReadonlySignal<SyncProgress>;
  readonly #deps: SyncEngineDeps;
  readonly #signals: SyncSignals;
  readonly #stores: OutboxStores;
  readonly #outbox: Outbox;
  readonly #readAhead: ReadAhead;
  readonly #lists: QueueLists;
  readonly #channel: ChangeChannel;
  readonly #ids: OperationIdGenerator;
  /** The app's edits (retry, discard, clear), loaded at the first one: off the start-up path. */
  readonly #queueEdits = once(() =>
    import('./queue-edits.js').then(
      ({ QueueEdits }) =>
        new QueueEdits(this.#stores, { WriteGroup, toOperation, UnreadableRecordError }, this, this.#deps),
    ),
  );
  /**
   * What an answer means, committed (send-request.ts: loaded with the request by the first
   * attempt, so loaded already whenever a server answered).
   */
  readonly #answers = once(() =>
    import('./send-request.js').then(
      ({ Answers }) =>
        new Answers(this, this.#stores, this.#deps, {
          WriteGroup,
          toOperation,
          httpError,
        }),
    ),
  );
  /**
   * How an attempt ends without success (send-request.ts's Failures: see failures.ts), loaded
   * with the request; the first failure found before any request loads it then.
   */
  readonly #failures = once(() =>
    import('./send-request.js').then(
      ({ Failures }) =>
        new Failures(this, this.#stores, this.#deps, {
          WriteGroup,
          toOperation,
          noAnswerError,
          chunkFailed,
        }),
    ),
  );
  /** Commits of `queue()` calls (and discards) still running, by operation id. @internal */
  readonly opWrites = new Map<string, Promise<unknown>>();
  #outcomesDelivered = false;
  /** Why sending is paused, in every tab: `pause()` ('manual'), or a 401 ('unauthorized': `retry()` lifts it too). */
  #pauseState: false | 'manual' | 'unauthorized' = false;
  /** Set while clearQueue() runs (here, or asked by another tab): nothing is sent. @internal (public for queue-edits.ts, shortened by the builds) */
  clearing = false;
  /** The flush running. @internal (with inFlight and unsettled: queue-edits.ts's settledFor reads them) */
  flushRun: Promise<FlushSummary> | undefined;
  #flushAgain = false;
  #intervalTimer: unknown;
  /** Retries a background rescan that failed (storage unavailable), with backoff. */
  #rescanTimer: unknown;
  #backgroundFailures = 0;
  #started = false;
  #disposed = false;
  /** The database was wiped under the running app: nothing is read, sent or queued any more. */
  #lost = false;
  readonly #disposers: Unsubscribe[] = [];

  // ——— the flush's state ———
  /** The step in flight (see {@link trackStep}). @internal */
  inFlight: { ids: readonly string[]; controller: AbortController; done: Promise<unknown> } | undefined;
  /** Network failures in a row, for the backoff. @internal */
  networkFailures = 0;
  /** The head's last request that got no answer (see FailureHost.noAnswer). @internal */
  noAnswer: { id: string; changedAt: number | undefined } | undefined;
  #wakeTimer: unknown;
  /**
   * The head's answer whose commit failed (storage full or unavailable): the next attempt
   * commits this answer again instead of resending the request, so a disk that cannot take the
   * outcome does not make the op go out again and again. @internal
   */
  unsettled: { id: string; result: Answer } | undefined;
  /** Storage failures in a row, for the backoff of the flush that retries after one. */
  #storageFailures = 0;
  /**
   * The commit of the last sent operation's removal (and outcome) — that operation is
   * {@link unsettled} meanwhile — while the next plain request goes out: the commit costs about
   * a quarter of a request to a fast server, and a plain operation does not depend on it. Awaited
   * (see {@link awaitRemoval}) before the next answer is handled, before a write of the flush, and
   * before it ends. If it fails, both answers are kept ({@link unsettled}, {@link #later}) and
   * committed on the next attempt: neither operation is sent again. @internal (with awaitRemoval,
   * headWaits, failOp, backoffFor, wakeIn and completeOne: send-request.ts's Answers uses them)
   */
  removalRun: Promise<void> | undefined;
  /** The answer that came while a removal that then failed was committing (see {@link unsettled}). */
  #later: { id: string; result: Answer } | undefined;

  // ——— the status's state (what publishStatus() computes the signals from, besides the lists) ———
  #flushing = false;
  /** True exactly while an HTTP request is outstanding. */
  #requesting = false;
  #progress: SyncProgress = { total: 0, done: 0 };
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

  constructor(deps: SyncEngineDeps) {
    this.#deps = deps;
    this.#channel = deps.channel;
    const outbox = new Outbox(deps.storage);
    const readAhead = new ReadAhead(outbox);
    const lists = new QueueLists(
      (message) => deps.channel.post(message),
      (id) => readAhead.drop(id),
    );
    const stores: OutboxStores = {
      storage: deps.storage,
      outbox,
      readAhead,
      lists,
      tempIds: undefined,
      loadTempIds: once(() =>
        import('./temp-ids.js').then(
          ({ TempIds }) => (stores.tempIds = new TempIds(deps.storage, deps.now, deps.leader, lists)),
        ),
      ),
      outcomes: undefined,
      loadOutcomes: once(() =>
        import('./outcomes.js').then(
          ({ OutcomeLog }) =>
            (stores.outcomes = new OutcomeLog(
              deps.storage,
              deps.logger,
              toOperation,
              () => this.#disposed,
              lists,
              this,
            )),
        ),
      ),
    };
    this.#stores = stores;
    this.#outbox = outbox;
    this.#readAhead = readAhead;
    this.#lists = lists;
    this.#ids = new OperationIdGenerator(deps.now, deps.randomBytes);
    this.events =
      deps.events ??
      new EventBus<SyncEvents>((event, error) => deps.logger.error(`a "${event}" handler threw`, error));
    this.#signals = deps.signals ?? createSyncSignals();
    // isSyncing, pendingCount, failedCount, status, lastError and progress (createSyncSignals).
    Object.assign(this, this.#signals);
  }

  /** Read the outbox's keys, then start listening to triggers. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    // Listening first: another tab's change told during the first scan is replayed over it.
    this.#disposers.push(this.#channel.subscribe((message) => this.#onMessage(message)));
    await this.rescanOutbox();
    await this.#checkStoredWait();
    if (this.#disposed) return;
    const { leader, connectivity } = this.#deps;
    this.#disposers.push(
      effect(() => {
        const online = connectivity.isOnline.value;
        const leading = leader.isLeader.value;
        untracked(() => {
          if (leading && !this.#outcomesDelivered) {
            this.#outcomesDelivered = true;
            // Stored outcomes, checked against what storage holds when each one's turn comes. Not
            // loaded (no handler, nothing stored at start-up): nothing to deliver — a handle()
            // whose load is under way delivers them once loaded.
            this.#stores.outcomes?.deliverAll();
          }
          if (online && leading) {
            this.requestFlush();
            this.wake();
          }
          this.publishStatus();
        });
      }),
    );
    leader.start();
    this.#intervalTimer = setInterval(() => this.wake(), this.#deps.intervalMs);
    unref(this.#intervalTimer);
    this.#channel.post({ type: 'hello' });
  }

  /**
   * Rescan storage, then flush if there is work — for triggers nobody awaits (connectivity, the
   * interval, visibility, other tabs' hints). A storage failure (a folder moved away, EMFILE, a
   * blocked database) never escapes as an unhandled rejection: it is logged and shown in
   * `lastError`, and the rescan is tried again with backoff until storage answers.
   */
  wake(): void {
    if (this.#disposed) return;
    this.rescanOutbox().then(
      () => {
        this.#backgroundFailures = 0;
        clearTimeout(this.#rescanTimer as ReturnType<typeof setTimeout>);
        // Storage answered again: a storage failure (or a chunk that did not load) shown in
        // `lastError` goes — the errors of no op (see #failedInBackground, #drain).
        if (this.#transientError && !this.#transientError.id) {
          this.#transientError = null;
          this.publishStatus();
        }
        this.requestFlush();
      },
      (error: unknown) => this.#failedInBackground(error, 'reading the outbox from storage'),
    );
  }

  // ——— queue: store the operation ———

  /**
   * Store a validated draft (its origin checked too: `prepareOperation`) as a new operation;
   * resolves once committed. Ids follow call order.
   */
  async enqueue(draft: OperationDraft): Promise<Operation> {
    this.#assertAlive();
    const id = this.#ids.next();
    // Registered at once (so a flush waits for it, and ids keep call order) even while a create
    // waits for temp-ids.ts to load.
    const write = this.#store(id, draft);
    this.opWrites.set(id, write);
    try {
      await write;
    } finally {
      this.opWrites.delete(id);
    }
    this.#lists.add('pending', [id]);
    this.requestFlush();
    this.publishStatus();
    return toOperation(await write) as Operation;
  }

  /**
   * Commit the new operation `id`, with the temporary id it introduces and its binary body's
   * chunks, together — or none. Synchronous up to the commit unless the draft has a `tempId`.
   */
  async #store(id: string, draft: OperationDraft): Promise<OperationRecord> {
    const tempIds = draft.tempId === undefined ? this.#stores.tempIds : await this.#stores.loadTempIds();
    const refs = tempIds?.refsFor(draft, FluxyError) ?? [];
    const record = createRecord(id, draft, this.#deps.now(), refs);
    const group = this.#outbox.stage(new WriteGroup(), 'pending', record);
    // (The temp id is known from now: a queue() right after sees it.)
    if (draft.tempId !== undefined) tempIds?.stageIntroduce(group, draft.tempId, id);
    await (draft.binary
      ? import('./binary-body.js')
          .catch(chunkFailed)
          .then((lazy) => lazy.store(this.#outbox, group, record, draft, FluxyError))
      : this.#outbox.commit(group));
    return record;
  }

  // ——— send: the flush ———

  /** Drain now; joins a running flush. */
  flush(): Promise<FlushSummary> {
    // Another tab sends: ask it to. (A flush that cannot send resolves at once, see #drain.)
    if (!this.#disposed && !this.#deps.leader.isLeader.value) this.#channel.post({ type: 'flush' });
    this.flushRun ??= this.#drain().finally(() => {
      this.flushRun = undefined;
      this.publishStatus();
      this.collectTempIds();
      if (this.#flushAgain) {
        this.#flushAgain = false;
        this.requestFlush();
      }
    });
    return this.flushRun;
  }

  /** Send the pending operations in order while sending is possible. */
  async #drain(): Promise<FlushSummary> {
    const summary: FlushSummary = { sent: 0, failed: 0, remaining: 0 };
    if (this.#canSend() && this.#lists.pending.length > 0) {
      this.#flushing = true;
      this.#progress = { total: this.#lists.pending.length, done: 0 };
      this.publishStatus();
      try {
        while (this.#canSend()) {
          // While the last one's removal commits, the next is the one after it.
          const id = this.#lists.pending.page(this.removalRun && this.unsettled?.id, 1)[0];
          if (id === undefined) break;
          const earlier = [...this.opWrites].filter(([writing]) => writing <= id).map(([, write]) => write);
          if (earlier.length > 0) {
            // An earlier queue() is still committing: wait, so it is sent first (or this op is
            // being discarded: wait, so it is not sent).
            await Promise.allSettled(earlier);
            continue;
          }
          const step =
            (this.#deps.batch && (await this.#sendBatch(this.#deps.batch, summary))) ||
            (await this.#sendHead(id, summary));
          this.#storageFailures = 0;
          this.publishStatus();
          if (step === 'stop') break;
        }
        await this.awaitRemoval();
      } catch (error) {
        // Storage failed under us (unavailable, full), or a lazy chunk could not load: keep the
        // operation, report, retry later — with a backoff of its own that a server answer does not
        // reset. (A chunk's failure shows as sync/network-error: see storageFailedError.)
        this.#deps.logger.error('flush stopped: storage failed, or a lazy chunk did not load', error);
        this.headWaits(storageFailedError(error, this.#deps.now()), undefined, true);
        this.wakeIn(this.backoffFor(++this.#storageFailures));
      } finally {
        // Only after a failure elsewhere: its own failure leaves the answer in unsettled.
        await this.awaitRemoval().catch(() => undefined);
        this.#flushing = false;
        this.#readAhead.clear();
        this.publishStatus();
      }
    }
    summary.remaining = this.#lists.pending.length;
    return summary;
  }

  /**
   * The head's step: read it (and resolve its temporary ids, stored first), then send it. All of it
   * is the step in flight (see {@link trackStep}): a discard(id) or retry(id) called meanwhile waits
   * for it — a rewrite of a record just discarded would store it again, and send it.
   */
  async #sendHead(id: string, summary: FlushSummary): Promise<Step> {
    return this.trackStep([id], async (signal) => {
      let record: OperationRecord | undefined;
      try {
        record = await this.#readAhead.read(id);
      } catch (error) {
        if (!(error instanceof UnreadableRecordError)) throw error;
        await this.awaitRemoval(); // told after the op before it
        // Rare: moved by queue-edits.ts, loaded now (off the start-up path).
        return (await this.#queueEdits()).moveUnreadable(
          id,
          error.cause,
          this.#deps.now(),
          summary,
          this.#deps.logger,
        );
      }
      if (!record) {
        this.#lists.note('removed', 'pending', [id]); // removed by another tab
        return 'next';
      }
      // Only a plain operation goes out while the last removal commits (see removalRun).
      if (record.nextAttemptAt !== undefined || record.tempId !== undefined || record.refs || record.binary)
        await this.awaitRemoval();
      // (An op that refers to a temporary id without `refs` was queued in another tab, before this
      // tab's last create: that create is not the op being removed, which has no temporary id.)
      let unsettled = this.unsettled;
      if (this.#later?.id === id) {
        await this.awaitRemoval(); // if it fails again, this answer stays stashed
        unsettled = this.#later;
        this.#later = undefined;
      }
      if (unsettled?.id === id) {
        await this.awaitRemoval();
        return this.settleAnswer(record, unsettled.result, summary);
      }
      const now = this.#deps.now();
      if (this.#waitsForRetry(record, now)) return 'stop';
      // Temporary ids introduced in another tab may have been unknown when this op was queued
      // there; the create was read (and sent) before this op, so they are known now — or, without
      // Web Locks, listed again (TempIds.resolve). temp-ids.ts is loaded for an op that introduces
      // or refers to one, and without Web Locks for every op (else none is known).
      const tempIds =
        record.tempId !== undefined || record.refs || this.#deps.leader.coordination === 'none'
          ? await this.#stores.loadTempIds()
          : this.#stores.tempIds;
      const resolved = tempIds ? await tempIds.resolve(record) : record;
      if (!resolved) return 'next'; // a create it needs goes first (see TempIds.resolve)
      // (Its dependency failed, or a server id cannot go into its URL: see TempIds.resolve.)
      if ('code' in resolved) return this.failOp(record, resolved, summary);
      // Stored before it is sent, like every change to a record.
      if (resolved.rev !== record.rev) await this.#readAhead.write(resolved);
      record = resolved;
      // A binary body is read back from its chunks at each attempt (binary-body.ts, loaded now);
      // a chunk missing or failing authentication gives, instead, why the op fails unsent.
      const body = record.binary
        ? await (await import('./binary-body.js').catch(chunkFailed)).load(this.#deps.storage, record, now)
        : record.body;
      if ((body as OperationError | undefined)?.code) {
        return this.failOp(record, body as OperationError, summary);
      }
      this.#readAhead.after(this.#lists.pending, id, readAheadCount);
      const result = await this.sendRequest(
        toOperation(record) as Operation,
        body as string | Blob | undefined,
        signal,
      );
      await this.awaitRemoval().catch((error) => {
        // The last removal failed: this answer too is committed on the next attempt, not resent.
        if (result.kind === 'response') this.#later = { id, result };
        throw error;
      });
      if (result.kind === 'aborted' || this.#disposed) return 'stop';
      if (result.kind !== 'response') return this.handleUnanswered(record, result, summary);
      return this.settleAnswer(record, result, summary);
    });
  }

  /**
   * Send up to `batch.max` operations from the head in one request, or resolve undefined: the head
   * goes alone (batch-send.ts, loaded now: only an app with the `batch` option needs it).
   */
  async #sendBatch(batch: { url: string; max: number }, summary: FlushSummary): Promise<Step | undefined> {
    await this.awaitRemoval(); // a batch is read from the head on
    const { sendBatch } = await import('./batch-send.js').catch(chunkFailed);
    return sendBatch(
      this,
      batch,
      summary,
      this.#stores,
      this.#deps,
      this.unsettled?.id,
      this.opWrites.keys(),
      () => this.#disposed,
      { toOperation, defaultMaxResponseBytes },
    );
  }

  /**
   * Run one step — reading the operations (and rewriting those whose temporary ids resolve), their
   * request and what its answer means — as the step in flight (see queue-edits.ts's settledFor).
   * @internal (with sendRequest, handleUnanswered, settleAnswer, retryLater and commitSent: batch-send.ts calls them)
   */
  async trackStep<T extends Step | undefined>(
    ids: readonly string[],
    run: (signal: AbortSignal) => Promise<T>,
  ): Promise<T | 'next'> {
    // One of them is being discarded (since it was read): not sent; the flush waits for the discard.
    if (ids.some((id) => this.opWrites.has(id))) return 'next';
    const controller = new AbortController();
    const step = run(controller.signal);
    this.inFlight = { ids, controller, done: step.catch(() => undefined) };
    try {
      return await step;
    } finally {
      this.inFlight = undefined;
    }
  }

  async sendRequest(
    operation: Operation,
    body: string | Blob | undefined,
    signal: AbortSignal,
    transport = this.#deps.transport,
  ): Promise<SendResult> {
    this.#requesting = true;
    this.publishStatus();
    try {
      return await sendOperation(operation, body, transport, signal);
    } finally {
      this.#requesting = false;
    }
  }

  // ——— answer: what the result means ———

  /**
   * The request got no HTTP answer to read: refused before sending, redirected, or no answer at
   * all (Failures.unanswered, send-request.ts: loaded already, as the request was made) — or no
   * request was made (noRequest: the chunk that sends could not load, or the headers option
   * failed): same key next time, the attempt never counts, connectivity is not told.
   */
  async handleUnanswered(
    record: OperationRecord,
    result: Exclude<SendResult, Answer | { kind: 'aborted' }>,
    summary: FlushSummary,
  ): Promise<Step> {
    if ((result as { noRequest?: true }).noRequest)
      return this.waitUnanswered(
        record,
        noAnswerError(result as NoAnswer, this.#deps.transport.timeoutMs, this.#deps.now()),
      );
    return (await this.#failures()).unanswered(record, result, summary);
  }

  /** The head got no answer (`error`): it waits for its retry, with the backoff of network failures. @internal */
  waitUnanswered(record: OperationRecord, error: OperationError): Step {
    const delay = this.backoffFor(++this.networkFailures);
    this.headWaits(error, record.id, true);
    this.events.emit('retry', { operation: toOperation(record) as Operation, error, delayMs: delay });
    this.wakeIn(delay);
    return 'stop';
  }

  /** Commit what the answer means; if storage fails, keep the answer for the next attempt. */
  async settleAnswer(record: OperationRecord, result: Answer, summary: FlushSummary): Promise<Step> {
    this.unsettled = { id: record.id, result };
    const step = await (await this.#answers()).decideAnswer(record, result, summary);
    if (!this.removalRun) this.unsettled = undefined;
    return step;
  }

  /** The server answered: the backoff of past network failures and the last unanswered request are forgotten. @internal */
  heardBack(): void {
    this.networkFailures = 0;
    this.noAnswer = undefined;
  }

  /**
   * Wait for the removal still committing (see {@link removalRun}): rejects if that commit failed
   * (the flush stops as for any storage failure, the answer kept in unsettled).
   */
  async awaitRemoval(): Promise<void> {
    const removing = this.removalRun;
    if (removing) {
      // Kept meanwhile, for settledFor() (queue-edits.ts).
      await removing.finally(() => (this.removalRun = undefined));
      this.unsettled = undefined;
    }
  }

  /**
   * A retryable answer: wait (its Retry-After, or backoff) and try again — or, after maxAttempts,
   * fail (Answers.retryLater, send-request.ts).
   */
  async retryLater(
    record: OperationRecord,
    error: OperationError,
    retryAfterHeader: string | null,
    summary: FlushSummary,
  ): Promise<Step> {
    return (await this.#answers()).retryLater(record, error, retryAfterHeader, summary);
  }

  /** 2xx answers committed together, then told (Answers.commitSent, send-request.ts). */
  async commitSent(records: OperationRecord[], results: Answer[]): Promise<void> {
    return (await this.#answers()).commitSent(records, results);
  }

  /**
   * Move the head to the failed list for good (with its outcome and temporary id, in one write
   * group) — unless one of its `failed` handlers claims it (Failures.failOp, send-request.ts).
   */
  async failOp(record: OperationRecord, error: OperationError, summary: FlushSummary): Promise<Step> {
    return (await this.#failures()).failOp(record, error, summary);
  }

  // ——— signals: the status, written together ———

  /**
   * Write every status signal at once (in `publish()`, core/errors.ts) from the in-memory lists and the flush; emit
   * `change` when a count changed; in the leader tab, share the state with the other tabs. A tab
   * that does not send shows the leader's state instead.
   */
  publishStatus(): void {
    const leading = this.#deps.leader.isLeader.peek();
    const online = this.#deps.connectivity.isOnline.peek();
    const paused = !!this.#pauseState;
    const clearing = this.clearing;
    const pendingCount = this.#lists.pending.length;
    const failedCount = this.#lists.failed.size;
    // (Not a tab whose storage was lost: it shows its own loss, no other tab's state.)
    const mirror = !leading && !this.#lost && this.#leaderState;
    // Requests are going out: a flush runs and either one is in flight or more may start at once —
    // not while the head only waits for its retry (a flush that finds it waiting sends nothing).
    // A flush that just ended with another asked for (e.g. resume() after a 401) counts: the next
    // starts once it is let go (see flush), and the old error is no reason to show 'error' meanwhile.
    const sending =
      (this.#flushing || (this.#flushAgain && leading && pendingCount > 0)) &&
      (this.#requesting ||
        (!paused && !clearing && online && !this.#transientError?.backoff && !this.#lostError?.sticky));
    if (this.#flushing) {
      const total = Math.max(this.#progress.total, this.#progress.done + pendingCount);
      if (total !== this.#progress.total) this.#progress = { ...this.#progress, total };
    }
    const isSyncing = mirror ? mirror.isSyncing : sending;
    // A dead-letter error stays in lastError, but only a head waiting for its retry is 'error'.
    const lastError =
      this.#lostError?.error ??
      (mirror ? mirror.lastError : (this.#transientError?.error ?? this.#deadLetterError?.error ?? null));
    const progress = mirror ? mirror.progress : this.#progress;
    // 'syncing' exactly while isSyncing: a request in flight when connectivity drops or pause()
    // is called is still answered (and its answer committed), so both say so until it settles.
    const status: SyncStatus = isSyncing
      ? 'syncing'
      : paused
        ? 'paused'
        : !online
          ? 'offline'
          : this.#lostError?.sticky
            ? 'error'
            : mirror
              ? mirror.status
              : this.#transientError && pendingCount > 0
                ? 'error'
                : 'idle';
    const signals = this.#signals;
    const changed =
      signals.pendingCount.peek() !== pendingCount || signals.failedCount.peek() !== failedCount;
    const shared: SharedSyncState = { isSyncing, status, lastError, progress };
    publish(() => {
      for (const [name, value] of Object.entries({ ...shared, pendingCount, failedCount }))
        (signals[name as keyof SyncSignals] as Signal<unknown>).value = value;
    });
    if (changed) this.events.emit('change', { pendingCount, failedCount });
    if (leading && this.#started && !this.#disposed) {
      this.#channel.share(shared, () => this.#deps.leader.isLeader.peek());
    }
  }

  /**
   * The head's attempt failed and it waits — for its retry, or for `resume()` after a 401 — or the
   * flush stopped on a storage failure: shown until the next success. `id`: the op it belongs to.
   * `backoff`: it waits for a retry time (a flush that runs meanwhile sends nothing: not syncing).
   */
  headWaits(error: OperationError, id?: string, backoff = false): void {
    this.#transientError = { error, id, backoff };
    this.publishStatus();
  }

  /**
   * Op `id` became failed: its error stays until it is retried, discarded or cleared (`false`: a
   * handler claimed its refusal, no error).
   */
  /** @internal (queue-edits.ts calls it for an unreadable head) */
  headFailed(error: OperationError | false, id: string): void {
    this.completeOne();
    if (error) this.#deadLetterError = { error, id };
    this.#transientError = null; // the head moved on
    this.publishStatus();
  }

  /**
   * The head's retry error goes, and the lost-storage one unless the database was lost under the
   * running app; with `deadLetter`, a failed op's error too (the queue was cleared). @internal
   */
  clearErrors(deadLetter?: boolean): void {
    this.#transientError = null;
    if (!this.#lostError?.sticky) this.#lostError = null;
    if (deadLetter) this.#deadLetterError = null;
  }

  completeOne(): void {
    this.#progress = { ...this.#progress, done: this.#progress.done + 1 };
  }

  /** Ops left their list (retried, discarded, cleared — here or in another tab): drop their errors. @internal (with headRemoved and rescanOutbox: queue-edits.ts calls them) */
  forgetErrorsOf(ids: readonly string[]): void {
    // (An error of no op, id undefined, is in no list: ids holds only strings.)
    if (ids.includes(this.#transientError?.id as string)) this.#transientError = null;
    if (ids.includes(this.#deadLetterError?.id as string)) this.#deadLetterError = null;
  }

  // ——— the app's reads and edits ———

  /**
   * Snapshot of the pending operations, in send order (a page of them with `limit`/`after`): read
   * by queue-edits.ts (loaded now: the app's reads are off the start-up path, as its edits).
   */
  async pending(page?: ListOptions): Promise<Array<Operation | UnreadableOperation>> {
    return (await this.#queueEdits()).list('pending', page);
  }

  /** Snapshot of the failed operations, oldest first (a page of them with `limit`/`after`). */
  async failed(page?: ListOptions): Promise<Array<Operation | UnreadableOperation>> {
    return (await this.#queueEdits()).list('failed', page);
  }

  /**
   * Put a failed operation (or all of them) back in the queue, keeping its id; for a pending one
   * waiting for its backoff, try now (see {@link QueueEdits.retryOps}) — with `id`, once its request
   * in flight and its removal are done. A retry of every failed op also lifts a pause after a 401,
   * in every tab.
   */
  async retry(id?: string): Promise<number> {
    this.#assertAlive();
    return (await this.#queueEdits()).retryOps(id, this.#deps.now);
  }

  /** Remove an operation (pending or failed) for good. Resolves false if it was no longer queued. */
  async discard(id: string): Promise<boolean> {
    this.#assertAlive();
    return (await this.#queueEdits()).discardOp(id);
  }

  /**
   * Remove every pending and failed operation queued before this call (once those still being
   * written are committed), none queued after it. Resolves with how many were removed.
   */
  async clearQueue(): Promise<number> {
    this.#assertAlive();
    // The cut: an op queued from now on has a greater id (nothing is sent from the moment
    // queue-edits.ts is loaded: see clearAll).
    const cut = this.#ids.next();
    return (await this.#queueEdits()).clearAll(cut);
  }

  /** Stop sending after the current request, in every tab (told why), until `resume()`. */
  pause(reason: 'manual' | 'unauthorized' = 'manual', broadcast = true): void {
    this.#pauseState = reason;
    if (broadcast) this.#channel.post({ type: 'pause', reason });
    this.publishStatus();
  }

  /**
   * Resume sending (after `pause()`, or after a 401 once the app has fresh credentials), in every
   * tab; with `reason`, only a pause for that reason: `retry()` lifts a 401's pause — in every tab,
   * the one that sends included (it may be another) — and never a `pause()`.
   */
  resume(reason?: 'unauthorized', broadcast = true): void {
    if (broadcast) this.#channel.post({ type: 'resume', reason });
    if (!reason || reason === this.#pauseState) {
      this.#pauseState = false;
      this.requestFlush();
      this.publishStatus();
    }
  }

  /**
   * The storage plugin found its database wiped. Between runs the queue read at start is what
   * storage holds (the wipe's leftovers were deleted): only `lastError` tells, until a success.
   * Under the running app: the in-memory lists are dropped (nothing is stored any more, so
   * `pendingCount` is 0), nothing more is sent — no op is ever delivered from half a queue — and
   * `lastError` says so for good; `queue()` fails with `storage/lost` from storage. The lock goes
   * (a live tab, one reloaded on a fresh database, leads and sends), and the other tabs are no
   * longer heard nor told: this tab shows its own loss, they their own state.
   */
  storageLost(when: 'between-runs' | 'while-running'): void {
    if (when === 'while-running') {
      this.#lost = true;
      this.#cancelWake();
      this.#deps.leader.dispose();
      void this.#lists.replace(async () => ({ pending: [], failed: [] })).then(() => this.publishStatus());
    }
    const error = {
      code: 'sync/storage-lost' as const,
      message: `the database was wiped (${when}): the operations queued before are gone`,
      at: this.#deps.now(),
    };
    if (!this.#lostError?.sticky) this.#lostError = { error, sticky: this.#lost };
    this.publishStatus();
  }

  /**
   * Stop timers, listeners and the lock; abort the request in flight (its operation stays queued).
   * The lock goes once the last answer is committed (at most `timeoutMs` later).
   */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    this.inFlight?.controller.abort();
    this.#cancelWake();
    clearInterval(this.#intervalTimer as ReturnType<typeof setInterval>);
    clearTimeout(this.#rescanTimer as ReturnType<typeof setTimeout>);
    for (const dispose of this.#disposers.splice(0).reverse()) dispose();
    // The last answer commits before the lock goes (another tab would send that op again) — or
    // after timeoutMs, if storage hangs.
    let timer: unknown;
    await Promise.race([
      this.flushRun?.catch(() => undefined),
      new Promise((done) => (timer = setTimeout(done, this.#deps.transport.timeoutMs))),
    ]);
    clearTimeout(timer as ReturnType<typeof setTimeout>);
    this.#deps.leader.dispose();
    this.#channel.close();
    this.events.clear();
  }

  /** Register outcome handlers for a kind; outcomes stored while none was registered are delivered now. */
  handle(kind: string, handlers: OutcomeHandlers): Unsubscribe {
    // outcomes.ts is loaded now; registered once it is (before any flush stores an outcome
    // after this call: that flush waits for the same load). It delivers the stored outcomes in a
    // tab that sends (OutcomeLog.handle).
    let off: Unsubscribe | undefined;
    let unsubscribed = false;
    this.#stores.loadOutcomes().then(
      (outcomes) => {
        if (!unsubscribed)
          off = outcomes.handle(kind, handlers, this.#started && this.#deps.leader.isLeader.peek());
      },
      (error: unknown) => this.#deps.logger.error('loading the outcome handlers failed', error),
    );
    return () => {
      unsubscribed = true;
      off?.();
    };
  }

  /** The server id of a temporary id, once its create succeeded. */
  async resolveId(tempId: string): Promise<string | undefined> {
    // Read from storage, also in a tab that had no temporary id of its own (another tab made it).
    // temp-ids.ts loaded now; if it cannot be (offline, never fetched), none is known here.
    return (await (await this.#stores.loadTempIds().catch(() => {}))?.get(tempId))?.serverId;
  }

  // ——— triggers ———

  /** True while requests may go out (alive, leader, online, not paused or clearing). */
  #canSend(): boolean {
    return (
      !this.#disposed &&
      !this.#lost &&
      !this.clearing &&
      !this.#pauseState &&
      this.#deps.leader.isLeader.peek() &&
      this.#deps.connectivity.isOnline.peek()
    );
  }

  requestFlush(): void {
    if (this.#disposed || !this.#started) return;
    if (this.flushRun) {
      this.#flushAgain = true;
      return;
    }
    if (this.#lists.pending.length > 0 && this.#canSend()) {
      this.flush().catch((error: unknown) => this.#failedInBackground(error, 'a flush started by a wake-up'));
    }
  }

  /** Flush when `ms` have passed (replacing the wake-up set before). */
  wakeIn(ms: number): void {
    this.#cancelWake();
    this.#wakeTimer = setTimeout(() => this.requestFlush(), Math.max(0, ms));
    unref(this.#wakeTimer);
  }

  #cancelWake(): void {
    clearTimeout(this.#wakeTimer as ReturnType<typeof setTimeout>);
  }

  /** The delay before the next try after `failures` failures in a row (the retry options' backoff). */
  backoffFor(failures: number): number {
    const { baseDelayMs, maxDelayMs } = this.#deps.retry;
    return backoffDelay(failures, baseDelayMs, maxDelayMs, this.#deps.random);
  }

  /**
   * At start-up (a restart): if the head waits for a retry time stored before, show it waiting
   * (status `'error'` with its stored error) and wake at that time, so the first flush does not
   * show "syncing" for a flush that would send nothing. The record read is kept for that flush.
   */
  async #checkStoredWait(): Promise<void> {
    const head = this.#lists.pending.first();
    if (head !== undefined)
      this.#waitsForRetry(await this.#readAhead.peek(head).catch(() => undefined), this.#deps.now());
  }

  /**
   * True when the head `record` waits for its retry time: the flush wakes then. Also after a
   * restart: its stored error says why (unless it is shown waiting already: its error then may be
   * a newer one, not stored).
   */
  #waitsForRetry(record: OperationRecord | undefined, now: number): boolean {
    const wait = (record?.nextAttemptAt ?? now) - now;
    if (wait > 0) {
      this.wakeIn(wait);
      const shown = this.#transientError;
      if (record?.lastError && !(shown?.id === record.id && shown.backoff))
        this.headWaits(record.lastError, record.id, true);
    }
    return wait > 0;
  }

  /** (`what`, prose, is left out of the production build with its argument: see strip-prose.mjs.) */
  #failedInBackground(error: unknown, what: string): void {
    if (this.#disposed || this.#lost) return;
    this.#deps.logger.error(`${what} failed in the background; retrying`, error);
    this.headWaits(storageFailedError(error, this.#deps.now()), undefined, true);
    clearTimeout(this.#rescanTimer as ReturnType<typeof setTimeout>);
    this.#rescanTimer = setTimeout(() => this.wake(), this.backoffFor(++this.#backgroundFailures));
    unref(this.#rescanTimer);
  }

  /** The head left the queue without being sent (discarded): its wake-up is stale; send the next now. */
  headRemoved(): void {
    this.#cancelWake();
    this.requestFlush();
  }

  async rescanOutbox(): Promise<void> {
    if (this.#disposed || this.#lost) return;
    const last = await this.#lists.replace(async () => {
      const mark = this.#stores.tempIds?.mark();
      const listing = await this.#deps.storage.keys();
      // Stored temporary ids (a cold start reads keys only): temp-ids.ts is needed from now.
      if (listing.some((key) => key.startsWith('t/'))) await this.#stores.loadTempIds();
      // Stored outcomes wait for a handler: outcomes.ts is needed from now.
      if (listing.some((key) => key.startsWith('o/'))) await this.#stores.loadOutcomes();
      this.#stores.tempIds?.load(listing, mark);
      return this.#outbox.scan(listing);
    });
    if (last) this.#ids.seed(last);
    this.publishStatus();
    this.collectTempIds();
  }

  /** What another tab says. A hint, not a log: every tab rescans storage now and then. */
  #onMessage(message: SyncMessage): void {
    if (this.#disposed || this.#lost) return;
    switch (message.type) {
      case 'added':
        // Ops queued here from now on sort after what another tab queued and this one has seen.
        for (const id of message.ids) this.#ids.seed(id);
        this.#lists.note('added', message.list, message.ids);
        this.requestFlush();
        this.publishStatus();
        return;
      case 'removed': {
        // Discarded, retried or cleared in another tab: as if done here.
        const head = this.#lists.pending.first();
        this.#lists.note('removed', message.list, message.ids);
        this.forgetErrorsOf(message.ids);
        if (message.ids.includes(head as string) && this.#lists.pending.first() !== head) {
          this.headRemoved();
        }
        this.publishStatus();
        return;
      }
      case 'state':
        // Another sender's state: shown by a tab that does not send. A sender ignores it (without
        // Web Locks every tab sends: publishing would share its own, and tabs would echo forever).
        if (this.#deps.leader.isLeader.peek()) return;
        this.#leaderState = message.state;
        this.publishStatus();
        return;
      case 'pause':
        this.pause(message.reason, false); // (none from an earlier version: 'manual')
        return;
      case 'resume':
        this.resume(message.reason, false);
        return;
      case 'hello':
        // A new tab: answer so it knows it is not alone, and share the current state (a leader's
        // publishStatus() posts it, at the end of this task).
        this.#channel.post({ type: 'here' });
        this.publishStatus();
        return;
      case 'flush':
      case 'rescan':
        this.wake();
        return;
      case 'ask':
        // Another tab's discard(id) or clearQueue(): done by the tab that sends (queue-edits.ts).
        this.#queueEdits().then(
          (edits) => edits.answerTab(message),
          () => {},
        );
    }
  }

  // ——— outcomes and temporary ids ———

  /**
   * Forget the temporary ids no operation can need any more (the rule: TempIds.collect), in the
   * tab that sends, while nothing is pending or being queued. Runs in the background; never throws.
   */
  collectTempIds(): void {
    const quiet = () =>
      !this.#disposed &&
      !this.clearing &&
      this.#started &&
      this.#lists.pending.length === 0 &&
      this.opWrites.size === 0 &&
      this.#deps.leader.isLeader.peek();
    // Not loaded: none is known.
    if (quiet())
      this.#stores.tempIds?.collectWhile(
        quiet,
        this.#deps.tempIdRetentionMs,
        [...this.#lists.failed],
        this.#outbox,
        this.#deps.logger,
      );
  }

  #assertAlive(): void {
    if (this.#disposed)
      throw new FluxyError('app/disposed', 'The sync plugin was disposed: create a new app.');
  }
}

/**
 * `load` (a lazy chunk's import, and what is made of it), called once: its promise is kept, unless
 * it rejects — the chunk could not load (see {@link chunkFailed}): it is fetched again next time.
 */
function once<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () =>
    (loading ??= load().catch((error: unknown) => {
      loading = undefined;
      return chunkFailed(error);
    }));
}

/**
 * A lazy chunk could not load (a deploy removed it, or the network is down): a network error, no
 * failure of storage — `sync/network-error`, its cause the loader's error. What needed it rejects
 * with it (`pending()`, `discard()`, a `queue()` with a binary body…); a flush stops on it as on a
 * storage failure (see `storageFailedError`): retried with backoff, the op kept at the head with
 * its key, no attempt counted, connectivity not told.
 */
function chunkFailed(cause: unknown): never {
  throw new FluxyError('sync/network-error', `a lazy chunk of fluxy/sync could not load: ${cause}`, {
    cause,
  });
}

/** Let Node exit while a timer is pending (no-op in browsers). */
function unref(timer: unknown): void {
  (timer as { unref?: () => void } | undefined)?.unref?.();
}
