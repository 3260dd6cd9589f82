import type { FluxyError } from '../../core/errors.js';
import type { EventBus } from '../../core/events.js';
import type { checkOptions } from '../../core/input-checks.js';
import type { Logger } from '../../core/logger.js';
import type { SyncMessage } from './change-channel.js';
import { classify } from './classify.js';
import type { FlushSummary, OutboxStores, Step, SyncEngineDeps } from './engine.js';
import type { OperationError, OperationRecord, recordVersion, toOperation } from './operation.js';
import type { Outbox, OutboxList, UnreadableRecordError } from './outbox.js';
import type { ListOptions } from './queue-lists.js';
import type { SyncEvents } from './sync-events.js';
import type { WriteGroup } from './write-group.js';

/**
 * What the edits use of the engine's modules, given rather than imported: this module is loaded
 * lazily, and a module shared with the start-up chunk would be split into a chunk of its own.
 */
export interface EditTools {
  readonly WriteGroup: typeof WriteGroup;
  readonly toOperation: typeof toOperation;
  readonly UnreadableRecordError: typeof UnreadableRecordError;
}

/**
 * What the edits do through the engine (SyncEngine's members for them, shortened by the builds):
 * wait for an operation's step and removal (see {@link settledFor}), drop the errors of operations that left their list,
 * send the next one when the head went, read the outbox again.
 */
export interface EditsHost {
  readonly events: EventBus<SyncEvents>;
  readonly opWrites: Map<string, Promise<unknown>>;
  networkFailures: number;
  resume(reason?: 'unauthorized'): void;
  clearing: boolean;
  publishStatus(): void;
  requestFlush(): void;
  collectTempIds(): void;
  headFailed(error: OperationError, id: string): void;
  clearErrors(deadLetter?: boolean): void;
  readonly inFlight: { ids: readonly string[]; done: Promise<unknown> } | undefined;
  readonly unsettled: { id: string } | undefined;
  readonly removalRun: Promise<void> | undefined;
  readonly flushRun: Promise<unknown> | undefined;
  forgetErrorsOf(ids: readonly string[]): void;
  headRemoved(): void;
  rescanOutbox(): Promise<void>;
}

/** How many records `list()` reads at once. */
const readConcurrency = 16;

/**
 * Validate `pending()`/`failed()` options (`sync/invalid-options`). (Here, loaded by the first
 * `pending()` or `failed()`, off the start-up path; `Fail` and `check` given, not imported: see
 * {@link EditTools}.) @internal
 */
export function checkListOptions(
  options: unknown,
  method: OutboxList,
  Fail: typeof FluxyError,
  check: typeof checkOptions,
): ListOptions {
  const where = `sync.${method}(options)`;
  const invalid = (message: string) => new Fail('sync/invalid-options', message);
  const given = check(options, ['limit', 'after'], (problem) =>
    invalid(`${where}: options ${problem}, e.g. { limit: 100, after: lastId }.`),
  );
  const { limit, after } = given;
  if (limit !== undefined && (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1)) {
    throw invalid(`${where}: limit must be a whole number from 1 (got ${String(limit)}).`);
  }
  if (after !== undefined && (typeof after !== 'string' || after === '')) {
    throw invalid(`${where}: after must be the id of an operation (the last one of the previous page).`);
  }
  const page: ListOptions = {};
  if (limit !== undefined) page.limit = limit as number;
  if (after !== undefined) page.after = after as string;
  return page;
}

/**
 * The app's edits of the queue — retry, discard, clear: the storage and list work of each, after
 * waiting for the request in flight, and the operations' errors dropped (through the engine,
 * `host`). The engine then publishes the status and triggers a flush.
 */
export class QueueEdits {
  readonly #stores: OutboxStores;
  readonly #tools: EditTools;
  readonly #host: EditsHost;
  readonly #deps: SyncEngineDeps;

  constructor(stores: OutboxStores, tools: EditTools, host: EditsHost, deps: SyncEngineDeps) {
    this.#stores = stores;
    this.#tools = tools;
    this.#host = host;
    this.#deps = deps;
  }

  /**
   * In a tab that does not send (another tab holds the lock), ask the tab that sends to discard
   * op `{ id }`, retry it (`{ id, retry }`: only that tab can wake its head from a backoff) or
   * clear the ops before `{ cut }` — only it knows whether that op's request is in flight, and it
   * waits for it (see {@link answerTab}). Resolves with the ids it removed; or
   * undefined when this tab sends (or comes to, or the sending tab did not answer within twice
   * `timeoutMs`, or failed): then this tab does it itself.
   */
  async #ask(what: { id?: string; cut?: string; retry?: true }): Promise<string[] | undefined> {
    const { leader, channel, transport } = this.#deps;
    if (leader.isLeader.peek()) return undefined;
    return new Promise((resolve) => {
      const ref = `${Date.now()}-${Math.random()}`;
      const offs: Array<() => void> = [];
      const done = (ids?: string[]): void => {
        for (const off of offs.splice(0)) off();
        clearTimeout(timer);
        resolve(ids);
      };
      const timer = setTimeout(done, 2 * transport.timeoutMs);
      // (Node: a tab disposed while it asks does not keep the process alive for it.)
      (timer as { unref?: () => void }).unref?.();
      offs.push(
        channel.subscribe((message) => {
          if (message.type === 'answer' && message.ref === ref) done(message.ids);
        }),
        leader.isLeader.subscribe((leading) => {
          if (leading) done();
        }),
      );
      channel.post({ type: 'ask', ref, ...what });
    });
  }

  /**
   * Another tab's {@link discardOp} or {@link clearAll}, done here, in the tab that sends (after
   * this op's request in flight, or the flush); its answer posted: the ids removed, or undefined
   * if it failed here (that tab then does it itself). The `discarded` event is that tab's.
   */
  async answerTab({ ref, id, cut, retry }: Extract<SyncMessage, { type: 'ask' }>): Promise<void> {
    if (!this.#deps.leader.isLeader.peek()) return;
    let ids: string[] | undefined;
    try {
      // (retry(id) moves or wakes one op at most: the answer lists it.)
      if (retry) ids = (await this.retryOps(id, this.#deps.now)) ? [id as string] : [];
      else if (id !== undefined) ids = (await this.#discardHere(id)) ? [id] : [];
      else if (cut !== undefined) ids = await this.#clearHere(cut);
    } catch {
      // (ids undefined: the asking tab does it itself.)
    }
    this.#deps.channel.post({ type: 'answer', ref, ids });
  }

  /**
   * Resolves once operation `id`'s request in flight (and committing what its answer means) and
   * its removal are done; without `id`, once the flush is. discard(), retry() and clearQueue()
   * wait for it, so they never race the removal of an op that was just sent — except when called
   * from an outcome handler, which the flush awaits (waiting for it would never end).
   */
  async #settledFor(id?: string): Promise<void> {
    const host = this.#host;
    if (this.#stores.outcomes?.running) return;
    if (host.inFlight?.ids.includes(id as string)) await host.inFlight.done;
    // Then its removal (an op's ends after its step), not another's: a `sent` handler may be
    // waiting for this.
    if (host.unsettled?.id === id) await host.removalRun?.catch(() => undefined);
    if (id === undefined) await host.flushRun?.catch(() => undefined);
  }

  /**
   * The engine's retry(id): once op `id`'s request in flight and its removal are done (not the
   * head's request in flight without `id`: it may take timeoutMs, and only a head still waiting
   * for its retry time is woken, never one being sent), {@link retry}; the errors of the ops
   * moved are dropped, even if it fails. `now` is read once the wait is over. retry(id) in a tab
   * that does not send is done by the tab that sends (see {@link #ask}), which wakes its head.
   */
  async retryOps(id: string | undefined, now: () => number): Promise<number> {
    const host = this.#host;
    if (id) {
      const ids = await this.#ask({ id, retry: true });
      if (ids) return ids.length;
      await this.#settledFor(id);
    }
    const moved: string[] = [];
    let result: { count: number; woke: boolean };
    try {
      result = await this.retry(id, moved, now());
    } finally {
      host.forgetErrorsOf(moved);
    }
    // The head may be sent now: forget the backoff of past network failures.
    if (result.woke) host.networkFailures = 0;
    // A retry of every failed op lifts a 401's pause, in every tab: the one that sends may be another.
    if (id === undefined) host.resume('unauthorized');
    host.publishStatus();
    host.requestFlush();
    return result.count;
  }

  /**
   * The engine's discard(id): once op `id`'s request in flight and its removal are done,
   * {@link discard}; its errors dropped, and if it was the head (blocked by its backoff, e.g. a
   * Retry-After), the next one is sent now. In a tab that does not send, the tab that sends does
   * it (see {@link #ask}): only it knows whether op `id` is on the wire.
   */
  async discardOp(id: string): Promise<boolean> {
    const ids = await this.#ask({ id });
    const found = ids ? ids.length > 0 : await this.#discardHere(id);
    if (found) this.#host.events.emit('discarded', { ids: [id] });
    return found;
  }

  /** {@link discardOp} in the tab that sends (or without Web Locks, in any). */
  async #discardHere(id: string): Promise<boolean> {
    const host = this.#host;
    const { pending } = this.#stores.lists;
    const discarding = (async () => {
      await this.#settledFor(id);
      const wasHead = pending.first() === id;
      const found = await this.discard(id);
      host.forgetErrorsOf([id]);
      if (wasHead && pending.first() !== id) host.headRemoved();
      return found;
    })();
    // Listed with the writes meanwhile: a flush that comes to this op waits for the discard instead
    // of sending it (see the engine's #drain, trackStep) — after a Retry-After: 0, the head it waited for would go again.
    host.opWrites.set(id, discarding);
    try {
      return await discarding;
    } finally {
      host.opWrites.delete(id);
      host.publishStatus();
      host.collectTempIds();
    }
  }

  /**
   * The engine's clearQueue(), cut at `cut` (an id made at the call: every op queued after it has
   * a greater one): once the queue() calls before the cut still being written are committed (a
   * Blob or FormData body is read and stored in chunks before its op), {@link #clearHere} — by
   * the tab that sends (see {@link #ask}) — then no error remains (and the ops queued after the
   * cut are sent). Resolves with how many were removed.
   */
  async clearAll(cut: string): Promise<number> {
    const host = this.#host;
    // Nothing is sent from now on until the clear is done (the flush stops before its next op).
    host.clearing = true;
    try {
      await Promise.allSettled([...host.opWrites].filter(([id]) => id < cut).map(([, write]) => write));
      let ids = await this.#ask({ cut });
      // (Removed by the tab that sends: read the outbox again, so the counts are true here now.)
      if (ids) await host.rescanOutbox();
      else ids = await this.#clearHere(cut);
      host.clearErrors(true);
      if (ids[0]) host.events.emit('discarded', { ids });
      return ids.length;
    } finally {
      host.clearing = false;
      host.publishStatus();
      host.requestFlush();
    }
  }

  /**
   * Once the flush is done, the outbox read again, {@link removeAll} of the ops before `cut`,
   * nothing sent meanwhile (the engine's clearing flag, set here too when another tab asked).
   */
  async #clearHere(cut: string): Promise<string[]> {
    const host = this.#host;
    host.clearing = true;
    try {
      await this.#settledFor();
      await host.rescanOutbox();
      return await this.removeAll(cut);
    } finally {
      host.clearing = false;
      host.publishStatus();
      host.requestFlush();
    }
  }

  /**
   * The operations of `list` (pending in send order, failed oldest first), or a page of them: at
   * most `limit`, from the one after `after`. The records are read at most
   * {@link readConcurrency} at a time: a list of 100,000 ops read all at once opened every file
   * together (EMFILE on the file driver) and held every read.
   */
  async list(list: OutboxList, { after, limit = Infinity }: ListOptions = {}) {
    const { lists } = this.#stores;
    let ids: string[];
    if (list === 'pending') ids = lists.pending.page(after, limit);
    else {
      ids = this.#failedIds();
      const start = after === undefined ? 0 : ids.findIndex((id) => id > after);
      ids = start < 0 ? [] : ids.slice(start, start + limit);
    }
    const records: Array<OperationRecord | undefined> = new Array(ids.length);
    let next = 0;
    const reader = async (): Promise<void> => {
      while (next < ids.length) {
        const index = next++;
        records[index] = await this.#readOrStub(list, ids[index] as string);
      }
    };
    await Promise.all(Array.from({ length: Math.min(readConcurrency, ids.length) }, reader));
    return records
      .filter((record): record is OperationRecord => record !== undefined)
      .map(this.#tools.toOperation);
  }

  /**
   * Put failed operations back in the queue (all, or the one with `id`), with their attempts
   * reset, keeping their id — and so their place in order and their Idempotency-Key. For a
   * pending operation waiting for its backoff (its retry time after `now`: not one being sent),
   * retry now. Resolves with how many were moved or woken, and whether the head was woken; the ids
   * moved are pushed to `moved` as they move.
   */
  async retry(
    id: string | undefined,
    moved: string[],
    now: number,
  ): Promise<{ count: number; woke: boolean }> {
    const { outbox, readAhead, lists, loadTempIds } = this.#stores;
    let count = 0;
    let woke = false;
    const outcomes = this.#stores.outcomes;
    for (const failedId of id === undefined ? this.#failedIds() : [id]) {
      if (!lists.failed.has(failedId) && failedId !== outcomes?.settling) continue;
      const record = await this.#readOrStub('failed', failedId);
      if (!record || record.unreadable) continue;
      const { lastError, nextAttemptAt: _next, ...rest } = record;
      const retried: OperationRecord = { ...rest, attempts: 0 };
      if (wasRefused(record)) retried.keyGen = (record.keyGen ?? 0) + 1;
      const group = new this.#tools.WriteGroup();
      outbox.stageMove(group, retried, 'pending');
      if (record.tempId !== undefined) (await loadTempIds()).stageIntroduce(group, record.tempId, record.id);
      await outbox.commit(group);
      lists.move([failedId], 'failed', 'pending');
      if (outcomes?.settling === failedId) outcomes.settling = undefined;
      moved.push(failedId);
      count++;
    }
    const head = lists.pending.first();
    if (head !== undefined && (id === undefined || id === head)) {
      const record = await this.#readOrStub('pending', head).catch(() => undefined);
      if (record && !record.unreadable && (record.nextAttemptAt ?? 0) > now) {
        const { nextAttemptAt: _next, ...rest } = record;
        await readAhead.write({ ...rest, rev: record.rev + 1 });
        woke = true;
        if (id !== undefined) count++;
      }
    }
    return { count, woke };
  }

  /** Remove operation `id` (pending or failed) for good. Resolves false if it was no longer queued. */
  async discard(id: string): Promise<boolean> {
    const { storage, outbox, lists, loadTempIds } = this.#stores;
    let found = false;
    for (const list of ['pending', 'failed'] as const) {
      const record = await outbox.read(list, id).catch(() => 'unreadable' as const);
      if (record === undefined) {
        lists.note('removed', list, [id]);
        continue;
      }
      // A discarded create never gives its server id: operations that refer to it cannot succeed.
      const group = new this.#tools.WriteGroup();
      if (record !== 'unreadable' && record.tempId !== undefined) {
        (await loadTempIds()).stageSettle(group, record.tempId, id, { failed: true });
      }
      // The operation, then its binary body's chunks (so a crash in between leaves unused
      // chunks, never an operation without its body). An unreadable record may have some.
      outbox.stageRemoval(group, list, id);
      if (record === 'unreadable' || record.binary) {
        await (await import('./binary-body.js')).stageChunkRemoval(storage, group, `${id}/`);
      }
      await outbox.commit(group);
      lists.remove(list, [id]);
      found = true;
    }
    const outcomes = this.#stores.outcomes;
    if (outcomes?.settling === id) outcomes.settling = undefined;
    return found;
  }

  /**
   * The failed ids, oldest first — with the refused operation whose `failed` handlers run now,
   * in neither list meanwhile (see OutcomeLog.settling): they may list, retry or discard it.
   */
  #failedIds(): string[] {
    const settling = this.#stores.outcomes?.settling;
    const ids = [...this.#stores.lists.failed].sort(); // oldest first
    // (A rescan meanwhile may have listed it already.)
    return settling === undefined || ids.includes(settling) ? ids : [...ids, settling].sort();
  }

  /**
   * Move pending record `id`, which cannot be read (or trusted: `cause`), to the failed list as
   * its stub, never sent (here: a rare path, off the start-up one): the flush's step for it,
   * counted in `summary` as failed, logged and told (`failed` event).
   */
  async moveUnreadable(
    id: string,
    cause: unknown,
    at: number,
    summary: FlushSummary,
    logger: Logger,
  ): Promise<Step> {
    const { outbox, lists } = this.#stores;
    const lastError = unreadableError(cause, at);
    const stub = unreadableStub(id, lastError);
    const group = outbox.stage(new this.#tools.WriteGroup(), 'failed', stub);
    await outbox.commit(outbox.stageRemoval(group, 'pending', id));
    lists.move([id], 'pending', 'failed');
    this.#host.headFailed(lastError, id);
    // The production build strips the prose: its line still says what failed, and which.
    logger.error(`operation ${id} ${lastError.message}`, lastError.code, id);
    this.#host.events.emit('failed', { operation: this.#tools.toOperation(stub), error: lastError });
    summary.failed++;
    return 'next';
  }

  /** Like `outbox.read()`, but an unreadable record comes back as its {@link unreadableStub}. */
  async #readOrStub(list: OutboxList, id: string): Promise<OperationRecord | undefined> {
    try {
      return await this.#stores.outbox.read(list, id);
    } catch (error) {
      if (error instanceof this.#tools.UnreadableRecordError)
        // (A message short enough to stay in the production build, as in operation.ts.)
        return unreadableStub(id, { code: 'sync/record-unreadable', message: 'unreadable record', at: 0 });
      throw error;
    }
  }

  /**
   * Remove every pending and failed operation listed whose id sorts before `cut`, with the stored
   * outcomes, and the temporary ids unless an operation is kept (one queued after the cut: they
   * are then forgotten by the usual rule, TempIds.collect). Resolves with the ids of the
   * operations removed.
   */
  async removeAll(cut: string): Promise<string[]> {
    const { storage, outbox, lists, loadOutcomes } = this.#stores;
    const before = (id: string) => id < cut;
    const pending = lists.pending.page(undefined, Infinity).filter(before);
    const failed = [...lists.failed].filter(before);
    const kept = lists.pending.length + lists.failed.size > pending.length + failed.length;
    for (const id of pending) await outbox.remove('pending', id);
    for (const id of failed) await outbox.remove('failed', id);
    // The binary chunks of every operation no longer stored (those just removed, any a crash left) —
    // not those of an upload a queue() committed meanwhile: its record is committed with or before
    // its chunks, so listed after them it shows.
    const chunkKeys = await storage.keys('b/');
    const records = new Set(await storage.keys());
    const chunks = new this.#tools.WriteGroup();
    for (const key of chunkKeys) {
      const id = key.split('/')[1];
      if (!records.has(`p/${id}`) && !records.has(`f/${id}`)) chunks.remove(key);
    }
    await outbox.commit(chunks);
    const removeAll = async (prefix: string): Promise<void> => {
      for (const key of await storage.keys(prefix)) await storage.remove(key);
    };
    // Every temporary id (`t/`): those listed now are forgotten in memory, then removed.
    if (!kept) {
      const mappings = await storage.keys('t/');
      this.#stores.tempIds?.forget();
      for (const key of mappings) await storage.remove(key);
    }
    await (await loadOutcomes()).clear(removeAll);
    lists.remove('pending', pending);
    lists.remove('failed', failed);
    return [...pending, ...failed];
  }
}

/**
 * True when the server definitely refused the operation (a 4xx, so it was not applied), or it
 * failed as a dependency. A server replays its stored answer for a key: after a refusal a new key
 * generation lets the retry be processed; otherwise the key stays. (A 409/429 that exhausted
 * maxAttempts is not a refusal: the first request may still be running or done on the server.)
 */
function wasRefused({ lastError }: OperationRecord): boolean {
  return (
    lastError?.code === 'sync/dependency-failed' ||
    (lastError?.code === 'sync/http-error' &&
      lastError.status !== undefined &&
      lastError.status >= 400 &&
      classify({ status: lastError.status }) === 'fail')
  );
}

/** A stub that takes the place of an unreadable record in the failed list. */
function unreadableStub(id: string, lastError: OperationError): OperationRecord {
  return {
    v: 1 satisfies typeof recordVersion,
    id,
    method: 'POST',
    url: '',
    createdAt: lastError.at,
    attempts: 0,
    rev: Number.MAX_SAFE_INTEGER - 1,
    unreadable: true,
    lastError,
  };
}

/** Why a stored record was moved to the failed list unsent (the error its stub keeps). */
function unreadableError(cause: unknown, at: number): OperationError {
  return {
    code: 'sync/record-unreadable',
    message: `the stored record failed authentication or decryption and was not sent (${messageOf(cause)})`,
    at,
  };
}

/** An error's message, with its cause's code when it has one (a storage error under a wrapper). */
function messageOf(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    const code = cause && typeof cause === 'object' && 'code' in cause ? ` (${String(cause.code)})` : '';
    return `${error.message}${code}`;
  }
  return String(error);
}

/**
 * Of the two copies of operation `id` left in both lists by a crash mid-move (Outbox.scan), keep
 * the one with the higher `rev` (the pending one when the failed one cannot be read) and remove
 * the other. Resolves with the list kept.
 */
export async function settleDuplicate(outbox: Outbox, id: string): Promise<OutboxList> {
  const read = async (list: OutboxList): Promise<OperationRecord | undefined> => {
    try {
      return await outbox.read(list, id);
    } catch {
      return undefined;
    }
  };
  const [pending, failed] = await Promise.all([read('pending'), read('failed')]);
  const keep: OutboxList = pending && (!failed || pending.rev > failed.rev) ? 'pending' : 'failed';
  await outbox.remove(keep === 'pending' ? 'failed' : 'pending', id);
  return keep;
}

// ——— redirects ———

/**
 * (Here, in a lazy chunk: the engine needs it only when the server answers with a redirect.)
 * The error of an operation whose request was answered by `response`, a redirect (never followed:
 * the write could reach another endpoint or origin) — or reached by one, by a custom fetch that
 * followed it anyway — naming its target when known (`requestUrl` resolves a relative one).
 */
export function redirectError(response: Response, requestUrl: string, at: number): OperationError {
  const { status } = response;
  let location: string | undefined;
  if (response.redirected) location = response.url || undefined;
  else if (response.type !== 'opaqueredirect') {
    const header = response.headers.get('Location');
    if (header !== null) {
      try {
        location = new URL(header, requestUrl).href;
      } catch {
        location = header;
      }
    }
  }
  const error: OperationError = {
    code: 'sync/redirected',
    message: `the server answered ${status === 0 ? 'a redirect' : status} to ${location ?? 'a target the browser does not reveal (an opaque redirect)'}; redirects are not followed (the write could reach another endpoint or origin): queue the operation with its final URL`,
    at,
  };
  if (status !== 0) error.status = status;
  if (location !== undefined) error.location = location;
  return error;
}

// ——— Retry-After ———

/**
 * (Here, in a lazy chunk, rather than in transport.ts: the engine needs it only when a retryable
 * answer has a `Retry-After` header, never at start-up.)
 * The delay a `Retry-After` header asks for, in ms: delta-seconds (`"120"`) or an HTTP date in any
 * of the three forms RFC 9110 §5.6.7 says recipients must accept — IMF-fixdate
 * (`Sun, 06 Nov 1994 08:49:37 GMT`), the obsolete RFC 850 form (`Sunday, 06-Nov-94 08:49:37 GMT`,
 * a two-digit year read as the nearest year that is at most 50 years ahead) and asctime
 * (`Sun Nov  6 08:49:37 1994`), all in GMT. Returns undefined for a missing or invalid value
 * (negative, fractional, another time zone, an impossible date, anything else), and clamps to
 * `[0, maxMs]` (a date in the past means "now").
 */
export function parseRetryAfter(
  value: string | null | undefined,
  now: number,
  maxMs: number,
): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+$/.test(text)) return Math.min(Number(text) * 1000, maxMs);
  const at = parseHttpDate(text, now);
  if (at === undefined) return undefined;
  return Math.min(Math.max(0, at - now), maxMs);
}

const months = 'janfebmaraprmayjunjulaugsepoctnovdec';
const dayName = /^(mon|tue|wed|thu|fri|sat|sun)$/i;
const longDayName = /^(mon|tues|wednes|thurs|fri|satur|sun)day$/i;
/**
 * The three forms, then their common time: IMF-fixdate (`Sun, 06 Nov 1994` … `GMT`), RFC 850
 * (`Sunday, 06-Nov-94` … `GMT`) and asctime (`Sun Nov  6` … `1994`: one-digit days are padded
 * with a space, never written "Nov 6" or " 6").
 */
const httpDate =
  /^(?:([A-Za-z]{3}), (\d\d) ([A-Za-z]{3}) (\d{4})|([A-Za-z]{6,9}), (\d\d)-([A-Za-z]{3})-(\d\d)|([A-Za-z]{3}) ([A-Za-z]{3}) ( [1-9]|[0-3]\d)) (\d\d):(\d\d):(\d\d)(?: GMT| (\d{4}))$/;

/** An HTTP date (RFC 9110 §5.6.7, any of its three forms) as ms since the epoch, or undefined. */
function parseHttpDate(text: string, now: number): number | undefined {
  const match = httpDate.exec(text);
  // asctime ends with its year, the two others with GMT.
  if (!match || (match[9] === undefined) !== (match[15] === undefined)) return undefined;
  const day = match[1] ?? match[5] ?? match[9] ?? '';
  const month = match[3] ?? match[7] ?? match[10] ?? '';
  const rfc850 = match[5] !== undefined;
  if (!(rfc850 ? longDayName : dayName).test(day)) return undefined;
  let year = Number(match[4] ?? match[8] ?? match[15]);
  if (rfc850) {
    // RFC 9110: a two-digit year that looks more than 50 years ahead is in the past century.
    const thisYear = new Date(now).getUTCFullYear();
    year += thisYear - (thisYear % 100);
    if (year > thisYear + 50) year -= 100;
    else if (year <= thisYear - 50) year += 100;
  }
  const date = Number(match[2] ?? match[6] ?? match[11]); // (Number(' 6') is 6: asctime's padded day)
  const hour = Number(match[12]);
  const minute = Number(match[13]);
  const second = Number(match[14]);
  const index = months.indexOf(month.toLowerCase());
  // Seconds up to 60: RFC 9110 allows a leap second.
  if (index % 3 !== 0 || hour > 23 || minute > 59 || second > 60 || date < 1) return undefined;
  const instant = new Date(0);
  instant.setUTCFullYear(year, index / 3, date);
  if (instant.getUTCMonth() !== index / 3 || instant.getUTCDate() !== date) return undefined; // 31 Feb
  instant.setUTCHours(hour, minute, second, 0);
  return instant.getTime();
}
