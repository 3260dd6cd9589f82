import type { EventBus } from '../../core/events.js';
import type { FlushSummary, OutboxStores, Step, SyncEngineDeps } from './engine.js';
import type { Operation, OperationError, OperationRecord, toOperation } from './operation.js';
import type { OutcomeRecord } from './outcomes.js';
import type { SyncEvents } from './sync-events.js';
import type { NoAnswer, noAnswerError, SendResult } from './transport.js';
import type { WriteGroup } from './write-group.js';

// How an attempt ends without success — the op moved to the failed list (failOp), or a request
// that got no HTTP answer (unanswered): the engine's side of a failure, in send-request.ts's lazy
// chunk (it re-exports this module), off the start-up path. A failure that came from the network
// comes from a request, which loaded that chunk: it is there. A failure found before the request
// (a temporary id that cannot resolve, a binary body that cannot be read) loads it then — the
// flush runs online; if the chunk cannot load, the flush stops as for a storage failure and the
// op is tried again later. The one failure that needs no chunk — no request was made: the chunk
// that sends could not load, or the headers option failed — is the engine's (waitUnanswered).
// It imports nothing at run time: what it uses of the engine's modules is given (FailureTools);
// the errors only a failure ends with (originRefusedError, exhaustedError) are its own, at the
// end (send-request.ts takes exhaustedError from here).

/** What the failures use of the engine's modules, given rather than imported (see above). */
export interface FailureTools {
  readonly WriteGroup: typeof WriteGroup;
  readonly toOperation: typeof toOperation;
  readonly noAnswerError: typeof noAnswerError;
  /** A lazy chunk could not load: throws it as `sync/network-error` (the engine's chunkFailed). */
  readonly chunkFailed: (cause: unknown) => never;
}

/** What the failures do through the engine (SyncEngine's members for them, shortened by the builds). */
export interface FailureHost {
  readonly events: EventBus<SyncEvents>;
  /** Network failures in a row, for the backoff. */
  networkFailures: number;
  /**
   * The head's last request that got no answer, and connectivity's `lastChangedAt` just after it
   * was reported: if the probe has brought the device back online since, and the same op again
   * gets no answer, the server is reachable but this request is not — that attempt counts.
   * Forgotten when a server answers (SyncEngine.heardBack).
   */
  noAnswer: { id: string; changedAt: number | undefined } | undefined;
  headFailed(error: OperationError | false, id: string): void;
  waitUnanswered(record: OperationRecord, error: OperationError): Step;
}

/**
 * The engine's side of a failure (SyncEngine.failOp and handleUnanswered, which load it): an op
 * moved to the failed list, or what a request that got no answer means. @internal
 */
export class Failures {
  readonly #host: FailureHost;
  readonly #stores: OutboxStores;
  readonly #deps: SyncEngineDeps;
  readonly #tools: FailureTools;

  constructor(host: FailureHost, stores: OutboxStores, deps: SyncEngineDeps, tools: FailureTools) {
    this.#host = host;
    this.#stores = stores;
    this.#deps = deps;
    this.#tools = tools;
  }

  /**
   * The request got no HTTP answer to read, but was made: refused before sending, redirected, or
   * no answer at all (a request that was never made is the engine's: SyncEngine.handleUnanswered).
   */
  async unanswered(
    record: OperationRecord,
    result: Exclude<SendResult, { kind: 'response' | 'aborted' }>,
    summary: FlushSummary,
  ): Promise<Step> {
    const deps = this.#deps;
    if (result.kind === 'origin-refused') {
      // Queued under another configuration (allowedOrigins), or its URL changed: never sent.
      return this.failOp(record, originRefusedError(result.url, deps.now()), summary);
    }
    if (result.kind === 'redirect') {
      // Not followed, so the write did not reach its endpoint: it fails, naming the target (read
      // by queue-edits.ts, loaded now: off the start-up path).
      this.#host.networkFailures = 0;
      const { redirectError } = await import('./queue-edits.js').catch(this.#tools.chunkFailed);
      const error = redirectError(result.response, result.url, deps.now());
      return this.failOp({ ...record, attempts: record.attempts + 1 }, error, summary);
    }
    return this.#noAnswerFrom(record, result, summary);
  }

  /** No answer (network error, timeout) to a request that was made: same key next time. */
  async #noAnswerFrom(record: OperationRecord, result: NoAnswer, summary: FlushSummary): Promise<Step> {
    const host = this.#host;
    const { connectivity, retry, transport } = this.#deps;
    const now = this.#deps.now();
    const confirmedOnline = this.#probeAnsweredSinceNoAnswer(record.id);
    connectivity.reportFailure();
    host.noAnswer = { id: record.id, changedAt: connectivity.lastChangedAt?.peek() };
    const error = this.#tools.noAnswerError(result, transport.timeoutMs, now);
    // Attempts are not counted (the server never decided) — unless the probe answers and this
    // request does not (a dead host, a proxy that drops it): then it counts, so it ends in the
    // failed list after maxAttempts instead of blocking the queue forever.
    if (confirmedOnline) {
      const attempts = record.attempts + 1;
      if (attempts >= retry.maxAttempts) {
        host.noAnswer = undefined;
        return this.failOp({ ...record, attempts }, exhaustedError(error, attempts), summary);
      }
      record = { ...record, attempts, lastError: error, rev: record.rev + 1 };
      await this.#stores.readAhead.write(record);
    }
    return host.waitUnanswered(record, error);
  }

  /** True when a probe brought the device online since `id`'s last request got no answer. */
  #probeAnsweredSinceNoAnswer(id: string): boolean {
    const { isOnline, reason, lastChangedAt } = this.#deps.connectivity;
    const last = this.#host.noAnswer;
    // (Without lastChangedAt, none was noted either: the same undefined, so false.)
    return (
      last?.id === id &&
      isOnline.peek() &&
      reason?.peek() === 'probe' &&
      lastChangedAt?.peek() !== last.changedAt
    );
  }

  /**
   * Move the head to the failed list for good (with its outcome and temporary id, in one write
   * group) — unless one of its `failed` handlers claims it (OutcomeLog.settleRefusal).
   */
  async failOp(record: OperationRecord, error: OperationError, summary: FlushSummary): Promise<Step> {
    const stores = this.#stores;
    const { nextAttemptAt: _next, ...rest } = record;
    const group = new this.#tools.WriteGroup();
    if (record.tempId !== undefined)
      (await stores.loadTempIds()).stageSettle(group, record.tempId, record.id, { failed: true });
    const outcome: OutcomeRecord = { v: 1, type: 'failed', record: { ...rest, lastError: error }, error };
    // Stored even with no handler here (see commitSent).
    const outcomes = record.kind === undefined ? undefined : await stores.loadOutcomes();
    outcomes?.stageRecord(group, outcome);
    const moved = stores.outbox.stageMove(group, { ...rest, lastError: error }, 'failed');
    await stores.outbox.commit(group);
    // With a kind, its `failed` handlers run first, and one may claim the refusal: see there.
    if (outcomes) return outcomes.settleRefusal(outcome, summary);
    stores.lists.move([record.id], 'pending', 'failed');
    this.#host.headFailed(error, record.id);
    this.#host.events.emit('failed', { operation: this.#tools.toOperation(moved) as Operation, error });
    summary.failed++;
    return 'next';
  }
}

// ——— the errors a failure ends with (here, not in transport.ts: only this chunk needs them) ———

/** The operation's URL is on an origin the configuration does not allow: it was not sent. */
export function originRefusedError(url: string, at: number): OperationError {
  return {
    code: 'sync/origin-not-allowed',
    message: `${url} is not on baseUrl's origin nor in allowedOrigins: it was not sent (the headers option never goes to other origins); add its origin to the SyncPlugin allowedOrigins option and retry it, or discard it`,
    at,
  };
}

/** `error`, the last of `attempts`, ended the retries: the operation becomes failed. */
export function exhaustedError(error: OperationError, attempts: number): OperationError {
  return {
    ...error,
    code: 'sync/max-attempts',
    // One literal (not a conditional of two): the production build then keeps no condition.
    message: `gave up after ${attempts} attempts${
      error.status === undefined
        ? `: the connectivity probe answers but this request gets no answer (${error.message})`
        : `; the server last answered ${error.status}`
    }`,
  };
}
