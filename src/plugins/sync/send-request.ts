import type { EventBus } from '../../core/events.js';
import { classify } from './classify.js';
import type { FlushSummary, OutboxStores, Step, SyncEngineDeps } from './engine.js';
import { exhaustedError } from './failures.js';
import type { Operation, OperationError, OperationRecord, toOperation } from './operation.js';
import type { OutcomeRecord } from './outcomes.js';
import { isRedirect } from './redirects.js';
import type { SyncEvents } from './sync-events.js';
import type { BodyProblem, httpError, SendResult, TransportOptions } from './transport.js';
import type { WriteGroup } from './write-group.js';

// The engine's side of a failure, in this chunk too (see failures.ts).
export { Failures } from './failures.js';

// One attempt's request and what its answer means: loaded by the first attempt (transport.ts's
// sendOperation), off the start-up path — a page needs it only when it has the network. It
// imports nothing at run time but failures.ts (in its chunk), so that its lazy chunk shares no
// module with the start-up one.

/**
 * Send one operation: `Idempotency-Key: <id>`, `Content-Type: application/json` with a JSON body
 * (a binary one is a Blob of its own type), the
 * operation's headers and the `headers` option (evaluated now). Aborts after `timeoutMs` or when
 * `signal` aborts. Never throws: every outcome is a {@link SendResult}.
 *
 * Redirects are never followed (`redirect: 'manual'`): a redirected write may reach another
 * endpoint or origin (a login page answering 200, a POST turned into a GET, the body and headers
 * resent elsewhere). A 3xx, an opaque redirect (browsers), or a response a custom `fetch` reached
 * by following one anyway comes back as `redirect`, with its target when known.
 */
export async function sendOperation(
  operation: Operation,
  body: string | Blob | undefined,
  options: TransportOptions,
  signal: AbortSignal,
  /** checkHeaderRecord(given, 'allow', …) (request-validation.ts), given: see above. */
  checkHeaders: (given: unknown) => Readonly<Record<string, string>>,
): Promise<SendResult> {
  let url: string;
  try {
    const resolved = options.resolveUrl(operation.url);
    // Checked before the headers option is even evaluated: credentials never leave for another origin.
    if (options.isAllowedOrigin && !options.isAllowedOrigin(resolved)) {
      return { kind: 'origin-refused', url: resolved.href };
    }
    url = resolved.href;
  } catch (cause) {
    return { kind: 'network', cause };
  }
  let extra: Readonly<Record<string, string>> = {};
  try {
    const given: unknown =
      typeof options.headers === 'function' ? await options.headers(operation) : options.headers;
    // Whatever the function returned must be a plain object of valid headers: a string would
    // otherwise be spread into headers named "0", "1", "2"…
    if (given !== undefined) extra = checkHeaders(given);
  } catch (cause) {
    return { kind: 'headers-failed', cause, noRequest: true };
  }
  if (signal.aborted) return { kind: 'aborted' };
  const headers = new Headers();
  try {
    for (const [name, value] of Object.entries(extra)) headers.set(name, value);
    for (const [name, value] of Object.entries(operation.headers ?? {})) headers.set(name, value);
  } catch (cause) {
    return { kind: 'headers-failed', cause, noRequest: true };
  }
  if (operation.idempotencyKey) headers.set('Idempotency-Key', operation.idempotencyKey); // none on a batch
  // A binary body (a Blob) carries its own Content-Type, which fetch sends unless one is given.
  if (typeof body === 'string' && !headers.has('Content-Type'))
    headers.set('Content-Type', 'application/json');

  const controller = new AbortController();
  let timedOut = false;
  const timer = options.setTimer(() => {
    timedOut = true;
    controller.abort();
  }, options.timeoutMs);
  const onAbort = (): void => controller.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const init: RequestInit = {
      method: operation.method,
      headers,
      signal: controller.signal,
      redirect: 'manual',
    };
    if (body !== undefined) init.body = body;
    const response = await options.fetch(url, init);
    const { status } = response;
    // (Or a fetch that followed it anyway: a custom fetch ignoring redirect: 'manual'.) What it
    // pointed to is read by redirectError(), loaded then.
    if (isRedirect(response)) {
      await response.body?.cancel().catch(() => undefined);
      return { kind: 'redirect', response, url };
    }
    // The status arrived; a body cut short does not change what the server decided, but the
    // flush loop must know (a create's server id is in it).
    const read = await readBody(
      response,
      options.maxResponseBytes ?? 1_048_576 /* transport.ts's defaultMaxResponseBytes */,
    ).catch((): ReadBody => ({ body: undefined, bodyProblem: timedOut ? 'timeout' : 'cut-short' }));
    return {
      kind: 'response',
      status,
      retryAfter: response.headers.get('Retry-After'),
      ...read,
    };
  } catch (cause) {
    if (signal.aborted) return { kind: 'aborted' };
    if (timedOut) return { kind: 'timeout' };
    return { kind: 'network', cause };
  } finally {
    options.clearTimer(timer);
    signal.removeEventListener('abort', onAbort);
  }
}

/** What reading a response body gave: the body, why it is missing or partial, its size. */
type ReadBody = { body: unknown; bodyProblem?: BodyProblem; bytes?: number };

/**
 * Read at most `maxBytes` of the body (the rest is not downloaded), then parse it as JSON when the
 * Content-Type says so. Rejects when the stream fails (timeout, connection cut).
 */
async function readBody(response: Response, maxBytes: number): Promise<ReadBody> {
  const reader = response.body?.getReader();
  if (!reader) return { body: undefined };
  // Decoded as it comes (a character split between chunks is joined by the streaming decoder).
  const decoder = new TextDecoder();
  let text = '';
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return { body: undefined, bodyProblem: 'too-large' };
    }
    text += decoder.decode(value, { stream: true });
  }
  text += decoder.decode();
  if (text === '') return { body: undefined };
  if ((response.headers.get('Content-Type') ?? '').includes('json')) {
    try {
      return { body: JSON.parse(text) as unknown, bytes: size };
    } catch {
      return { body: text, bodyProblem: 'not-json' };
    }
  }
  return { body: text, bytes: size };
}

// ——— the errors of an answer ———

const bodyProblems: Record<BodyProblem, string> = {
  timeout: 'did not arrive within the timeout',
  'cut-short': 'was cut short',
  'not-json': 'is not valid JSON',
  'too-large': 'is larger than maxResponseBytes',
};

/**
 * A create (an op with a `tempId`) was accepted, but its response body could not be read, so the
 * server id that replaces its temporary id is unknown: retried with the same key.
 */
function unreadResponseError(status: number, problem: BodyProblem, at: number): OperationError {
  return {
    code: 'sync/response-unreadable',
    message: `the server accepted the create (${status}) but its response body ${bodyProblems[problem]}, so the server id for its tempId is unknown; asking again with the same Idempotency-Key`,
    status,
    at,
  };
}

// ——— what an answer means (loaded with the request, above: the engine's side of an answer) ———

/** What the answers use of the engine's modules, given rather than imported (see above). */
export interface AnswerTools {
  readonly WriteGroup: typeof WriteGroup;
  readonly toOperation: typeof toOperation;
  readonly httpError: typeof httpError;
}

/**
 * What the answers do through the engine (SyncEngine's members for them, shortened by the
 * builds): the status, the wake-up, the failed list, the removal that commits while the next
 * request goes out.
 */
export interface AnswerHost {
  readonly events: EventBus<SyncEvents>;
  removalRun: Promise<void> | undefined;
  awaitRemoval(): Promise<void>;
  heardBack(): void;
  headWaits(error: OperationError, id?: string, backoff?: boolean): void;
  pause(reason: 'unauthorized'): void;
  failOp(record: OperationRecord, error: OperationError, summary: FlushSummary): Promise<Step>;
  backoffFor(failures: number): number;
  wakeIn(ms: number): void;
  completeOne(): void;
  clearErrors(): void;
  publishStatus(): void;
}

type Answer = Extract<SendResult, { kind: 'response' }>;

/**
 * The engine's side of an answer (SyncEngine.settleAnswer, retryLater, commitSent): what it
 * means — sent, retried later, failed, or the queue pauses on a 401 — committed. Loaded with the
 * request (a page needs it only once a server answered). @internal
 */
export class Answers {
  readonly #host: AnswerHost;
  readonly #stores: OutboxStores;
  readonly #deps: SyncEngineDeps;
  readonly #tools: AnswerTools;

  constructor(host: AnswerHost, stores: OutboxStores, deps: SyncEngineDeps, tools: AnswerTools) {
    this.#host = host;
    this.#stores = stores;
    this.#deps = deps;
    this.#tools = tools;
  }

  /** The server answered: sent, retried later, failed, or the queue pauses on a 401. */
  async decideAnswer(record: OperationRecord, result: Answer, summary: FlushSummary): Promise<Step> {
    const host = this.#host;
    const now = this.#deps.now();
    host.heardBack();
    const error = this.#tools.httpError(result.status, now);
    switch (classify({ status: result.status })) {
      case 'sent':
        if (record.tempId !== undefined && result.bodyProblem !== undefined) {
          // A create is not done until its server id is read: ask again with the same key (the
          // server replays its answer); the ops that use its temporary id wait behind it.
          const unread = unreadResponseError(result.status, result.bodyProblem, now);
          return await this.retryLater(record, unread, null, summary);
        }
        // Committed while the next request goes out (see the engine's removalRun), unless it has a
        // kind or is a create.
        host.removalRun = this.commitSent([record], [result]).then(() => {
          summary.sent++;
        });
        host.removalRun.catch(() => undefined); // awaited by the flush
        // Not for a create (its server id) nor an op with a kind: its handlers run before the next
        // op is sent, as docs/sync.md promises (one awaiting discard() of that op would hang).
        if (record.tempId !== undefined || record.kind !== undefined) await host.awaitRemoval();
        return 'next';
      case 'unauthorized':
        host.headWaits(error, record.id);
        host.pause('unauthorized');
        host.events.emit('unauthorized', {
          operation: this.#tools.toOperation(record) as Operation,
          status: result.status,
        });
        return 'stop';
      case 'retry':
        return await this.retryLater(record, error, result.retryAfter, summary);
      default: // 'fail' ('offline' is never the outcome of a status)
        // With the answer's body (a 412's current row: a collection resolves with it).
        error.body = result.body;
        return host.failOp({ ...record, attempts: record.attempts + 1 }, error, summary);
    }
  }

  /** A retryable answer: wait (its Retry-After, or backoff) and try again — or, after maxAttempts, fail. */
  async retryLater(
    record: OperationRecord,
    error: OperationError,
    retryAfterHeader: string | null,
    summary: FlushSummary,
  ): Promise<Step> {
    const host = this.#host;
    const deps = this.#deps;
    const now = deps.now();
    const attempts = record.attempts + 1;
    if (attempts >= deps.retry.maxAttempts) {
      return host.failOp({ ...record, attempts }, exhaustedError(error, attempts), summary);
    }
    // Every retryable answer (408, 409, 425, 429, 5xx) may say when to come back: read by
    // queue-edits.ts, loaded now (if it cannot load, the backoff decides).
    const retryAfter =
      retryAfterHeader === null
        ? undefined
        : (await import('./queue-edits.js').catch(() => undefined))?.parseRetryAfter(
            retryAfterHeader,
            now,
            deps.retry.maxRetryAfterMs,
          );
    const delay = retryAfter ?? host.backoffFor(attempts);
    const updated: OperationRecord = {
      ...record,
      attempts,
      nextAttemptAt: now + delay,
      lastError: error,
      rev: record.rev + 1,
    };
    await this.#stores.readAhead.write(updated);
    host.headWaits(error, record.id, true);
    host.events.emit('retry', {
      operation: this.#tools.toOperation(updated) as Operation,
      error,
      delayMs: delay,
    });
    host.wakeIn(delay);
    return 'stop';
  }

  /**
   * 2xx answers: each one's server id, outcome and removal are committed together (one write
   * group for all), then each is told. If that commit fails, nothing changed: the ops stay, and
   * the flush commits this same answer again later instead of resending (see the engine's
   * #unsettled; a batch is sent again, and the server replays its stored answers).
   */
  async commitSent(records: OperationRecord[], results: Answer[]): Promise<void> {
    const host = this.#host;
    const stores = this.#stores;
    const { toOperation } = this.#tools;
    // Stored whether or not a handler is registered here (see below): outcomes.ts is loaded first.
    const outcomes = records.some((record) => record.kind !== undefined)
      ? await stores.loadOutcomes()
      : undefined;
    // Loaded already when a create is among them (it was read with its tempId).
    const tempIds = records.some((record) => record.tempId !== undefined)
      ? await stores.loadTempIds()
      : undefined;
    const group = new this.#tools.WriteGroup();
    const done = records.map((record, index) => {
      const result = results[index] as Answer;
      const serverId =
        record.tempId === undefined
          ? undefined
          : tempIds?.settleCreate(group, record, result.body, this.#deps.serverId ?? 'id', this.#deps.logger);
      // What the outcome and the `sent` event say besides the operation.
      const answer = {
        status: result.status,
        response: result.body,
        ...(result.bodyProblem === 'too-large' && { responseTooLarge: true as const }),
        ...(serverId !== undefined && { serverId }),
      };
      const outcome: OutcomeRecord = { v: 1, type: 'sent', record, ...answer };
      // Stored whether or not a handler is registered here: one registered later, in another tab
      // or on the next start still gets it.
      const durable = record.kind !== undefined;
      if (durable) outcomes?.stageRecord(group, outcome);
      stores.outbox.stageRemoval(group, 'pending', record.id);
      // Its binary body goes with it, after it (see QueueEdits.discard).
      for (let index = record.binary?.chunks as number; index--; ) group.remove(`b/${record.id}/${index}`);
      return { record, answer, outcome, durable };
    });
    await stores.outbox.commit(group);
    stores.lists.remove(
      'pending',
      records.map((record) => record.id),
    );
    for (const { record, answer, outcome, durable } of done) {
      // The head was sent: its retry error goes (not the error of an op that became failed).
      host.completeOne();
      host.clearErrors();
      host.publishStatus();
      // The event's operation (its body parsed again) is made only for a handler.
      if (host.events.listenerCount('sent'))
        host.events.emit('sent', { operation: toOperation(record) as Operation, ...answer });
      if (durable) await outcomes?.deliver(outcome);
    }
  }
}
