import { effect, type ReadonlySignal, untracked } from '@preact/signals-core';
import { backoffDelay } from '../../core/backoff.js';
import { FluxyError } from '../../core/errors.js';
import type { EventBus, Unsubscribe } from '../../core/events.js';
import { storageFailedError } from './attempt-errors.js';
import type { ChangeChannel, SyncMessage, SyncProgress, SyncStatus } from './change-channel.js';
import { classify } from './classify.js';
import { createParts, type SyncEngineDeps, type SyncParts } from './engine-parts.js';
import { FlushLoop, type FlushSummary } from './flush-loop.js';
import {
  createRecord,
  type Operation,
  type OperationError,
  type OperationRecord,
  toOperation,
  type UnreadableOperation,
} from './operation.js';
import { OperationIdGenerator } from './operation-id.js';
import type { Outbox, OutboxList } from './outbox.js';
import type { OutcomeHandlers, OutcomeLog } from './outcomes.js';
import type { QueueEdits } from './queue-edits.js';
import type { ListOptions, QueueLists } from './queue-lists.js';
import type { OperationDraft } from './request-validation.js';
import type { StatusSignals } from './status-signals.js';
import type { SyncEvents } from './sync-events.js';
import { defaultTempIdRetentionMs, type TempIds } from './temp-ids.js';
import { WriteGroup } from './write-group.js';

export type { SyncEngineDeps } from './engine-parts.js';

/** How many records `pending()` and `failed()` read at once. */
const readConcurrency = 16;

/**
 * The outbox's flusher: order, retry, signals. It coordinates its parts — the in-memory lists
 * ({@link QueueLists}), the flush loop ({@link FlushLoop}), the app's edits ({@link QueueEdits}),
 * the status ({@link StatusSignals}) and the other tabs ({@link ChangeChannel}) — and owns the
 * triggers: connectivity and leadership, the interval, `queue()`, `flush()`, other tabs' news.
 */
export class SyncEngine {
  readonly events: EventBus<SyncEvents>;
  readonly isSyncing: ReadonlySignal<boolean>;
  readonly pendingCount: ReadonlySignal<number>;
  readonly failedCount: ReadonlySignal<number>;
  readonly status: ReadonlySignal<SyncStatus>;
  readonly lastError: ReadonlySignal<OperationError | null>;
  readonly progress: ReadonlySignal<SyncProgress>;
  readonly #deps: SyncEngineDeps;
  readonly #outbox: Outbox;
  readonly #lists: QueueLists;
  readonly #status: StatusSignals;
  readonly #tempIds: TempIds;
  readonly #outcomes: OutcomeLog;
  readonly #channel: ChangeChannel;
  readonly #ids: OperationIdGenerator;
  readonly #loop: FlushLoop;
  readonly #parts: SyncParts;
  /** The app's edits (retry, discard, clear), loaded at the first one: off the start-up path. */
  #edits: Promise<QueueEdits> | undefined;
  /** Commits of `queue()` calls still running, by operation id. */
  readonly #writing = new Map<string, Promise<unknown>>();
  #outcomesDelivered = false;
  #paused: false | 'manual' | 'unauthorized' = false;
  /** Set while clearQueue() runs: nothing is sent. */
  #clearing = false;
  #flushRun: Promise<FlushSummary> | undefined;
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

  constructor(deps: SyncEngineDeps) {
    const parts = createParts(deps, {
      holds: () => ({ paused: this.#paused !== false, clearing: this.#clearing }),
      isLive: () => this.#started && !this.#disposed,
    });
    const { status } = parts;
    this.#loop = new FlushLoop(parts, {
      writing: this.#writing,
      canSend: () => this.#canSend(),
      isDisposed: () => this.#disposed,
      pauseUnauthorized: () => this.pause('unauthorized'),
      requestFlush: () => this.#requestFlush(),
    });
    this.#parts = parts;
    this.#deps = deps;
    this.#outbox = parts.outbox;
    this.#lists = parts.lists;
    this.#status = status;
    this.#tempIds = parts.tempIds;
    this.#outcomes = parts.outcomes;
    this.#channel = deps.channel;
    this.#ids = new OperationIdGenerator(deps.now, deps.randomBytes);
    this.events = parts.events;
    ({
      isSyncing: this.isSyncing,
      pendingCount: this.pendingCount,
      failedCount: this.failedCount,
      status: this.status,
      lastError: this.lastError,
      progress: this.progress,
    } = status.signals);
  }

  /** Read the outbox's keys, then start listening to triggers. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await this.#rescan();
    await this.#loop.checkStoredWait();
    if (this.#disposed) return;
    const { leader, connectivity } = this.#deps;
    this.#disposers.push(this.#channel.subscribe((message) => this.#onMessage(message)));
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
            this.#rescanInBackground();
          }
          this.#status.publish();
        });
      }),
    );
    leader.start();
    this.#intervalTimer = setInterval(() => this.wake(), this.#deps.intervalMs);
    (this.#intervalTimer as { unref?: () => void }).unref?.();
    this.#channel.post({ type: 'hello' });
  }

  /** Rescan storage and flush if there is work: for visibility changes and other hints. */
  wake(): void {
    this.#rescanInBackground();
  }

  /** Store a validated draft as a new operation; resolves once committed. Ids follow call order. */
  async enqueue(draft: OperationDraft): Promise<Operation> {
    this.#assertAlive();
    const { resolveUrl, isAllowedOrigin } = this.#deps.transport;
    if (isAllowedOrigin && !isAllowedOrigin(resolveUrl(draft.url))) {
      throw new FluxyError(
        'sync/origin-not-allowed',
        `queue(): "${draft.url}" is on another origin than baseUrl: add that origin to the SyncPlugin allowedOrigins option if it should receive operations (and the headers option).`,
      );
    }
    if (draft.tempId !== undefined && this.#tempIds.isKnown(draft.tempId)) {
      throw new FluxyError(
        'sync/invalid-options',
        `queue(): tempId "${draft.tempId}" was already introduced by another operation: make a new one for each create.`,
      );
    }
    const id = this.#ids.next();
    const refs = this.#tempIds.referencesIn(draft.url, draft.bodyText).filter((ref) => ref !== draft.tempId);
    const record = createRecord(id, draft, this.#deps.now(), refs);
    // The op, the temporary id it introduces and its binary body's chunks are committed
    // together, or none is. (The temp id is known from now: a queue() right after sees it.)
    const group = this.#outbox.stage(new WriteGroup(), 'pending', record);
    if (draft.tempId !== undefined) this.#tempIds.stageIntroduce(group, draft.tempId, id);
    const write = draft.binary
      ? import('./binary-body.js').then((lazy) => lazy.store(this.#outbox, group, record, draft, FluxyError))
      : this.#outbox.commit(group);
    this.#writing.set(id, write);
    try {
      await write;
    } finally {
      this.#writing.delete(id);
    }
    this.#lists.add('pending', [id]);
    this.#requestFlush();
    this.#status.publish();
    return toOperation(record) as Operation;
  }

  /** Drain now; joins a running flush. */
  flush(): Promise<FlushSummary> {
    if (this.#disposed || !this.#deps.leader.isLeader.value) {
      if (!this.#disposed) this.#channel.post({ type: 'flush' });
      return Promise.resolve({ sent: 0, failed: 0, remaining: this.#lists.pending.length });
    }
    this.#flushRun ??= this.#loop.drain().finally(() => {
      this.#flushRun = undefined;
      this.#status.publish();
      this.#collectTempIds();
      if (this.#flushAgain) {
        this.#flushAgain = false;
        this.#requestFlush();
      }
    });
    return this.#flushRun;
  }

  /** Snapshot of the pending operations, in send order (a page of them with `limit`/`after`). */
  async pending(page: ListOptions = {}): Promise<Array<Operation | UnreadableOperation>> {
    return this.#readAll('pending', this.#lists.page('pending', page.after, page.limit ?? Infinity));
  }

  /** Snapshot of the failed operations, oldest first (a page of them with `limit`/`after`). */
  async failed(page: ListOptions = {}): Promise<Array<Operation | UnreadableOperation>> {
    return this.#readAll('failed', this.#lists.page('failed', page.after, page.limit ?? Infinity));
  }

  /** See {@link QueueEdits.retry}; a retry of every failed op also lifts a pause after a 401. */
  async retry(id?: string): Promise<number> {
    this.#assertAlive();
    const count = await (await this.#queueEdits()).retry(id);
    if (this.#paused === 'unauthorized' && id === undefined) this.#paused = false;
    this.#status.publish();
    this.#requestFlush();
    return count;
  }

  /** Remove an operation (pending or failed) for good. Resolves false if it was no longer queued. */
  async discard(id: string): Promise<boolean> {
    this.#assertAlive();
    const edits = await this.#queueEdits();
    await this.#loop.settled(id);
    const wasHead = this.#lists.pending.first() === id;
    const found = await edits.discard(id);
    // A head blocked by its backoff (e.g. Retry-After) no longer blocks: send the next one now.
    if (wasHead && this.#lists.pending.first() !== id) this.#headRemoved();
    this.#status.publish();
    this.#collectTempIds();
    return found;
  }

  /** Remove every pending and failed operation. Resolves with how many were removed. */
  async clearQueue(): Promise<number> {
    this.#assertAlive();
    this.#clearing = true;
    try {
      const edits = await this.#queueEdits();
      await this.#loop.settled();
      await this.#flushRun?.catch(() => undefined);
      await this.#rescan();
      return await edits.removeAll();
    } finally {
      this.#clearing = false;
      this.#status.publish();
    }
  }

  /** Stop sending after the current request, in every tab, until `resume()`. */
  pause(reason: 'manual' | 'unauthorized' = 'manual', broadcast = true): void {
    this.#paused = reason;
    if (broadcast) this.#channel.post({ type: 'pause' });
    this.#status.publish();
  }

  /** Resume sending (after `pause()`, or after a 401 once the app has fresh credentials). */
  resume(broadcast = true): void {
    this.#paused = false;
    if (broadcast) this.#channel.post({ type: 'resume' });
    this.#requestFlush();
    this.#status.publish();
  }

  /**
   * The storage plugin found its database wiped. Between runs the queue read at start is what
   * storage holds (the wipe's leftovers were deleted): only `lastError` tells, until a success.
   * Under the running app: the in-memory lists are dropped (nothing is stored any more, so
   * `pendingCount` is 0), nothing more is sent — no op is ever delivered from half a queue — and
   * `lastError` says so for good; `queue()` fails with `storage/lost` from storage.
   */
  storageLost(when: 'between-runs' | 'while-running'): void {
    if (when === 'while-running') {
      this.#lost = true;
      this.#loop.cancelWake();
      void this.#lists.replace(async () => ({ pending: [], failed: [] })).then(() => this.#status.publish());
    }
    this.#status.storageLost(
      {
        code: 'sync/storage-lost',
        message: `the database was wiped (${when}): the operations queued before are gone`,
        at: this.#deps.now(),
      },
      this.#lost,
    );
  }

  /** Stop timers, listeners and the lock; abort the request in flight (its operation stays queued). */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#loop.abort();
    this.#loop.cancelWake();
    clearInterval(this.#intervalTimer as ReturnType<typeof setInterval>);
    clearTimeout(this.#rescanTimer as ReturnType<typeof setTimeout>);
    for (const dispose of this.#disposers.splice(0).reverse()) dispose();
    this.#deps.leader.dispose();
    this.#channel.close();
    await this.#flushRun?.catch(() => undefined);
    this.events.clear();
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

  #queueEdits(): Promise<QueueEdits> {
    this.#edits ??= import('./queue-edits.js').then(
      ({ QueueEdits }) => new QueueEdits(this.#parts, this.#loop, { classify, WriteGroup }),
      (error: unknown) => {
        this.#edits = undefined; // a chunk that failed to load is fetched again next time
        throw error;
      },
    );
    return this.#edits;
  }

  // ——— triggers ———

  #canSend(): boolean {
    return (
      !this.#disposed &&
      !this.#lost &&
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
    if (this.#lists.pending.length > 0 && this.#canSend()) {
      this.flush().catch((error: unknown) => this.#backgroundFailed('a flush', error));
    }
  }

  /**
   * Rescan, then flush if there is work — for triggers nobody awaits (connectivity, the interval,
   * visibility, other tabs). A storage failure (a folder moved away, EMFILE, a blocked database)
   * never escapes as an unhandled rejection: it is logged and shown in `lastError`, and the rescan
   * is tried again with backoff until storage answers.
   */
  #rescanInBackground(): void {
    if (this.#disposed) return;
    this.#rescan().then(
      () => {
        this.#backgroundFailures = 0;
        clearTimeout(this.#rescanTimer as ReturnType<typeof setTimeout>);
        this.#status.storageRecovered();
        this.#requestFlush();
      },
      (error: unknown) => this.#backgroundFailed('reading the outbox', error),
    );
  }

  #backgroundFailed(what: string, error: unknown): void {
    if (this.#disposed || this.#lost) return;
    this.#deps.logger.error(`${what} failed in the background; retrying`, error);
    this.#status.headWaits(storageFailedError(error, this.#deps.now()), undefined, true);
    clearTimeout(this.#rescanTimer as ReturnType<typeof setTimeout>);
    const delay = this.#backoff(++this.#backgroundFailures);
    this.#rescanTimer = setTimeout(() => this.#rescanInBackground(), delay);
    (this.#rescanTimer as { unref?: () => void }).unref?.();
  }

  /** The delay before the next try after `failures` failures in a row (the retry options' backoff). */
  #backoff(failures: number): number {
    const { baseDelayMs, maxDelayMs } = this.#deps.retry;
    return backoffDelay(failures, baseDelayMs, maxDelayMs, this.#deps.random);
  }

  /** The head left the queue without being sent (discarded): its wake-up is stale; send the next now. */
  #headRemoved(): void {
    this.#loop.cancelWake();
    this.#requestFlush();
  }

  async #rescan(): Promise<void> {
    if (this.#disposed || this.#lost) return;
    const last = await this.#lists.replace(async () => {
      const mark = this.#tempIds.mark();
      const listing = await this.#deps.storage.keys();
      this.#tempIds.load(listing, mark);
      return this.#outbox.scan(listing);
    });
    if (last) this.#ids.seed(last);
    this.#status.publish();
    this.#collectTempIds();
  }

  /** What another tab says. A hint, not a log: every tab rescans storage now and then. */
  #onMessage(message: SyncMessage): void {
    if (this.#disposed) return;
    switch (message.type) {
      case 'added':
        // Ops queued here from now on sort after what another tab queued and this one has seen.
        for (const id of message.ids) this.#ids.seed(id);
        this.#lists.note('added', message.list, message.ids);
        this.#requestFlush();
        this.#status.publish();
        return;
      case 'removed': {
        // Discarded, retried or cleared in another tab: as if done here.
        const head = this.#lists.pending.first();
        this.#lists.note('removed', message.list, message.ids);
        this.#status.forgetErrorsOf(message.ids);
        if (head !== undefined && message.ids.includes(head) && this.#lists.pending.first() !== head) {
          this.#headRemoved();
        }
        this.#status.publish();
        return;
      }
      case 'state':
        this.#status.mirror(message.state);
        return;
      case 'pause':
        this.pause('manual', false);
        return;
      case 'resume':
        this.resume(false);
        return;
      case 'hello':
        // A new tab: answer so it knows it is not alone, and share the current state.
        this.#channel.post({ type: 'here' });
        this.#status.publish();
        if (this.#deps.leader.isLeader.peek()) this.#channel.postState();
        return;
      case 'here':
        return;
      case 'flush':
      case 'rescan':
        this.wake();
        return;
    }
  }

  // ——— outcomes and temporary ids ———

  /**
   * Forget the temporary ids no operation can need any more (the rule: TempIds.collect), in the
   * tab that sends, while nothing is pending or being queued. Runs in the background; never throws.
   */
  #collectTempIds(): void {
    const quiet = () =>
      !this.#disposed &&
      !this.#clearing &&
      this.#started &&
      this.#lists.pending.length === 0 &&
      this.#writing.size === 0 &&
      this.#deps.leader.isLeader.peek();
    if (!quiet()) return;
    this.#tempIds
      .collect({
        retentionMs: this.#deps.tempIdRetentionMs ?? defaultTempIdRetentionMs,
        failedIds: () => [...this.#lists.failed],
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
      // tab, its messages about the last ops it handled may still be on their way. Read when each
      // outcome is looked at, not listed once before: a flush may answer an op in between, and a
      // stale "still pending" would drop the outcome it just stored.
      await this.#outcomes.deliverStored((id) =>
        this.#outbox.read('pending', id).then(
          (record) => record !== undefined,
          () => true,
        ),
      );
    } catch (error) {
      this.#deps.logger.error('delivering stored outcomes failed', error);
    }
  }

  /**
   * Read the records of `ids`, at most {@link readConcurrency} at a time: a list of 100,000 ops
   * read all at once opened every file together (EMFILE on the file driver) and held every read.
   */
  async #readAll(list: OutboxList, ids: string[]): Promise<Array<Operation | UnreadableOperation>> {
    const records: Array<OperationRecord | undefined> = new Array(ids.length);
    let next = 0;
    const reader = async (): Promise<void> => {
      while (next < ids.length) {
        const index = next++;
        records[index] = await this.#outbox.readOrStub(list, ids[index] as string);
      }
    };
    await Promise.all(Array.from({ length: Math.min(readConcurrency, ids.length) }, reader));
    return records.filter((record): record is OperationRecord => record !== undefined).map(toOperation);
  }

  #assertAlive(): void {
    if (this.#disposed)
      throw new FluxyError('app/disposed', 'The sync plugin was disposed: create a new app.');
  }
}
