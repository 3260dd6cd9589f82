import { batch, effect, type ReadonlySignal, signal, untracked } from '@preact/signals-core';
import { FluxyError } from '../../core/errors.js';
import { EventBus, type Unsubscribe } from '../../core/events.js';
import type { Logger } from '../../core/logger.js';
import { computeDelay, parseRetryAfter, type ResolvedRetryOptions } from './backoff.js';
import type {
  ChangeChannel,
  SharedSyncState,
  SyncMessage,
  SyncProgress,
  SyncStatus,
} from './change-channel.js';
import { classify } from './classify.js';
import type { TabLeader } from './leader.js';
import {
  type Operation,
  type OperationError,
  type OperationRecord,
  recordVersion,
  toOperation,
  type UnreadableOperation,
} from './operation.js';
import { OperationIdGenerator } from './operation-id.js';
import { Outbox, type OutboxList, type OutboxStorage, UnreadableRecordError } from './outbox.js';
import { type OutcomeHandlers, OutcomeLog } from './outcomes.js';
import type { OperationDraft } from './request-validation.js';
import { SortedIds } from './sorted-ids.js';
import type { SyncEvents } from './sync-events.js';
import { defaultTempIdRetentionMs, extractServerId, substituteTempIds, TempIds } from './temp-ids.js';
import { type SendResult, sendOperation, type TransportOptions } from './transport.js';

/** What `flush()` resolves with. */
export interface FlushSummary {
  /** Operations the server accepted during this flush. */
  sent: number;
  /** Operations that became failed during this flush. */
  failed: number;
  /** Operations still pending when the flush stopped. */
  remaining: number;
}

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
  /** Where the server id of a create is in its response: a field name or a function. @default 'id' */
  serverId?: string | ((response: unknown) => string | number | undefined);
  /**
   * How long a settled temporary id is kept at least before it is forgotten (see docs/sync.md,
   * "When a temporary id is forgotten"). @default 600000 (10 minutes)
   */
  tempIdRetentionMs?: number;
}

type Step = 'next' | 'stop';

/**
 * The outbox's flusher: order, retry, signals. One request at a time, in id order; an operation
 * leaves the outbox only after a 2xx, and that removal is committed before the next is sent.
 */
export class SyncEngine {
  readonly events: EventBus<SyncEvents>;
  readonly #deps: SyncEngineDeps;
  readonly #outbox: Outbox;
  readonly #ids: OperationIdGenerator;
  readonly #tempIds: TempIds;
  readonly #outcomes: OutcomeLog;
  #outcomesDelivered = false;

  readonly #isSyncing = signal(false);
  readonly #pendingCount = signal(0);
  readonly #failedCount = signal(0);
  readonly #status = signal<SyncStatus>('idle');
  readonly #lastError = signal<OperationError | null>(null);
  readonly #progress = signal<SyncProgress>({ total: 0, done: 0 });

  readonly #pending = new SortedIds();
  #failed = new Set<string>();
  /** Changes made while a rescan reads keys, replayed over its result so a stale scan loses nothing. */
  readonly #journals = new Set<Array<[list: OutboxList, change: 'add' | 'remove', id: string]>>();
  readonly #writing = new Map<string, Promise<unknown>>();
  #paused: false | 'manual' | 'unauthorized' = false;
  #syncing = false;
  /** Another tab has been heard from: from then on, changes are broadcast. */
  #peers = false;
  #sharedState: SharedSyncState | undefined;
  #statePostScheduled = false;
  /** True exactly while an HTTP request is outstanding. */
  #requesting = false;
  /**
   * The last attempt's error while the head waits for its retry (network, timeout, headers,
   * retryable status, 401, storage): cleared by the next success. `id`: the op it belongs to.
   */
  #transientError: { error: OperationError; id: string | undefined } | null = null;
  /**
   * The error that moved an op to failed: kept until that op is retried or discarded, the queue
   * is cleared, or another op becomes failed. `lastError` shows the transient error over it.
   */
  #deadLetterError: { error: OperationError; id: string } | null = null;
  #progressState: SyncProgress = { total: 0, done: 0 };
  /** At most one record read ahead of the flush (see #prefetchNext). */
  readonly #prefetched = new Map<string, Promise<OperationRecord | undefined>>();
  /** Set while clearQueue() runs: nothing is sent. */
  #clearing = false;
  #flushRun: Promise<FlushSummary> | undefined;
  #flushAgain = false;
  #inFlight: { id: string; controller: AbortController; done: Promise<unknown> } | undefined;
  #networkFailures = 0;
  /**
   * The head's last request that got no answer, and connectivity's `lastChangedAt` just after it
   * was reported: if the probe has brought the device back online since, and the same op again
   * gets no answer, the server is reachable but this request is not — that attempt counts.
   */
  #noAnswer: { id: string; changedAt: number | undefined } | undefined;
  #leaderState: SharedSyncState | undefined;
  #wakeTimer: unknown;
  #intervalTimer: unknown;
  #started = false;
  #disposed = false;
  readonly #disposers: Unsubscribe[] = [];

  constructor(deps: SyncEngineDeps) {
    this.#deps = deps;
    this.#outbox = new Outbox(deps.storage);
    this.#ids = new OperationIdGenerator(deps.now, deps.randomBytes);
    this.#tempIds = new TempIds(deps.storage, deps.now);
    this.#outcomes = new OutcomeLog(deps.storage, deps.logger);
    this.events =
      deps.events ??
      new EventBus<SyncEvents>((event, error) => deps.logger.error(`a "${event}" handler threw`, error));
  }

  get isSyncing(): ReadonlySignal<boolean> {
    return this.#isSyncing;
  }
  get pendingCount(): ReadonlySignal<number> {
    return this.#pendingCount;
  }
  get failedCount(): ReadonlySignal<number> {
    return this.#failedCount;
  }
  get status(): ReadonlySignal<SyncStatus> {
    return this.#status;
  }
  get lastError(): ReadonlySignal<OperationError | null> {
    return this.#lastError;
  }
  get progress(): ReadonlySignal<SyncProgress> {
    return this.#progress;
  }

  /** Read the outbox's keys, then start listening to triggers. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await this.#rescan();
    if (this.#disposed) return;
    const { leader, channel, connectivity } = this.#deps;
    this.#disposers.push(channel.subscribe((message) => this.#onMessage(message)));
    this.#disposers.push(
      effect(() => {
        const online = connectivity.isOnline.value;
        const leading = leader.isLeader.value;
        untracked(() => {
          if (leading && !this.#outcomesDelivered) {
            this.#outcomesDelivered = true;
            void this.#deliverStoredOutcomes();
          }
          if (online && leading) {
            this.#requestFlush();
            void this.#rescan().then(() => this.#requestFlush());
          }
          this.#publish();
        });
      }),
    );
    leader.start();
    this.#intervalTimer = setInterval(() => this.wake(), this.#deps.intervalMs);
    unref(this.#intervalTimer);
    channel.post({ type: 'hello' });
  }

  /** Rescan storage and flush if there is work: for visibility changes and other hints. */
  wake(): void {
    if (this.#disposed) return;
    void this.#rescan().then(() => this.#requestFlush());
  }

  /** Store a validated draft as a new operation; resolves once committed. Ids follow call order. */
  async enqueue(draft: OperationDraft): Promise<Operation> {
    this.#assertAlive();
    if (draft.tempId !== undefined && this.#tempIds.isKnown(draft.tempId)) {
      throw new FluxyError(
        'sync/invalid-options',
        `queue(): tempId "${draft.tempId}" was already introduced by another operation: make a new one for each create.`,
      );
    }
    const id = this.#ids.next();
    const record: OperationRecord = {
      v: recordVersion,
      id,
      method: draft.method,
      url: draft.url,
      createdAt: this.#deps.now(),
      attempts: 0,
      rev: 0,
    };
    if (draft.bodyText !== undefined) record.body = draft.bodyText;
    if (draft.headers) record.headers = draft.headers;
    if (draft.meta !== undefined) record.meta = draft.meta;
    if (draft.kind !== undefined) record.kind = draft.kind;
    if (draft.tempId !== undefined) record.tempId = draft.tempId;
    const refs = this.#tempIds.referencesIn(draft.url, draft.bodyText).filter((ref) => ref !== draft.tempId);
    if (refs.length > 0) record.refs = refs;
    const write = (async () => {
      if (draft.tempId !== undefined) await this.#tempIds.introduce(draft.tempId, id);
      await this.#writePending(record);
    })();
    this.#writing.set(id, write);
    try {
      await write;
    } finally {
      this.#writing.delete(id);
    }
    this.#addPending([id]);
    this.#post({ type: 'added', list: 'pending', ids: [id] });
    this.#requestFlush();
    this.#publish();
    return toOperation(record) as Operation;
  }

  /** Drain now; joins a running flush. */
  flush(): Promise<FlushSummary> {
    if (this.#disposed) return Promise.resolve({ sent: 0, failed: 0, remaining: this.#pending.length });
    if (!this.#deps.leader.isLeader.value) {
      this.#post({ type: 'flush' });
      return Promise.resolve({ sent: 0, failed: 0, remaining: this.#pending.length });
    }
    this.#flushRun ??= this.#drain().finally(() => {
      this.#flushRun = undefined;
      this.#publish();
      this.#collectTempIds();
      if (this.#flushAgain) {
        this.#flushAgain = false;
        this.#requestFlush();
      }
    });
    return this.#flushRun;
  }

  /** Snapshot of the pending operations, in send order. */
  async pending(): Promise<Array<Operation | UnreadableOperation>> {
    return this.#readAll('pending', this.#pending.toArray());
  }

  /** Snapshot of the failed operations, oldest first. */
  async failed(): Promise<Array<Operation | UnreadableOperation>> {
    return this.#readAll('failed', [...this.#failed].sort());
  }

  /**
   * Put failed operations back in the queue (all, or the one with `id`), with their attempts
   * reset, keeping their id — and so their place in order and their Idempotency-Key. For a
   * pending operation waiting for its backoff, retry now. Resolves with how many were moved or woken.
   */
  async retry(id?: string): Promise<number> {
    this.#assertAlive();
    let count = 0;
    const ids = id === undefined ? [...this.#failed].sort() : [id];
    for (const failedId of ids) {
      if (!this.#failed.has(failedId)) continue;
      const record = await this.#readOrStub('failed', failedId);
      if (!record || record.unreadable) continue;
      const { lastError, nextAttemptAt: _next, ...rest } = record;
      // A server replays its stored answer for a key: after a definite refusal (4xx, so not
      // applied) a new key generation lets the retry be processed; otherwise keep the key.
      // (A 409/429 that exhausted maxAttempts is not a refusal: the first request may still be
      // running or done on the server, so its key must stay.)
      const refused =
        lastError?.code === 'sync/dependency-failed' ||
        (lastError?.code === 'sync/http-error' &&
          lastError.status !== undefined &&
          lastError.status >= 400 &&
          classify({ status: lastError.status }) === 'fail');
      const retried: OperationRecord = { ...rest, attempts: 0 };
      if (refused) retried.keyGen = (record.keyGen ?? 0) + 1;
      if (record.tempId !== undefined) await this.#tempIds.introduce(record.tempId, record.id);
      await this.#outbox.move(retried, 'pending');
      this.#removeFailed([failedId]);
      this.#addPending([failedId]);
      this.#post({ type: 'removed', list: 'failed', ids: [failedId] });
      this.#post({ type: 'added', list: 'pending', ids: [failedId] });
      this.#forgetErrorsOf([failedId]);
      count++;
    }
    const head = this.#pending.first();
    if (head !== undefined && (id === undefined || id === head)) {
      const record = await this.#readOrStub('pending', head).catch(() => undefined);
      if (record?.nextAttemptAt !== undefined && !record.unreadable) {
        const { nextAttemptAt: _next, ...rest } = record;
        await this.#writePending({ ...rest, rev: record.rev + 1 });
        this.#networkFailures = 0;
        if (id !== undefined) count++;
      }
    }
    if (this.#paused === 'unauthorized' && id === undefined) this.#paused = false;
    this.#publish();
    this.#requestFlush();
    return count;
  }

  /** Remove an operation (pending or failed) for good. Resolves false if it was no longer queued. */
  async discard(id: string): Promise<boolean> {
    this.#assertAlive();
    if (this.#inFlight?.id === id) await this.#inFlight.done;
    const wasHead = this.#pending.first() === id;
    let found = false;
    for (const list of ['pending', 'failed'] as const) {
      const record = await this.#outbox.read(list, id).catch(() => 'unreadable' as const);
      if (record === undefined) {
        if (list === 'pending') this.#removePending([id]);
        else this.#removeFailed([id]);
        continue;
      }
      // A discarded create never gives its server id: operations that refer to it cannot succeed.
      if (record !== 'unreadable' && record.tempId !== undefined) {
        await this.#tempIds.settle(record.tempId, id, { failed: true });
      }
      await this.#outbox.remove(list, id);
      if (list === 'pending') this.#removePending([id]);
      else this.#removeFailed([id]);
      this.#post({ type: 'removed', list, ids: [id] });
      found = true;
    }
    this.#forgetErrorsOf([id]);
    // A head blocked by its backoff (e.g. Retry-After) no longer blocks: send the next one now.
    if (wasHead && this.#pending.first() !== id) this.#headRemoved();
    this.#publish();
    this.#collectTempIds();
    return found;
  }

  /** Remove every pending and failed operation. Resolves with how many were removed. */
  async clearQueue(): Promise<number> {
    this.#assertAlive();
    this.#clearing = true;
    try {
      return await this.#clearAll();
    } finally {
      this.#clearing = false;
      this.#publish();
    }
  }

  async #clearAll(): Promise<number> {
    if (this.#inFlight) await this.#inFlight.done;
    await this.#flushRun?.catch(() => undefined);
    await this.#rescan();
    const pending = this.#pending.toArray();
    const failed = [...this.#failed];
    for (const id of pending) await this.#outbox.remove('pending', id);
    for (const id of failed) await this.#outbox.remove('failed', id);
    await this.#tempIds.clear();
    await this.#outcomes.clear();
    this.#removePending(pending);
    this.#removeFailed(failed);
    this.#post({ type: 'removed', list: 'pending', ids: pending });
    this.#post({ type: 'removed', list: 'failed', ids: failed });
    this.#transientError = null;
    this.#deadLetterError = null;
    return pending.length + failed.length;
  }

  /** Stop sending after the current request, in every tab, until `resume()`. */
  pause(reason: 'manual' | 'unauthorized' = 'manual', broadcast = true): void {
    this.#paused = reason;
    if (broadcast) this.#post({ type: 'pause' });
    this.#publish();
  }

  /** Resume sending (after `pause()`, or after a 401 once the app has fresh credentials). */
  resume(broadcast = true): void {
    this.#paused = false;
    if (broadcast) this.#post({ type: 'resume' });
    this.#requestFlush();
    this.#publish();
  }

  /** Stop timers, listeners and the lock; abort the request in flight (its operation stays queued). */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#inFlight?.controller.abort();
    clearTimeout(this.#wakeTimer as ReturnType<typeof setTimeout>);
    clearInterval(this.#intervalTimer as ReturnType<typeof setInterval>);
    for (const dispose of this.#disposers.splice(0).reverse()) dispose();
    this.#deps.leader.dispose();
    this.#deps.channel.close();
    await this.#flushRun?.catch(() => undefined);
    this.events.clear();
  }

  // ——— the flush loop ———

  async #drain(): Promise<FlushSummary> {
    const summary: FlushSummary = { sent: 0, failed: 0, remaining: 0 };
    if (!this.#canSend() || this.#pending.length === 0) {
      summary.remaining = this.#pending.length;
      return summary;
    }
    this.#syncing = true;
    this.#progressState = { total: this.#pending.length, done: 0 };
    this.#publish();
    try {
      while (this.#canSend()) {
        const id = this.#pending.first();
        if (id === undefined) break;
        const earlier = [...this.#writing].filter(([writing]) => writing < id).map(([, write]) => write);
        if (earlier.length > 0) {
          // An earlier queue() is still committing: wait, so it is sent first.
          await Promise.allSettled(earlier);
          continue;
        }
        const step = await this.#sendHead(id, summary);
        this.#publish();
        if (step === 'stop') break;
      }
    } catch (error) {
      // Storage failed under us (e.g. unavailable): keep the operation, report, retry later.
      this.#deps.logger.error('flush stopped: storage failed', error);
      this.#setError({
        code: 'sync/storage-failed',
        message: `storage failed: ${messageOf(error)}`,
        at: this.#deps.now(),
      });
      this.#scheduleWake(computeDelay(++this.#networkFailures, this.#deps.retry, this.#deps.random));
    } finally {
      this.#syncing = false;
      this.#publish();
      summary.remaining = this.#pending.length;
    }
    return summary;
  }

  /**
   * While a request is on the wire, read (and decrypt) the next operation, so it can be sent as
   * soon as the current one's removal is committed. Any rewrite or removal of that record, here
   * or announced by another tab, drops the copy.
   */
  #prefetchNext(current: string): void {
    const next = this.#pending.after(current);
    if (next === undefined || this.#prefetched.has(next)) return;
    const read = this.#outbox.read('pending', next);
    read.catch(() => undefined);
    this.#prefetched.clear();
    this.#prefetched.set(next, read);
  }

  async #readPending(id: string): Promise<OperationRecord | undefined> {
    const prefetched = this.#prefetched.get(id);
    this.#prefetched.delete(id);
    return prefetched ?? this.#outbox.read('pending', id);
  }

  async #writePending(record: OperationRecord): Promise<void> {
    this.#prefetched.delete(record.id);
    await this.#outbox.write('pending', record);
  }

  async #sendHead(id: string, summary: FlushSummary): Promise<Step> {
    let record: OperationRecord | undefined;
    try {
      record = await this.#readPending(id);
    } catch (error) {
      if (!(error instanceof UnreadableRecordError)) throw error;
      await this.#moveUnreadable(id, error);
      summary.failed++;
      return 'next';
    }
    if (!record) {
      this.#removePending([id]); // removed by another tab
      return 'next';
    }
    const now = this.#deps.now();
    if (record.nextAttemptAt !== undefined && record.nextAttemptAt > now) {
      this.#scheduleWake(record.nextAttemptAt - now);
      return 'stop';
    }
    // Temporary ids introduced in another tab may have been unknown when this op was queued
    // there; the create was read (and sent) before this op, so they are known now.
    const ownTempId = record.tempId;
    if (ownTempId !== undefined) this.#tempIds.learn(ownTempId);
    const refs = this.#tempIds.referencesIn(record.url, record.body).filter((ref) => ref !== ownTempId);
    if (refs.length > 0) {
      const resolved = await this.#resolveReferences({ ...record, refs });
      if (resolved === 'dependency-failed') {
        await this.#fail(record, {
          code: 'sync/dependency-failed',
          message:
            'it refers to the temporary id of a create that failed; retry or discard that create first',
          at: now,
        });
        summary.failed++;
        return 'next';
      }
      record = resolved;
    }
    const controller = new AbortController();
    const operation = toOperation(record) as Operation;
    const sending = record;
    // The whole step — request, then committing what the answer means — is "in flight": discard()
    // and clearQueue() wait for it, so they never race the removal of an op that was just sent.
    const step = (async (): Promise<Step> => {
      this.#requesting = true;
      this.#publish();
      this.#prefetchNext(id);
      const result: SendResult = await sendOperation(
        operation,
        sending.body,
        this.#deps.transport,
        controller.signal,
      ).finally(() => {
        this.#requesting = false;
      });
      if (result.kind === 'aborted' || this.#disposed) return 'stop';
      return await this.#handleResult(sending, result, summary);
    })();
    this.#inFlight = { id, controller, done: step.catch(() => undefined) };
    try {
      return await step;
    } finally {
      this.#inFlight = undefined;
    }
  }

  async #handleResult(
    record: OperationRecord,
    result: Exclude<SendResult, { kind: 'aborted' }>,
    summary: FlushSummary,
  ): Promise<Step> {
    const now = this.#deps.now();
    if (result.kind !== 'response') {
      // No answer: same key next time; attempts are not counted (the server never decided).
      const confirmedOnline = result.kind !== 'headers-failed' && this.#probeAnsweredSinceNoAnswer(record.id);
      if (result.kind !== 'headers-failed') {
        this.#deps.connectivity.reportFailure();
        this.#noAnswer = { id: record.id, changedAt: this.#deps.connectivity.lastChangedAt?.peek() };
      }
      const error: OperationError =
        result.kind === 'timeout'
          ? {
              code: 'sync/timeout',
              message: `no answer within ${this.#deps.transport.timeoutMs} ms`,
              at: now,
            }
          : result.kind === 'headers-failed'
            ? {
                code: 'sync/headers-failed',
                message: `could not build the request headers (the headers option threw or returned an invalid header): ${messageOf(result.cause)}`,
                at: now,
              }
            : { code: 'sync/network-error', message: `network error: ${messageOf(result.cause)}`, at: now };
      if (confirmedOnline) {
        // The probe answers, this request does not (a dead host, a proxy that drops it): count it,
        // so it ends in the failed list after maxAttempts instead of blocking the queue forever.
        const attempts = record.attempts + 1;
        if (attempts >= this.#deps.retry.maxAttempts) {
          this.#noAnswer = undefined;
          await this.#fail(
            { ...record, attempts },
            {
              ...error,
              code: 'sync/max-attempts',
              message: `gave up after ${attempts} attempts: the connectivity probe answers but this request gets no answer (${error.message})`,
            },
          );
          summary.failed++;
          return 'next';
        }
        record = { ...record, attempts, lastError: error, rev: record.rev + 1 };
        await this.#writePending(record);
      }
      const delay = computeDelay(++this.#networkFailures, this.#deps.retry, this.#deps.random);
      this.#setError(error, record.id);
      this.events.emit('retry', { operation: toOperation(record) as Operation, error, delayMs: delay });
      this.#scheduleWake(delay);
      return 'stop';
    }
    this.#networkFailures = 0;
    this.#noAnswer = undefined;
    const outcome = classify({ status: result.status });
    const httpError: OperationError = {
      code: 'sync/http-error',
      message: `the server answered ${result.status}`,
      status: result.status,
      at: now,
    };
    switch (outcome) {
      case 'sent': {
        let serverId: string | undefined;
        if (record.tempId !== undefined) {
          serverId = extractServerId(result.body, this.#deps.serverId ?? 'id');
          if (serverId === undefined) {
            this.#deps.logger.warn(
              `operation ${record.id} introduced tempId "${record.tempId}" but its response has no server id`,
            );
          } else {
            await this.#tempIds.settle(record.tempId, record.id, { serverId });
          }
        }
        const base = {
          v: 1 as const,
          type: 'sent' as const,
          record,
          status: result.status,
          response: result.body,
        };
        const outcome = serverId === undefined ? base : { ...base, serverId };
        // Stored whether or not a handler is registered here: one registered later, in another
        // tab or on the next start still gets it.
        const durable = record.kind !== undefined;
        if (durable) await this.#outcomes.record(outcome);
        await this.#outbox.remove('pending', record.id);
        this.#removePending([record.id]);
        this.#post({ type: 'removed', list: 'pending', ids: [record.id] });
        summary.sent++;
        this.#completeOne();
        // A success clears the head's retry error, not the error of an op that became failed.
        this.#transientError = null;
        this.#publish();
        const operation = toOperation(record) as Operation;
        this.events.emit('sent', {
          operation,
          status: result.status,
          response: result.body,
          ...(serverId === undefined ? {} : { serverId }),
        });
        if (durable) await this.#outcomes.deliver(outcome);
        return 'next';
      }
      case 'unauthorized': {
        this.#setError(httpError, record.id);
        this.pause('unauthorized');
        this.events.emit('unauthorized', {
          operation: toOperation(record) as Operation,
          status: result.status,
        });
        return 'stop';
      }
      case 'retry': {
        const attempts = record.attempts + 1;
        if (attempts < this.#deps.retry.maxAttempts) {
          // Every retryable answer (408, 409, 425, 429, 5xx) may say when to come back.
          const retryAfter = parseRetryAfter(result.retryAfter, now, this.#deps.retry.maxRetryAfterMs);
          const delay = retryAfter ?? computeDelay(attempts, this.#deps.retry, this.#deps.random);
          const updated: OperationRecord = {
            ...record,
            attempts,
            nextAttemptAt: now + delay,
            lastError: httpError,
            rev: record.rev + 1,
          };
          await this.#writePending(updated);
          this.#setError(httpError, record.id);
          this.events.emit('retry', {
            operation: toOperation(updated) as Operation,
            error: httpError,
            delayMs: delay,
          });
          this.#scheduleWake(delay);
          return 'stop';
        }
        const exhausted: OperationError = {
          ...httpError,
          code: 'sync/max-attempts',
          message: `gave up after ${attempts} attempts; the server last answered ${result.status}`,
        };
        await this.#fail({ ...record, attempts }, exhausted);
        summary.failed++;
        return 'next';
      }
      case 'fail': {
        await this.#fail({ ...record, attempts: record.attempts + 1 }, httpError);
        summary.failed++;
        return 'next';
      }
      default:
        return 'stop';
    }
  }

  /** True when a probe brought the device online since `id`'s last request got no answer. */
  #probeAnsweredSinceNoAnswer(id: string): boolean {
    const { isOnline, reason, lastChangedAt } = this.#deps.connectivity;
    const last = this.#noAnswer;
    if (!last || last.id !== id || !reason || !lastChangedAt) return false;
    return isOnline.peek() && reason.peek() === 'probe' && lastChangedAt.peek() !== last.changedAt;
  }

  async #fail(record: OperationRecord, error: OperationError): Promise<void> {
    const { nextAttemptAt: _next, ...rest } = record;
    if (record.tempId !== undefined) await this.#tempIds.settle(record.tempId, record.id, { failed: true });
    const outcome = { v: 1 as const, type: 'failed' as const, record: { ...rest, lastError: error }, error };
    const durable = record.kind !== undefined; // stored even with no handler here (see 'sent')
    if (durable) await this.#outcomes.record(outcome);
    const moved = await this.#outbox.move({ ...rest, lastError: error }, 'failed');
    this.#removePending([record.id]);
    this.#addFailed([record.id]);
    this.#post({ type: 'removed', list: 'pending', ids: [record.id] });
    this.#post({ type: 'added', list: 'failed', ids: [record.id] });
    this.#completeOne();
    this.#setDeadLetterError(error, record.id);
    this.events.emit('failed', { operation: toOperation(moved) as Operation, error });
    if (durable) await this.#outcomes.deliver(outcome);
  }

  /** Replace resolved temporary ids in `record`, durably; or say a dependency failed. */
  async #resolveReferences(record: OperationRecord): Promise<OperationRecord | 'dependency-failed'> {
    const remaining: string[] = [];
    const replacements = new Map<string, string>();
    for (const ref of record.refs ?? []) {
      const known = await this.#tempIds.get(ref);
      if (known?.failed) return 'dependency-failed';
      if (known?.serverId === undefined) remaining.push(ref);
      else replacements.set(ref, known.serverId);
    }
    if (remaining.length === record.refs?.length) return record;
    // One pass for all: a server id is never itself taken for another temporary id.
    const { url, bodyText: body } = substituteTempIds(record.url, record.body, replacements);
    const { refs: _refs, body: _body, ...rest } = record;
    const updated: OperationRecord = { ...rest, url, rev: record.rev + 1 };
    if (body !== undefined) updated.body = body;
    if (remaining.length > 0) updated.refs = remaining;
    await this.#writePending(updated);
    return updated;
  }

  /**
   * Forget the temporary ids no operation can need any more (the rule: TempIds.collect), in the
   * tab that sends, while nothing is pending or being queued. Runs in the background; never throws.
   */
  #collectTempIds(): void {
    const quiet = () =>
      !this.#disposed &&
      !this.#clearing &&
      this.#started &&
      this.#pending.length === 0 &&
      this.#writing.size === 0 &&
      this.#deps.leader.isLeader.peek();
    if (!quiet()) return;
    this.#tempIds
      .collect({
        retentionMs: this.#deps.tempIdRetentionMs ?? defaultTempIdRetentionMs,
        failedIds: () => [...this.#failed],
        // The pending copy, if retry() is moving it back right now.
        readFailed: async (id) =>
          (await this.#outbox.read('failed', id).catch(() => undefined)) ??
          (await this.#outbox.read('pending', id).catch(() => undefined)),
        quiet,
      })
      .catch((error: unknown) => this.#deps.logger.warn('forgetting settled temporary ids failed', error));
  }

  async #deliverStoredOutcomes(): Promise<void> {
    try {
      // What storage holds, not what this tab has heard: just after taking over from another
      // tab, its messages about the last ops it handled may still be on their way.
      const pending = new Set(await this.#outbox.ids('pending'));
      await this.#outcomes.deliverStored((id) => pending.has(id));
    } catch (error) {
      this.#deps.logger.error('delivering stored outcomes failed', error);
    }
  }

  /** Register outcome handlers for a kind; outcomes stored while none was registered are delivered now. */
  handle(kind: string, handlers: OutcomeHandlers): Unsubscribe {
    const off = this.#outcomes.handle(kind, handlers);
    if (this.#started && this.#deps.leader.isLeader.peek()) void this.#deliverStoredOutcomes();
    return off;
  }

  /** The server id of a temporary id, once its create succeeded. */
  async resolveId(tempId: string): Promise<string | undefined> {
    return (await this.#tempIds.get(tempId))?.serverId;
  }

  async #moveUnreadable(id: string, error: UnreadableRecordError): Promise<void> {
    const message = `the stored record failed authentication or decryption and was not sent (${messageOf(error.cause)})`;
    const stub = Outbox.unreadableStub(id, message, this.#deps.now());
    await this.#outbox.write('failed', stub);
    await this.#outbox.remove('pending', id);
    this.#removePending([id]);
    this.#addFailed([id]);
    this.#post({ type: 'removed', list: 'pending', ids: [id] });
    this.#post({ type: 'added', list: 'failed', ids: [id] });
    this.#completeOne();
    this.#setDeadLetterError(stub.lastError as OperationError, id);
    this.#deps.logger.error(`operation ${id} ${message}`);
    this.events.emit('failed', { operation: toOperation(stub), error: stub.lastError as OperationError });
  }

  // ——— state, triggers, tabs ———

  #canSend(): boolean {
    return (
      !this.#disposed &&
      !this.#clearing &&
      this.#paused === false &&
      this.#deps.leader.isLeader.peek() &&
      this.#deps.connectivity.isOnline.peek()
    );
  }

  #requestFlush(): void {
    if (this.#disposed || !this.#started) return;
    if (this.#flushRun) {
      this.#flushAgain = true;
      return;
    }
    if (this.#pending.length > 0 && this.#canSend()) void this.flush();
  }

  #scheduleWake(ms: number): void {
    clearTimeout(this.#wakeTimer as ReturnType<typeof setTimeout>);
    this.#wakeTimer = setTimeout(() => this.#requestFlush(), Math.max(0, ms));
    unref(this.#wakeTimer);
  }

  #completeOne(): void {
    this.#progressState = { ...this.#progressState, done: this.#progressState.done + 1 };
  }

  /** The head's attempt failed and it will be retried: shown until the next success. */
  #setError(error: OperationError, id?: string): void {
    this.#transientError = { error, id };
    this.#publish();
  }

  /** Op `id` became failed: its error stays until it is retried, discarded or cleared. */
  #setDeadLetterError(error: OperationError, id: string): void {
    this.#deadLetterError = { error, id };
    this.#transientError = null; // the head moved on
    this.#publish();
  }

  /** Ops left their list (retried, discarded, cleared — here or in another tab): drop their errors. */
  #forgetErrorsOf(ids: readonly string[]): void {
    const transient = this.#transientError?.id;
    if (transient !== undefined && ids.includes(transient)) this.#transientError = null;
    const dead = this.#deadLetterError?.id;
    if (dead !== undefined && ids.includes(dead)) this.#deadLetterError = null;
  }

  /** The head left the queue without being sent (discarded): its wake-up is stale; send the next now. */
  #headRemoved(): void {
    clearTimeout(this.#wakeTimer as ReturnType<typeof setTimeout>);
    this.#requestFlush();
  }

  async #rescan(keys?: string[]): Promise<void> {
    if (this.#disposed) return;
    const journal: Array<[OutboxList, 'add' | 'remove', string]> = [];
    this.#journals.add(journal);
    let scanned: { pending: string[]; failed: string[] };
    try {
      const mark = keys ? undefined : this.#tempIds.mark();
      const listing = keys ?? (await this.#deps.storage.keys());
      this.#tempIds.load(listing, mark);
      scanned = await this.#outbox.scan(listing);
    } finally {
      this.#journals.delete(journal);
    }
    const pending = new Set(scanned.pending);
    const failed = new Set(scanned.failed);
    for (const [list, change, id] of journal) {
      const set = list === 'pending' ? pending : failed;
      if (change === 'add') set.add(id);
      else set.delete(id);
    }
    let last = '';
    for (const id of pending) if (id > last) last = id;
    for (const id of failed) if (id > last) last = id;
    if (last) this.#ids.seed(last);
    this.#pending.reset(pending);
    this.#failed = failed;
    this.#publish();
    this.#collectTempIds();
  }

  #journal(list: OutboxList, change: 'add' | 'remove', ids: string[]): void {
    for (const journal of this.#journals) for (const id of ids) journal.push([list, change, id]);
  }

  #addPending(ids: string[]): void {
    this.#journal('pending', 'add', ids);
    this.#pending.add(ids);
  }

  #removePending(ids: string[]): void {
    this.#journal('pending', 'remove', ids);
    for (const id of ids) this.#prefetched.delete(id);
    this.#pending.remove(ids);
  }

  #addFailed(ids: string[]): void {
    this.#journal('failed', 'add', ids);
    for (const id of ids) this.#failed.add(id);
  }

  #removeFailed(ids: string[]): void {
    this.#journal('failed', 'remove', ids);
    for (const id of ids) this.#failed.delete(id);
  }

  /** Write every status signal at once from the in-memory state, and tell the other tabs. */
  #publish(): void {
    const leading = this.#deps.leader.isLeader.peek();
    const online = this.#deps.connectivity.isOnline.peek();
    const mirror = leading ? undefined : this.#leaderState;
    // Requests are going out: a flush runs and either one is in flight or more may start.
    const sending =
      this.#syncing && (this.#requesting || (this.#paused === false && !this.#clearing && online));
    if (this.#syncing) {
      const total = Math.max(this.#progressState.total, this.#progressState.done + this.#pending.length);
      if (total !== this.#progressState.total) this.#progressState = { ...this.#progressState, total };
    }
    const isSyncing = mirror ? mirror.isSyncing : sending;
    // A dead-letter error stays in lastError, but only a head waiting for its retry is 'error'.
    const lastError = mirror
      ? mirror.lastError
      : (this.#transientError?.error ?? this.#deadLetterError?.error ?? null);
    const progress = mirror ? mirror.progress : this.#progressState;
    const status: SyncStatus = this.#paused
      ? 'paused'
      : !online
        ? 'offline'
        : isSyncing
          ? 'syncing'
          : mirror
            ? mirror.status
            : this.#transientError && this.#pending.length > 0
              ? 'error'
              : 'idle';
    const changed =
      this.#pendingCount.peek() !== this.#pending.length || this.#failedCount.peek() !== this.#failed.size;
    batch(() => {
      this.#pendingCount.value = this.#pending.length;
      this.#failedCount.value = this.#failed.size;
      this.#isSyncing.value = isSyncing;
      this.#lastError.value = lastError;
      this.#progress.value = progress;
      this.#status.value = status;
    });
    if (changed) {
      this.events.emit('change', { pendingCount: this.#pending.length, failedCount: this.#failed.size });
    }
    if (leading && this.#started && !this.#disposed) {
      this.#sharedState = { isSyncing, status, lastError, progress };
      this.#schedulePostState();
    }
  }

  /**
   * Tell the other tabs — once one has spoken. A tab that starts later rescans storage and says
   * 'hello', so nothing is lost by staying silent while alone (BroadcastChannel costs ~0.1 ms a post).
   */
  #post(message: SyncMessage): void {
    if (this.#peers || message.type === 'hello') this.#deps.channel.post(message);
  }

  /** At most one state message per task, with the latest state. */
  #schedulePostState(): void {
    if (!this.#peers || this.#statePostScheduled) return;
    this.#statePostScheduled = true;
    queueMicrotask(() => {
      this.#statePostScheduled = false;
      this.#postState();
    });
  }

  #postState(): void {
    if (this.#sharedState && this.#deps.leader.isLeader.peek() && !this.#disposed) {
      this.#post({ type: 'state', state: this.#sharedState });
    }
  }

  #onMessage(message: SyncMessage): void {
    if (this.#disposed) return;
    if (!this.#peers) {
      // Until now this tab thought it was alone and announced nothing: have the others rescan.
      this.#peers = true;
      this.#post({ type: 'rescan' });
    }
    switch (message.type) {
      case 'added':
        // Ops queued here from now on sort after what another tab queued and this one has seen.
        for (const id of message.ids) this.#ids.seed(id);
        if (message.list === 'pending') this.#addPending(message.ids);
        else this.#addFailed(message.ids);
        this.#requestFlush();
        this.#publish();
        return;
      case 'removed': {
        // Discarded, retried or cleared in another tab: as if done here.
        const head = this.#pending.first();
        if (message.list === 'pending') this.#removePending(message.ids);
        else this.#removeFailed(message.ids);
        this.#forgetErrorsOf(message.ids);
        if (head !== undefined && message.ids.includes(head) && this.#pending.first() !== head) {
          this.#headRemoved();
        }
        this.#publish();
        return;
      }
      case 'state':
        this.#leaderState = message.state;
        this.#publish();
        return;
      case 'pause':
        this.pause('manual', false);
        return;
      case 'resume':
        this.resume(false);
        return;
      case 'hello':
        // A new tab: answer so it knows it is not alone, and share the current state.
        this.#post({ type: 'here' });
        this.#publish();
        this.#postState();
        return;
      case 'here':
        return;
      case 'flush':
      case 'rescan':
        this.wake();
        return;
    }
  }

  async #readOrStub(list: OutboxList, id: string): Promise<OperationRecord | undefined> {
    try {
      return await this.#outbox.read(list, id);
    } catch (error) {
      if (error instanceof UnreadableRecordError) return Outbox.unreadableStub(id, 'unreadable record', 0);
      throw error;
    }
  }

  async #readAll(list: OutboxList, ids: string[]): Promise<Array<Operation | UnreadableOperation>> {
    const records = await Promise.all(ids.map((id) => this.#readOrStub(list, id)));
    return records.filter((record): record is OperationRecord => record !== undefined).map(toOperation);
  }

  #assertAlive(): void {
    if (this.#disposed)
      throw new FluxyError('app/disposed', 'The sync plugin was disposed: create a new app.');
  }
}

function messageOf(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    const code = cause && typeof cause === 'object' && 'code' in cause ? ` (${String(cause.code)})` : '';
    return `${error.message}${code}`;
  }
  return String(error);
}

function unref(timer: unknown): void {
  (timer as { unref?: () => void } | undefined)?.unref?.();
}
