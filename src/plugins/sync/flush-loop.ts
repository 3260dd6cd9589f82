import { backoffDelay } from '../../core/backoff.js';
import type { EventBus } from '../../core/events.js';
import {
  dependencyError,
  exhaustedError,
  httpError,
  type NoAnswer,
  noAnswerError,
  originRefusedError,
  redirectError,
  storageFailedError,
  unreadableMessage,
  unreadResponseError,
} from './attempt-errors.js';
import { parseRetryAfter } from './backoff.js';
import { classify } from './classify.js';
import type { SyncEngineDeps, SyncParts } from './engine-parts.js';
import { type Operation, type OperationError, type OperationRecord, toOperation } from './operation.js';
import { Outbox, UnreadableRecordError } from './outbox.js';
import type { OutcomeLog, OutcomeRecord } from './outcomes.js';
import type { QueueLists } from './queue-lists.js';
import type { ReadAhead } from './read-ahead.js';
import type { StatusSignals } from './status-signals.js';
import type { SyncEvents } from './sync-events.js';
import { extractServerId, type TempIds } from './temp-ids.js';
import { defaultMaxResponseBytes, type SendResult, sendOperation } from './transport.js';
import { WriteGroup } from './write-group.js';

/** What `flush()` resolves with. */
export interface FlushSummary {
  /** Operations the server accepted during this flush. */
  sent: number;
  /** Operations that became failed during this flush. */
  failed: number;
  /** Operations still pending when the flush stopped. */
  remaining: number;
}

/** What the flush loop asks of the engine that runs it. */
export interface FlushHooks {
  /** Commits of `queue()` calls still running, by operation id. */
  readonly writing: ReadonlyMap<string, Promise<unknown>>;
  /** True while requests may go out (alive, leader, online, not paused or clearing). */
  canSend(): boolean;
  isDisposed(): boolean;
  /** The server answered 401: pause the queue until the app calls `resume()`. */
  pauseUnauthorized(): void;
  /** Flush if there is work (when the wake timer fires). */
  requestFlush(): void;
}

type Step = 'next' | 'stop';
type Answer = Extract<SendResult, { kind: 'response' }>;

/**
 * The flush loop: one request at a time, in id order; an operation leaves the outbox only after a
 * 2xx, and that removal is committed before the next is sent. A retryable failure of the head
 * stops the loop until its wake timer fires. The loop owns that timer.
 */
export class FlushLoop {
  readonly #deps: SyncEngineDeps;
  readonly #outbox: Outbox;
  readonly #readAhead: ReadAhead;
  readonly #lists: QueueLists;
  readonly #status: StatusSignals;
  readonly #tempIds: TempIds;
  readonly #outcomes: OutcomeLog;
  readonly #events: EventBus<SyncEvents>;
  readonly #engine: FlushHooks;
  readonly #parts: SyncParts;
  #inFlight: { ids: readonly string[]; controller: AbortController; done: Promise<unknown> } | undefined;
  #networkFailures = 0;
  /**
   * The head's last request that got no answer, and connectivity's `lastChangedAt` just after it
   * was reported: if the probe has brought the device back online since, and the same op again
   * gets no answer, the server is reachable but this request is not — that attempt counts.
   */
  #noAnswer: { id: string; changedAt: number | undefined } | undefined;
  #wakeTimer: unknown;
  /**
   * The head's answer whose commit failed (storage full or unavailable): the next attempt
   * commits this answer again instead of resending the request, so a disk that cannot take the
   * outcome does not make the op go out again and again.
   */
  #unsettled: { id: string; result: Answer } | undefined;
  /** Storage failures in a row, for the backoff of the flush that retries after one. */
  #storageFailures = 0;

  constructor(parts: SyncParts, engine: FlushHooks) {
    this.#deps = parts.deps;
    this.#outbox = parts.outbox;
    this.#readAhead = parts.readAhead;
    this.#lists = parts.lists;
    this.#status = parts.status;
    this.#tempIds = parts.tempIds;
    this.#outcomes = parts.outcomes;
    this.#events = parts.events;
    this.#engine = engine;
    this.#parts = parts;
  }

  /**
   * Resolves once the request in flight (and committing what its answer means) is done — only if
   * it is operation `id`'s, when `id` is given. discard() and clearQueue() wait for it, so they
   * never race the removal of an op that was just sent.
   */
  async settled(id?: string): Promise<void> {
    if (this.#inFlight && (id === undefined || this.#inFlight.ids.includes(id))) await this.#inFlight.done;
  }

  /** Abort the request in flight; its operation stays queued. */
  abort(): void {
    this.#inFlight?.controller.abort();
  }

  /** The head may be sent now: forget the backoff of past network failures. */
  resetBackoff(): void {
    this.#networkFailures = 0;
  }

  /** Flush when `ms` have passed (replacing the wake-up set before). */
  wakeIn(ms: number): void {
    this.cancelWake();
    this.#wakeTimer = setTimeout(() => this.#engine.requestFlush(), Math.max(0, ms));
    unref(this.#wakeTimer);
  }

  cancelWake(): void {
    clearTimeout(this.#wakeTimer as ReturnType<typeof setTimeout>);
  }

  /**
   * At start-up (a restart): if the head waits for a retry time stored before, show it waiting
   * (status `'error'` with its stored error) and wake at that time, so the first flush does not
   * show "syncing" for a flush that would send nothing. The record read is kept for that flush.
   */
  async checkStoredWait(): Promise<void> {
    const head = this.#lists.pending.first();
    if (head === undefined) return;
    const record = await this.#readAhead.peek(head).catch(() => undefined);
    const now = this.#deps.now();
    if (record?.nextAttemptAt === undefined || record.nextAttemptAt <= now) return;
    this.wakeIn(record.nextAttemptAt - now);
    if (record.lastError) this.#status.headWaits(record.lastError, head, true);
  }

  /** Send the pending operations in order while sending is possible. */
  async drain(): Promise<FlushSummary> {
    const summary: FlushSummary = { sent: 0, failed: 0, remaining: 0 };
    if (!this.#engine.canSend() || this.#lists.pending.length === 0) {
      summary.remaining = this.#lists.pending.length;
      return summary;
    }
    this.#status.flushStarted(this.#lists.pending.length);
    try {
      while (this.#engine.canSend()) {
        const id = this.#lists.pending.first();
        if (id === undefined) break;
        const earlier = [...this.#engine.writing]
          .filter(([writing]) => writing < id)
          .map(([, write]) => write);
        if (earlier.length > 0) {
          // An earlier queue() is still committing: wait, so it is sent first.
          await Promise.allSettled(earlier);
          continue;
        }
        const step =
          (this.#deps.batch && (await this.#sendBatch(this.#deps.batch, summary))) ||
          (await this.#sendHead(id, summary));
        this.#storageFailures = 0;
        this.#status.publish();
        if (step === 'stop') break;
      }
    } catch (error) {
      // Storage failed under us (unavailable, full): keep the operation, report, retry later —
      // with a backoff of its own that a server answer does not reset.
      this.#deps.logger.error('flush stopped: storage failed', error);
      this.#status.headWaits(storageFailedError(error, this.#deps.now()), undefined, true);
      this.wakeIn(this.#backoff(++this.#storageFailures));
    } finally {
      this.#status.flushEnded();
      summary.remaining = this.#lists.pending.length;
    }
    return summary;
  }

  async #sendHead(id: string, summary: FlushSummary): Promise<Step> {
    let record: OperationRecord | undefined;
    try {
      record = await this.#readAhead.read(id);
    } catch (error) {
      if (!(error instanceof UnreadableRecordError)) throw error;
      await this.#moveUnreadable(id, error);
      summary.failed++;
      return 'next';
    }
    if (!record) {
      this.#lists.note('removed', 'pending', [id]); // removed by another tab
      return 'next';
    }
    const unsettled = this.#unsettled;
    if (unsettled?.id === id) return await this.#settle(record, unsettled.result, summary);
    const now = this.#deps.now();
    if (record.nextAttemptAt !== undefined && record.nextAttemptAt > now) {
      this.wakeIn(record.nextAttemptAt - now);
      // Also after a restart: the head is waiting for its retry, and its stored error says why.
      if (record.lastError && !this.#status.isWaiting(id)) this.#status.headWaits(record.lastError, id, true);
      return 'stop';
    }
    // Temporary ids introduced in another tab may have been unknown when this op was queued
    // there; the create was read (and sent) before this op, so they are known now.
    const ownTempId = record.tempId;
    if (ownTempId !== undefined) this.#tempIds.learn(ownTempId);
    const refs = this.#tempIds.referencesIn(record.url, record.body).filter((ref) => ref !== ownTempId);
    if (refs.length > 0) {
      const resolved = await this.#tempIds.resolve({ ...record, refs });
      if (resolved === 'dependency-failed') {
        await this.#fail(record, dependencyError(now));
        summary.failed++;
        return 'next';
      }
      // Stored before it is sent, like every change to a record.
      if (resolved.rev !== record.rev) await this.#readAhead.write(resolved);
      record = resolved;
    }
    // A binary body is read back from its chunks at each attempt (binary-body.ts, loaded now);
    // a chunk missing or failing authentication gives, instead, why the op fails unsent.
    const body = record.binary
      ? await (await import('./binary-body.js')).load(this.#deps.storage, record, now)
      : record.body;
    if ((body as OperationError | undefined)?.code) {
      await this.#fail(record, body as OperationError);
      summary.failed++;
      return 'next';
    }
    const operation = toOperation(record) as Operation;
    const sending = record;
    return await this.#track([id], async (signal) => {
      const next = this.#lists.pending.after(id);
      if (next !== undefined) this.#readAhead.prefetch(next);
      const result = await this.#request(operation, body as string | Blob | undefined, signal);
      if (result.kind === 'aborted' || this.#engine.isDisposed()) return 'stop';
      if (result.kind !== 'response') return await this.#unanswered(sending, result, summary);
      return await this.#settle(sending, result, summary);
    });
  }

  /**
   * Send up to `batch.max` operations from the head in one request (see `prepareBatch`), or
   * resolve undefined: the head goes alone. The leading successes leave the queue together; the
   * first other answer is handled as a single request's would be; those after it were not sent.
   */
  async #sendBatch(batch: { url: string; max: number }, summary: FlushSummary): Promise<Step | undefined> {
    const { prepareBatch, batchAnswers } = await import('./batch.js');
    const prepared = await prepareBatch(
      this.#parts,
      batch,
      this.#unsettled?.id,
      this.#engine.writing.keys(),
      toOperation as (record: OperationRecord) => Operation,
      this.#deps.transport.maxResponseBytes ?? defaultMaxResponseBytes,
    );
    if (!prepared) return undefined;
    const { members, keys } = prepared;
    const first = members[0] as OperationRecord;
    return await this.#track(
      members.map((record) => record.id),
      async (signal) => {
        // The next batch's records are read while this one is on the wire.
        const next: string[] = [];
        let id = this.#lists.pending.after((members.at(-1) as OperationRecord).id);
        for (; id !== undefined && next.length < batch.max; id = this.#lists.pending.after(id)) next.push(id);
        this.#readAhead.prefetch(...next);
        const result = await this.#request(prepared.request, prepared.body, signal, prepared.transport);
        if (result.kind === 'aborted' || this.#engine.isDisposed()) return 'stop';
        // No answer to the batch as a whole: none of its operations was answered; the head says why.
        if (result.kind !== 'response') return await this.#unanswered(first, result, summary);
        this.#networkFailures = 0; // the server answered (as #answered notes for one op)
        this.#noAnswer = undefined;
        if (result.status === 401) return await this.#settle(first, result, summary);
        const answers = batchAnswers(result, keys, prepared.maxBytes, this.#deps.now());
        if (!Array.isArray(answers))
          return await this.#retryLater(first, answers, result.retryAfter, summary);
        let sent = 0;
        for (const answer of answers) {
          if (
            classify(answer) !== 'sent' ||
            ((members[sent] as OperationRecord).tempId && answer.bodyProblem)
          )
            break;
          sent++;
        }
        if (sent > 0) await this.#sent(members.slice(0, sent), answers.slice(0, sent));
        summary.sent += sent;
        const rest = answers[sent];
        return rest ? await this.#settle(members[sent] as OperationRecord, rest, summary) : 'next';
      },
    );
  }

  /** The delay before the next try after `failures` failures in a row (the retry options' backoff). */
  #backoff(failures: number): number {
    const { baseDelayMs, maxDelayMs } = this.#deps.retry;
    return backoffDelay(failures, baseDelayMs, maxDelayMs, this.#deps.random);
  }

  /** Run one request and what its answer means as the step in flight (see {@link settled}). */
  async #track(ids: readonly string[], run: (signal: AbortSignal) => Promise<Step>): Promise<Step> {
    const controller = new AbortController();
    const step = run(controller.signal);
    this.#inFlight = { ids, controller, done: step.catch(() => undefined) };
    try {
      return await step;
    } finally {
      this.#inFlight = undefined;
    }
  }

  async #request(
    operation: Operation,
    body: string | Blob | undefined,
    signal: AbortSignal,
    transport = this.#deps.transport,
  ): Promise<SendResult> {
    this.#status.requesting = true;
    this.#status.publish();
    try {
      return await sendOperation(operation, body, transport, signal);
    } finally {
      this.#status.requesting = false;
    }
  }

  /** The request got no HTTP answer to read: refused before sending, redirected, or no answer at all. */
  async #unanswered(
    record: OperationRecord,
    result: Exclude<SendResult, Answer | { kind: 'aborted' }>,
    summary: FlushSummary,
  ): Promise<Step> {
    if (result.kind === 'origin-refused') {
      // Queued under another configuration (allowedOrigins), or its URL changed: never sent.
      await this.#fail(record, originRefusedError(result.url, this.#deps.now()));
      summary.failed++;
      return 'next';
    }
    if (result.kind === 'redirect') {
      // Not followed, so the write did not reach its endpoint: it fails, naming the target.
      this.#networkFailures = 0;
      const error = redirectError(result.status, result.location, this.#deps.now());
      await this.#fail({ ...record, attempts: record.attempts + 1 }, error);
      summary.failed++;
      return 'next';
    }
    return await this.#noAnswerFrom(record, result, summary);
  }

  /** No answer (network error, timeout) or no request (headers failed): same key next time. */
  async #noAnswerFrom(record: OperationRecord, result: NoAnswer, summary: FlushSummary): Promise<Step> {
    const now = this.#deps.now();
    const sent = result.kind !== 'headers-failed';
    const confirmedOnline = sent && this.#probeAnsweredSinceNoAnswer(record.id);
    if (sent) {
      this.#deps.connectivity.reportFailure();
      this.#noAnswer = { id: record.id, changedAt: this.#deps.connectivity.lastChangedAt?.peek() };
    }
    const error = noAnswerError(result, this.#deps.transport.timeoutMs, now);
    // Attempts are not counted (the server never decided) — unless the probe answers and this
    // request does not (a dead host, a proxy that drops it): then it counts, so it ends in the
    // failed list after maxAttempts instead of blocking the queue forever.
    if (confirmedOnline) {
      const attempts = record.attempts + 1;
      if (attempts >= this.#deps.retry.maxAttempts) {
        this.#noAnswer = undefined;
        await this.#fail({ ...record, attempts }, exhaustedError(error, attempts));
        summary.failed++;
        return 'next';
      }
      record = { ...record, attempts, lastError: error, rev: record.rev + 1 };
      await this.#readAhead.write(record);
    }
    const delay = this.#backoff(++this.#networkFailures);
    this.#status.headWaits(error, record.id, true);
    this.#events.emit('retry', { operation: toOperation(record) as Operation, error, delayMs: delay });
    this.wakeIn(delay);
    return 'stop';
  }

  /** True when a probe brought the device online since `id`'s last request got no answer. */
  #probeAnsweredSinceNoAnswer(id: string): boolean {
    const { isOnline, reason, lastChangedAt } = this.#deps.connectivity;
    const last = this.#noAnswer;
    if (!last || last.id !== id || !reason || !lastChangedAt) return false;
    return isOnline.peek() && reason.peek() === 'probe' && lastChangedAt.peek() !== last.changedAt;
  }

  /** Commit what the answer means; if storage fails, keep the answer for the next attempt. */
  async #settle(record: OperationRecord, result: Answer, summary: FlushSummary): Promise<Step> {
    this.#unsettled = { id: record.id, result };
    const step = await this.#answered(record, result, summary);
    this.#unsettled = undefined;
    return step;
  }

  /** The server answered: sent, retried later, failed, or the queue pauses on a 401. */
  async #answered(record: OperationRecord, result: Answer, summary: FlushSummary): Promise<Step> {
    const now = this.#deps.now();
    this.#networkFailures = 0;
    this.#noAnswer = undefined;
    const error = httpError(result.status, now);
    switch (classify({ status: result.status })) {
      case 'sent':
        if (record.tempId !== undefined && result.bodyProblem !== undefined) {
          // A create is not done until its server id is read: ask again with the same key (the
          // server replays its answer); the ops that use its temporary id wait behind it.
          const unread = unreadResponseError(result.status, result.bodyProblem, now);
          return await this.#retryLater(record, unread, null, summary);
        }
        await this.#sent([record], [result]);
        summary.sent++;
        return 'next';
      case 'unauthorized':
        this.#status.headWaits(error, record.id);
        this.#engine.pauseUnauthorized();
        this.#events.emit('unauthorized', {
          operation: toOperation(record) as Operation,
          status: result.status,
        });
        return 'stop';
      case 'retry':
        return await this.#retryLater(record, error, result.retryAfter, summary);
      default: // 'fail' ('offline' is never the outcome of a status)
        await this.#fail({ ...record, attempts: record.attempts + 1 }, error);
        summary.failed++;
        return 'next';
    }
  }

  /** A retryable answer: wait (its Retry-After, or backoff) and try again — or, after maxAttempts, fail. */
  async #retryLater(
    record: OperationRecord,
    error: OperationError,
    retryAfterHeader: string | null,
    summary: FlushSummary,
  ): Promise<Step> {
    const now = this.#deps.now();
    const attempts = record.attempts + 1;
    if (attempts >= this.#deps.retry.maxAttempts) {
      await this.#fail({ ...record, attempts }, exhaustedError(error, attempts));
      summary.failed++;
      return 'next';
    }
    // Every retryable answer (408, 409, 425, 429, 5xx) may say when to come back.
    const retryAfter = parseRetryAfter(retryAfterHeader, now, this.#deps.retry.maxRetryAfterMs);
    const delay = retryAfter ?? this.#backoff(attempts);
    const updated: OperationRecord = {
      ...record,
      attempts,
      nextAttemptAt: now + delay,
      lastError: error,
      rev: record.rev + 1,
    };
    await this.#readAhead.write(updated);
    this.#status.headWaits(error, record.id, true);
    this.#events.emit('retry', { operation: toOperation(updated) as Operation, error, delayMs: delay });
    this.wakeIn(delay);
    return 'stop';
  }

  /**
   * 2xx answers: each one's server id, outcome and removal are committed together (one write
   * group for all), then each is told. If that commit fails, nothing changed: the ops stay, and
   * the loop commits this same answer again later instead of resending (see {@link #unsettled};
   * a batch is sent again, and the server replays its stored answers).
   */
  async #sent(records: OperationRecord[], results: Answer[]): Promise<void> {
    const group = new WriteGroup();
    const done = records.map((record, index) => {
      const result = results[index] as Answer;
      let serverId: string | undefined;
      if (record.tempId !== undefined) {
        serverId = extractServerId(result.body, this.#deps.serverId ?? 'id');
        if (serverId === undefined) {
          this.#deps.logger.warn(
            `operation ${record.id} introduced tempId "${record.tempId}" but its response has no server id`,
          );
        } else {
          this.#tempIds.stageSettle(group, record.tempId, record.id, { serverId });
        }
      }
      const tooLarge = result.bodyProblem === 'too-large' ? { responseTooLarge: true as const } : {};
      const base = {
        v: 1 as const,
        type: 'sent' as const,
        record,
        status: result.status,
        response: result.body,
        ...tooLarge,
      };
      const outcome: OutcomeRecord = serverId === undefined ? base : { ...base, serverId };
      // Stored whether or not a handler is registered here: one registered later, in another tab
      // or on the next start still gets it.
      const durable = record.kind !== undefined;
      if (durable) this.#outcomes.stageRecord(group, outcome);
      this.#outbox.stageRemoval(group, 'pending', record.id);
      // Its binary body goes with it, after it (see QueueEdits.discard).
      for (let index = record.binary?.chunks as number; index--; ) group.remove(`b/${record.id}/${index}`);
      return { record, result, outcome, durable, tooLarge, serverId };
    });
    await this.#outbox.commit(group);
    this.#lists.remove(
      'pending',
      records.map((record) => record.id),
    );
    for (const { record, result, outcome, durable, tooLarge, serverId } of done) {
      this.#status.headSent();
      this.#events.emit('sent', {
        operation: toOperation(record) as Operation,
        status: result.status,
        response: result.body,
        ...tooLarge,
        ...(serverId === undefined ? {} : { serverId }),
      });
      if (durable) await this.#outcomes.deliver(outcome);
    }
  }

  /** Move the head to the failed list for good (with its outcome and temporary id, in one write group). */
  async #fail(record: OperationRecord, error: OperationError): Promise<void> {
    const { nextAttemptAt: _next, ...rest } = record;
    const group = new WriteGroup();
    if (record.tempId !== undefined)
      this.#tempIds.stageSettle(group, record.tempId, record.id, { failed: true });
    const outcome: OutcomeRecord = { v: 1, type: 'failed', record: { ...rest, lastError: error }, error };
    const durable = record.kind !== undefined; // stored even with no handler here (see #sent)
    if (durable) this.#outcomes.stageRecord(group, outcome);
    const moved = this.#outbox.stageMove(group, { ...rest, lastError: error }, 'failed');
    await this.#outbox.commit(group);
    this.#lists.move([record.id], 'pending', 'failed');
    this.#status.headFailed(error, record.id);
    this.#events.emit('failed', { operation: toOperation(moved) as Operation, error });
    if (durable) await this.#outcomes.deliver(outcome);
  }

  /** A record that cannot be read (or trusted) is never sent: it goes to the failed list as a stub. */
  async #moveUnreadable(id: string, error: UnreadableRecordError): Promise<void> {
    const message = unreadableMessage(error.cause);
    const stub = Outbox.unreadableStub(id, message, this.#deps.now());
    const lastError = stub.lastError as OperationError;
    const group = this.#outbox.stage(new WriteGroup(), 'failed', stub);
    await this.#outbox.commit(this.#outbox.stageRemoval(group, 'pending', id));
    this.#lists.move([id], 'pending', 'failed');
    this.#status.headFailed(lastError, id);
    this.#deps.logger.error(`operation ${id} ${message}`);
    this.#events.emit('failed', { operation: toOperation(stub), error: lastError });
  }
}

/** Let Node exit while a timer is pending (no-op in browsers). */
function unref(timer: unknown): void {
  (timer as { unref?: () => void } | undefined)?.unref?.();
}
