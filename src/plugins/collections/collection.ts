import type { ReadonlySignal } from '@preact/signals-core';
import { backoffDelay } from '../../core/backoff.js';
import { FluxyPlugin } from '../../core/base-plugin.js';
import { EventBus, type Unsubscribe } from '../../core/events.js';
import { checkJson, describeInput } from '../../core/input-checks.js';
import type { Logger } from '../../core/logger.js';
import type { PluginContext } from '../../core/plugin.js';
import type { KeyValueStore } from '../storage/key-value-store.js';
import { createLock, type Lock, RowCache } from './cache.js';
import { HybridClock, randomHex } from './clock.js';
import type { ConflictHost } from './conflicts.js';
import { effect, FluxyError, publish, signal, untracked } from './deps.js';
import {
  type CollectionLocks,
  type CollectionOptions,
  type CollectionsErrorCode,
  type ResolvedCollectionOptions,
  type Row,
  resolveCollectionOptions,
} from './options.js';
import { type Change, type PendingRow, RowView } from './view.js';

/**
 * Why the last pull (or a pulled clock, or a merge function) went wrong: `collections/pull-failed`
 * (with its `cause`: the read's error, e.g. `sync/redirected`, or storage's), `collections/bad-response`,
 * `collections/clock-skew`, `collections/merge-failed` (a FluxyError; `cause`: what the merge
 * function threw, or why its patch was refused), `collections/conflict-failed` (a FluxyError: a
 * step of conflict handling failed for one row, the others went on; `cause`: storage's error, or
 * why the change could not be sent again).
 */
export interface CollectionError {
  code: CollectionsErrorCode;
  message: string;
  /** The HTTP status, when the server answered. */
  status?: number | undefined;
  /** When it happened (ms since epoch). */
  at: number;
  /**
   * What failed: the feed's read (`sync/network-error`, `sync/redirected`: the feed answered a
   * redirect, which is never followed), storage (`storage/quota-exceeded`), a merge function.
   */
  cause?: unknown;
}

/** How a conflict was settled. */
export type ConflictResolution = 'lww' | 'server-wins' | 'client-wins' | 'merged' | 'dropped';

/** What a `conflict` event says: the row, both sides, and what was decided. */
export interface ConflictEvent<R extends Row> {
  /** The row's id. */
  id: string;
  /**
   * The row with this replica's change on top (of the server's row when the server's is known;
   * `null` for a removal): what the user wanted, e.g. to offer it again.
   */
  local: R | null;
  /** The server's row when the conflict was seen (`null`: the server deleted it). */
  server: R | null;
  /**
   * `'lww'`: a newer change from elsewhere won some fields (the server's answer shows them);
   * `'server-wins'`: the local change was dropped; `'client-wins'`: it was sent again on the new
   * version; `'merged'`: the merge function's patch was sent; `'dropped'`: the merge function
   * returned null, or the row was deleted on the server.
   */
  resolution: ConflictResolution;
  /**
   * The row shown now (before the resent change is answered, with it on top) — in another tab,
   * the row as the tab that decided it showed it.
   */
  result: R | null;
}

/** Events of a collection: `collection.on(name, handler)` returns the unsubscribe function. */
export interface CollectionEvents<R extends Row> {
  conflict: ConflictEvent<R>;
}

/** The parts of the Sync plugin a collection uses (its public API). @internal */
export interface SyncLike {
  queue(method: string, url: string, options?: object): Promise<{ id: string }>;
  read(url: string, options?: { signal?: AbortSignal }): Promise<{ status: number; body: unknown }>;
  pending(): Promise<Array<QueuedOperation | { unreadable: true }>>;
  failed(): Promise<Array<QueuedOperation | { id: string; unreadable: true }>>;
  handle(
    kind: string,
    handlers: { sent?(o: SentLike): unknown; failed?(o: FailedLike): unknown },
  ): () => void;
  on(event: 'sent', handler: (o: SentLike) => void): () => void;
  on(event: 'failed', handler: (o: FailedLike) => void): () => void;
  on(event: 'change', handler: () => void): () => void;
  on(event: 'discarded', handler: (o: { ids: string[] }) => void): () => void;
  discard(id: string): Promise<boolean>;
  resolveId(tempId: string): Promise<string | undefined>;
  readonly status: ReadonlySignal<string>;
  readonly lastError: ReadonlySignal<{ status?: number | undefined } | null>;
}
/** @internal */
export interface QueuedOperation {
  id: string;
  url?: string;
  kind?: string;
  body?: unknown;
  meta?: unknown;
  tempId?: string;
}
/** @internal */
export interface SentLike {
  operation: QueuedOperation;
  status: number;
  response: unknown;
}
/** @internal */
export interface FailedLike {
  operation: QueuedOperation | { id: string; unreadable: true };
  error: { code: string; status?: number };
}
/**
 * A write of this replica applied by the server: the version it was made on, the version it made,
 * the operation it is (the one it resends, for a resend), the fields it set. @internal
 */
export type AppliedWrite = [from: unknown, to: unknown, operationId: string, fields: string[]];
/** What a collection's operations keep in `meta`. @internal */
export interface ChangeMeta {
  c: 1;
  /** The row id as the change was made (possibly temporary). */
  id: string;
  /** The change's hybrid logical clock stamp. */
  clock: string;
  /** The row version the change was made on (for If-Match). */
  base?: string | number;
  /** The row as it was when the change was made (kept for a merge function: the three-way base). */
  baseRow?: Row | null;
  /** The refused operation this one resends after a conflict. */
  resolves?: string | undefined;
}
/** @internal */
export type PulledPage<R> = {
  changes: R[];
  deleted: string[];
  cursor: string;
  more: boolean;
  clock?: string;
};
/**
 * Confirmed rows and deletions, the operations they settle and the temporary ids they resolve;
 * a conflict to emit (in the tab that decided it, and in the others that hear it). @internal
 */
export type RowsMessage<R> = {
  rows: R[];
  deleted: string[];
  settled: string[];
  aliases: Array<[string, string]>;
  /** A conflict to emit (a short name: posted to the other tabs). */
  c?: ConflictEvent<R & Row>;
  /** When the pull that this page ended ended: another tab's `lastPulledAt` (see page.ts). */
  t?: number;
};
/** Rows, or (an empty object) "the outbox changed". */
type Message = RowsMessage<Row> | Record<string, never>;
interface ChannelLike {
  postMessage(message: unknown): void;
  close(): void;
  onmessage: ((event: { data: unknown }) => void) | null;
}

/** The HTTP method of each kind of change. */
const methods = { insert: 'POST', update: 'PATCH', remove: 'DELETE' } as const;
/** How long a change that left the outbox without this tab seeing its answer stays shown, waiting for the tab that sent it. */
const settleWaitMs = 1500;

/**
 * A server resource kept on the device: its rows, cached and encrypted, pulled since a cursor,
 * with the user's pending changes shown on top, the same in every tab. Writes go through the
 * Sync plugin's outbox (ordered, durable, exactly-once with an idempotent server).
 *
 * Depends on the `storage`, `connectivity` and `sync` plugins. See docs/collections.md.
 *
 * @example
 * const notes = register(new Collection<Note>('notes', { url: '/notes' }));
 * await ready();
 * effect(() => render(notes.items.value));
 * const row = await notes.insert({ title: 'Groceries' }); // shown at once, durable when resolved
 * await notes.update(row.id, { title: 'Food' });           // works before the insert was sent
 */
export class Collection<R extends Row = Row> extends FluxyPlugin {
  /** The plugin name, given to the constructor: `use(name)`. */
  readonly name: string;
  /** Initialised after these. */
  readonly dependencies = ['storage', 'connectivity', 'sync'] as const;

  readonly #options: ResolvedCollectionOptions<R>;
  readonly #view: RowView<R>;
  /**
   * The options of every public signal: a collection registered after ready() starts when one of
   * them is first watched (or at get()) — its cache read, then a pull —, as every plugin's public
   * calls initialise it, starting the app's `ready()` for it (a failure is ready()'s to report).
   */
  readonly #watched = {
    watched: () => {
      if (!this.#sync) this.whenReady().catch(noop);
    },
  };
  readonly #isPulling = signal(false, this.#watched);
  readonly #lastPulledAt = signal<number | null>(null, this.#watched);
  readonly #lastError = signal<CollectionError | null>(null, this.#watched);
  readonly #events: EventBus<CollectionEvents<R>>;
  /** The last run of resolving (never rejects): the next one starts after it, dispose waits for it. */
  #resolving = Promise.resolve();
  #sync: SyncLike | undefined;
  #cache: RowCache<R> | undefined;
  #clock!: HybridClock;
  #lock: Lock | undefined;
  #channel: ChannelLike | undefined;
  #logger!: Logger;
  #online!: ReadonlySignal<boolean>;
  #signal!: AbortSignal;
  #seq = 0;
  /** Increases at every local event that the outbox listing may not show yet (see #relist). */
  #epoch = 0;
  /** Operation id → epoch at which this tab saw it answered (or refused); pruned by #showListed. */
  readonly #settled = new Map<string, number>();
  /**
   * What the feed said last in this session, by row id: the version of the row (a late answer
   * must not undo it), or null for a deletion (a late answer must not bring the row back).
   * Forgotten at a pull request made with no change pending (see #fetchPage).
   */
  readonly #fed = new Map<string, unknown>();
  /** Rows an answer confirmed since the last pull request was sent (see #pullPages); only while a pull runs. */
  readonly #answered = new Set<string>();
  /** Row id → the writes of this replica that this tab saw applied to it (see conflicts.ts). */
  readonly #applied = new Map<string, AppliedWrite[]>();
  /** Row writes of answers in flight: waited for on dispose. */
  readonly #writes = new Set<Promise<unknown>>();
  /** Calls of #relist since its running listing began (0: none running; over 1: list again). */
  #relists = 0;
  #pulling: Promise<void> | undefined;
  #pullFailures = 0;
  /** Pull requests sent in this instance; the number of the last one that ended a complete pull. */
  #requests = 0;
  #lastRequest = -1;
  #pullAgain = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #waitTimer: ReturnType<typeof setTimeout> | undefined;

  /** Rows: the confirmed rows with the pending changes applied on top, in a stable order. */
  declare readonly items: ReadonlySignal<readonly R[]>;
  /**
   * How many local changes `items` shows that the server has not confirmed yet (pending in the
   * outbox, or answered in another tab a moment ago; not an update of a row not shown, which
   * `pending` does not list either). 0 when `items` is the server's state as last pulled — e.g.
   * for "all changes saved" in a UI, or to wait for in a test.
   */
  declare readonly unconfirmed: ReadonlySignal<number>;
  /**
   * The rows with local changes the server has not confirmed yet, by id as shown now, in the
   * order of their first change: for "saving…" and "deleting…" states (a removed row is not in
   * `items`; `removed` is what it showed). The same in every tab and after a reload.
   *
   * @example const state = notes.pending.value.get(id)?.type; // 'insert' | 'update' | 'remove' | undefined
   */
  declare readonly pending: ReadonlySignal<ReadonlyMap<string, PendingRow<R>>>;
  /**
   * True while a pull runs in this tab: from its start until it is over (as `pull()`
   * resolves), and on into a pull a trigger asked for meanwhile, with no gap.
   */
  readonly isPulling: ReadonlySignal<boolean> = this.#isPulling;
  /** When the last complete pull ended (ms since epoch; from storage after a restart), or null. */
  readonly lastPulledAt: ReadonlySignal<number | null> = this.#lastPulledAt;
  /** The last pull failure, refused clock or failed merge function; null after a pull succeeds. */
  readonly lastError: ReadonlySignal<CollectionError | null> = this.#lastError;

  /**
   * @param name - the plugin name, which also names its storage namespace and operation kinds (`<name>.insert`…).
   * @param options - see {@link CollectionOptions}; validated now (`collections/invalid-options`).
   */
  constructor(name: string, options: CollectionOptions<R>) {
    super();
    this.#options = resolveCollectionOptions(name, options);
    this.name = name;
    this.#view = new RowView<R>(this.#options.key, this.#options.compare, this.#watched);
    ({ items: this.items, changeCount: this.unconfirmed, pending: this.pending } = this.#view);
    this.#events = new EventBus<CollectionEvents<R>>((event, error) =>
      this.#logger.error(`a "${this.name}.on('${event}')" handler threw`, error),
    );
  }

  /**
   * Listen to `conflict`: a change of this replica met another one (see {@link ConflictEvent});
   * returns the unsubscribe function. Emitted once in the tab that decided it and once in each
   * other open tab of the collection (over its BroadcastChannel; see docs/conflicts.md).
   *
   * @example notes.on('conflict', ({ resolution }) => resolution !== 'client-wins' && toast('Someone else changed this note'));
   */
  on<K extends keyof CollectionEvents<R>>(
    event: K,
    handler: (payload: CollectionEvents<R>[K]) => void,
  ): Unsubscribe {
    // As sync.on(): nothing would ever call a handler added to a disposed collection.
    this.throwIfDisposed('on');
    if (event !== 'conflict') {
      throw new FluxyError(
        'invalid-argument',
        `${this.name}.on(): unknown event "${String(event)}". Events: conflict.`,
      );
    }
    return this.#events.on(event, handler);
  }

  /** @internal */
  override async init(ctx: PluginContext): Promise<void> {
    const storage = ctx.use('storage') as unknown as {
      namespace(prefix: string): KeyValueStore;
      databaseName?: string;
    };
    const connectivity = ctx.use('connectivity') as unknown as { isOnline: ReadonlySignal<boolean> };
    const sync = ctx.use('sync') as unknown as SyncLike;
    // (A "sync" plugin that is not fluxy/sync's fails at sync.pending() below: plugin/init-failed.)
    this.#sync = sync;
    // An absolute url on an origin the SyncPlugin does not allow could never be pulled nor
    // written: refused now (origin.ts, loaded only for an absolute url).
    this.#logger = ctx.logger;
    this.#online = connectivity.isOnline;
    this.#signal = ctx.signal;
    // (Shorter than ctx.onDispose, written nine times.)
    const own = (release: () => void | Promise<void>) => ctx.onDispose(release);
    const scope = `fluxy-collection:${storage.databaseName ?? 'fluxy'}:${this.name}`;
    // (false: no Web Locks, as createLock takes it.)
    this.#lock = createLock(
      this.#options.locks ?? (globalThis as { navigator?: { locks?: CollectionLocks } }).navigator?.locks,
      scope,
    );
    this.#cache = new RowCache<R>(
      storage.namespace(`collection-${this.name}`),
      this.#options.key,
      this.#lock,
    );
    this.#clock = new HybridClock(randomHex(6, this.#options.random), this.#options.now);

    // Other tabs' messages are held until the cache is shown: the channel opens before the cache
    // is read, so a page another tab stores meanwhile is in what we read or in a message we hear.
    const held: Message[] = [];
    let hear = (message: Message): unknown => held.push(message);
    const Channel = (globalThis as { BroadcastChannel?: new (name: string) => ChannelLike }).BroadcastChannel;
    if (Channel) {
      const channel = new Channel(scope);
      // Only Fluxy posts on this channel's name, and only JSON text.
      channel.onmessage = (event) => hear(JSON.parse(event.data as string) as Message);
      this.#channel = channel;
      own(() => channel.close());
    }

    // Cache first: rows, cursor, clock and the pending changes, before any request.
    const [[rows, aliases, { pulledAt }, clock], operations] = await Promise.all([
      this.#cache.loadAll(),
      sync.pending(),
    ]);
    // (restore() and parseStamp() take anything: what is not a stamp is ignored.)
    this.#clock.restoreStamp(clock as string);
    for (const [tempId, serverId] of aliases)
      if (typeof serverId === 'string') this.#view.addAlias(tempId, serverId);
    publish(() => {
      this.#lastPulledAt.value = pulledAt ?? null;
      this.#view.confirmRows(rows, []);
    });
    const changes = this.#changesOf(operations);
    for (const change of changes) {
      if (change.id.startsWith('tmp_') && !this.#view.aliasMap.has(change.id)) {
        const serverId = await sync.resolveId(change.id);
        if (serverId) this.#view.addAlias(change.id, serverId);
      }
    }
    this.#view.setChanges(changes);
    // Forget the temporary ids no pending change uses any more (each is a record of its own, read
    // at every start: kept for ever, they would pile up; see docs/collections.md, get()).
    const used = new Set(changes.map((change) => change.id));
    void this.#cache
      .forgetAliases([...this.#view.aliasMap.keys()].filter((tempId) => !used.has(tempId)))
      .catch(noop);

    // Answers: at once in this tab (the 'sent' event comes in the same step as the removal from
    // the outbox, so the row never flickers back), durably through the outcome handlers.
    own(
      sync.on('sent', (outcome) => {
        if (this.#typeOf(outcome.operation.kind)) this.#applyRows(this.#answerOf(outcome));
      }),
    );
    own(
      sync.on('failed', ({ operation }) => {
        if (this.#typeOf((operation as QueuedOperation).kind)) this.#settle([operation.id]);
      }),
    );
    own(sync.on('change', () => this.#relist()));
    // Discarded (or cleared): forgotten at once, here and in the other tabs; so are the later
    // changes of a discarded insert's row (conflicts.ts).
    own(
      sync.on('discarded', ({ ids }) => {
        const changes = this.#view.changeList;
        this.#settle(ids, true);
        void import('./conflicts.js').then((module) => module.discardLater(changes, ids, sync));
      }),
    );
    for (const kind in methods) {
      own(
        sync.handle(`${this.name}.${kind}`, {
          sent: (outcome) => this.#storeAnswer(outcome),
          // Refused: it drops out of `items` (it stays in sync.failed()); a conflict is stored (conflicts.ts).
          failed: async (outcome) => {
            // Not awaited: resolving discards the operation, which must not wait inside its own outcome.
            if (await (await import('./conflicts.js')).storeRefusal(this.#host(), outcome))
              outcome.error.status === 412 ? this.#autoPull() : void this.#resolveConflicts();
          },
        }),
      );
    }

    // What the outbox did between the listing above and these subscriptions (it sends while we load).
    this.#relist();
    hear = (message) =>
      'rows' in message ? this.#applyRows(message as RowsMessage<R>) && this.#autoPull() : this.#relist();
    held.forEach(hear);

    own(async () => {
      clearTimeout(this.#retryTimer);
      clearTimeout(this.#waitTimer);
      // Let a pull in flight stop (its request is aborted) before the storage closes, so a
      // restarted instance never writes the same buckets at the same time.
      await this.#pulling?.catch(noop);
      await this.#resolving;
      await Promise.all([...this.#writes]);
    });

    // Pull triggers: start-up and reconnect (the effect), becoming visible, the interval; with
    // pullIntervalMs 0, none (only pull()).
    const interval = this.#options.pullIntervalMs;
    const document = (globalThis as { document?: Document }).document;
    document?.addEventListener?.(
      'visibilitychange',
      () => {
        if (document.visibilityState === 'visible') {
          this.#relist();
          if (interval) this.#autoPull();
        }
      },
      { signal: ctx.signal },
    );
    // Start-up and reconnect (with an interval); a failed pull is tried again at once, not after
    // its backoff, at a reconnect (a retry due while offline was skipped) and when the outbox's
    // status leaves 'paused' (sync.resume() after a 401: see #autoPull) — at no other change of
    // the status (a write sent, an error): those are no reason to ask the feed again.
    let paused: unknown;
    own(
      effect(() => {
        const was = paused;
        paused = sync.status.value === 'paused';
        if (was && !paused && this.#pullFailures) untracked(() => this.#autoPull());
      }),
    );
    own(
      effect(() => {
        if (connectivity.isOnline.value && (interval || this.#pullFailures))
          untracked(() => this.#autoPull());
      }),
    );
    if (interval) {
      const timer = unref(setInterval(() => this.#autoPull(), interval));
      own(() => clearInterval(timer));
    }
  }

  /**
   * A signal of one row, by id (a temporary id keeps working once the server's id replaced it).
   * It notifies only when that row changes.
   *
   * @example effect(() => (titleEl.textContent = notes.get(id).value?.title ?? ''));
   */
  get(id: string): ReadonlySignal<R | undefined> {
    this.#watched.watched();
    return this.#view.watchRow(this.#checkId(id, 'get'));
  }

  /**
   * Insert a row: shown at once under a temporary id (`tmp_…`), which the server's id replaces
   * in `items`, in `get()` and in every later operation once the insert is answered. Resolves with
   * the row as shown once the operation is committed to the outbox.
   */
  async insert(fields: Partial<R>): Promise<R> {
    const data = this.#checkFields(fields, 'insert');
    // Fluxy's fields: the id (the server's, a temporary one until then) and the clientIdField
    // (the temporary id, for the server to keep: a pulled row that carries it is that insert's).
    // (The clientIdField is a non-empty string other than the key when given: the options refuse
    // anything else; without it, `field` is the key.)
    const field = this.#options.clientIdField;
    const key = this.#options.key in data;
    if (key || (field && field in data))
      throw new FluxyError(
        'collections/invalid-row',
        key
          ? `${this.name}.insert(fields): do not pass "${this.#options.key}": the server assigns ids (a temporary one is shown until then).`
          : `${this.name}.insert(fields): do not pass "${field}": it is the clientIdField, which Fluxy sets to the temporary id.`,
      );
    if (!this.#sync) await this.whenReady();
    const tempId = `tmp_${randomHex(16)}`;
    if (field) data[field] = tempId;
    return (await this.#write('insert', tempId, data, tempId)) as R;
  }

  /** Change some fields of a row (the id may still be a temporary one). Resolves once the operation is committed. */
  async update(id: string, patch: Partial<R>): Promise<void> {
    // (The id first: a bad id is named as such, whatever the patch.)
    const given = this.#checkId(id, 'update');
    const data = this.#checkFields(patch, 'update');
    const field = this.#options.clientIdField;
    // (The id as given or the one that replaced it: a temporary id stands for the server's.)
    const moved =
      this.#options.key in data &&
      this.#view.currentId(data[this.#options.key] as string) !== this.#view.currentId(given);
    delete data[this.#options.key];
    // (Empty once the key is left out: the key alone changes nothing.) The clientIdField is
    // Fluxy's: an insert's temporary id, set once.
    if (moved || (field && field in data) || !Object.keys(data).length) {
      throw new FluxyError(
        'collections/invalid-row',
        moved
          ? `${this.name}.update(id, patch): a row's "${this.#options.key}" cannot change.`
          : field && field in data
            ? `${this.name}.update(id, patch): do not pass "${field}": it is the clientIdField, which Fluxy set to the insert's temporary id.`
            : `${this.name}.update(id, patch): the patch is empty: pass the fields to change.`,
      );
    }
    if (!this.#sync) await this.whenReady();
    await this.#write('update', this.#existing(id, 'update'), data);
  }

  /** Remove a row (the id may still be a temporary one). Resolves once the operation is committed. */
  async remove(id: string): Promise<void> {
    if (!this.#sync) await this.whenReady();
    await this.#write('remove', this.#existing(id, 'remove'));
  }

  /**
   * Pull the changes since the last cursor, page by page, now. Resolves when the collection is up
   * to date with the server (joining a pull in progress, or waiting for another tab's); rejects
   * with `collections/offline`, `collections/pull-failed` or `collections/bad-response`, and with
   * `app/disposed` when `dispose()` cuts it off.
   */
  async pull(): Promise<void> {
    await this.whenReady();
    if (!this.#online.peek()) {
      throw new FluxyError(
        'collections/offline',
        this.#options.pullIntervalMs
          ? `${this.name}.pull(): the device is offline; the collection pulls by itself when it is back.`
          : `${this.name}.pull(): the device is offline; call pull() again when it is back (with pullIntervalMs 0 the collection does not pull by itself).`,
      );
    }
    // A pull already running may have asked before the changes the caller wants to see: unless
    // it ends with a page asked for after this call, pull again.
    const asked = this.#requests;
    try {
      // (Again while one runs: the pull that follows a running one may be an automatic one, which
      // does not wait for another tab's.)
      while (this.#pulling)
        if (
          await this.#pulling.then(
            () => this.#lastRequest > asked,
            noop, // (failed: pull again)
          )
        )
          return;
      // (The running pull may have waited for another tab's decision of refusals until dispose():
      // no new request for the lock then.)
      this.#signal.throwIfAborted();
      await this.#pull(false);
    } finally {
      // A pull that dispose() cut off ends quietly inside; the caller is told (app/disposed).
      this.#signal.throwIfAborted();
    }
  }

  // --- writes ---------------------------------------------------------------------------------

  /** Queue a change (`POST url`, `PATCH url/:id` or `DELETE url/:id`), shown at once. @internal (conflicts.ts resends with it) */
  async #write(
    type: Change['type'],
    id: string,
    data?: Row,
    tempId?: string,
    resolves?: string,
    base?: R | null,
  ): Promise<R | undefined> {
    // After dispose: refused before anything is shown (not shown, then rolled back).
    this.throwIfDisposed(type);
    const clock = this.#clock as HybridClock;
    const stamp = clock.nextStamp();
    const confirmed = base === undefined ? this.#view.confirmedRow(id) : (base ?? undefined);
    const meta: ChangeMeta = { c: 1, id, clock: stamp, resolves };
    const version = confirmed?.version;
    if (typeof version === 'number' || typeof version === 'string') meta.base = version;
    if (typeof this.#options.conflict === 'function' && type !== 'insert')
      meta.baseRow = this.#view.shownRow(id) ?? null;
    const headers: Record<string, string> = { 'Fluxy-Clock': stamp };
    // (An insert has no base: its new temporary id has no confirmed row.)
    if (this.#options.conflict !== 'lww' && meta.base !== undefined) headers['If-Match'] = `"${meta.base}"`;
    const change: Change = { type, id, callOrder: ++this.#seq, data };
    this.#view.addChange(change); // shown in the same frame
    try {
      const operation = await (this.#sync as SyncLike).queue(
        methods[type],
        type === 'insert' ? this.#options.url : `${this.#options.url}/${encodeURIComponent(id)}`,
        // (queue() takes an undefined body or tempId as none.)
        { body: data, headers, meta, kind: `${this.name}.${type}`, tempId },
      );
      // Saved once queued: a change the outbox refuses leaves storage as it was. Until then the
      // stamp is in the operation's meta, which a restart reads (a monotonic clock either way).
      // (Not a reason to refuse the change once it is queued.)
      await (this.#cache as RowCache<R>).saveClock(stamp).catch(noop);
      change.opId = operation.id;
      change.commitEpoch = ++this.#epoch;
      if (this.#settled.has(operation.id)) this.#view.dropChanges((candidate) => candidate === change);
      this.#post({});
      return this.#view.shownRow(id);
    } catch (error) {
      this.#view.dropChanges((candidate) => candidate === change);
      throw error;
    }
  }

  #checkFields(fields: unknown, method: string): Row {
    // After dispose: refused before anything else, whatever the fields (also by #checkId).
    this.throwIfDisposed(method);
    // `path`: where in the fields the problem is, as checkJson gives it (see fieldAt).
    const fail = (path: string, problem: string): never => {
      throw new FluxyError(
        'collections/invalid-row',
        `${method === 'insert' ? `${this.name}.insert(fields): ${fieldAt(path, 'fields', 'the row')}` : `${this.name}.update(id, patch): ${fieldAt(path, 'patch', 'the patch')}`} ${problem}.`,
      );
    };
    try {
      // Refused, not converted, by the rules of queue()'s body check (which would refuse them with
      // sync/invalid-body): a class instance (a Map, a Date…), NaN, a function, a BigInt, a cycle,
      // undefined in an array, a lone UTF-16 surrogate, nesting deeper than 64 (sync's
      // maxJsonDepth)… The check returns a copy in which each toJSON was called once, and which
      // keeps the fields JSON would drop (undefined).
      const copy = checkJson(fields, { maxDepth: 64, strict: true }, fail) as Row;
      // Not an object (null, a string, an array, what a toJSON() of the fields made of them), or a
      // field JSON would drop (undefined, also in what the fields' own toJSON() returned), which
      // must not vanish silently.
      if (!isRecord(copy) || Object.values(copy).includes(undefined)) {
        fail(
          '',
          `${isRecord(copy) ? `sets ${fieldAt(`.${Object.keys(copy).find((name) => copy[name] === undefined)}`, method === 'insert' ? 'fields' : 'patch', '')} to undefined, which JSON would drop` : `is ${describeInput(copy)}: pass a plain object of fields, each holding a JSON value`} (use null to clear a field)`,
        );
      }
      // (Nested undefined dropped, as the outbox sends it.)
      return JSON.parse(JSON.stringify(copy));
    } catch (error) {
      // A getter, toJSON() or Proxy trap of the fields threw: refused as queue() refuses such a
      // body (sync/invalid-body, the error as cause).
      throw error instanceof FluxyError
        ? error
        : new FluxyError(
            'collections/invalid-row',
            `${method === 'insert' ? `${this.name}.insert(fields): the row` : `${this.name}.update(id, patch): the patch`} could not be read (${describeError(error)}): pass plain data.`,
            { cause: error },
          );
    }
  }

  #checkId(id: unknown, method: string): string {
    this.throwIfDisposed(method);
    if (typeof id !== 'string' || id === '')
      throw new FluxyError(
        'invalid-argument',
        `${this.name}.${method}(id): id must be a non-empty string (got ${describeInput(id)}).`,
      );
    return id;
  }

  /** The id to send for a row shown now; refuses ids of rows that are not shown. */
  #existing(id: unknown, method: string): string {
    const given = this.#checkId(id, method);
    const target = this.#view.currentId(given);
    // A path segment `.` or `..` is removed by URL parsing (`%2E` too): `DELETE url/..` would go
    // to url's parent. An id with a lone UTF-16 surrogate (valid JSON) has no URL form at all
    // (encodeURIComponent throws). (Such a row, pulled, stays readable.)
    if (/^\.\.?$|\p{Cs}/u.test(target))
      throw new FluxyError(
        'invalid-argument',
        `${this.name}.${method}("${given}"): a row whose id ${/^\.\.?$/.test(target) ? `is "." or ".." cannot be changed: as a URL path segment it would address ${this.#options.url}'s parent, not the row` : 'holds a lone UTF-16 surrogate cannot be changed: no URL can carry it'}. Give the row another id on the server.`,
      );
    if (!this.#view.shownRow(target)) {
      throw new FluxyError(
        'collections/unknown-row',
        `${this.name}.${method}("${given}"): there is no such row (it was removed, or never existed here).`,
      );
    }
    return target;
  }

  // --- answers ----------------------------------------------------------------------------------

  /** The type of change an operation of this kind carries; undefined when it is not this collection's. */
  #typeOf(kind: string | undefined): Change['type'] | undefined {
    return (Object.keys(methods) as Array<Change['type']>).find((type) => kind === `${this.name}.${type}`);
  }

  /** What an answer changes: the server's row (or the deletion), the operation settled, the temporary id resolved. */
  #answerOf({ operation, response }: SentLike): RowsMessage<R> {
    const row = rowOf(response, this.#options.key);
    const serverId = row?.[this.#options.key] as string | undefined;
    const answer: RowsMessage<R> = { rows: [], deleted: [], settled: [operation.id], aliases: [] };
    // (Only this collection's inserts carry a tempId.)
    if (operation.tempId && serverId) answer.aliases.push([operation.tempId, serverId]);
    if (serverId === undefined) {
      const { id = '', base } = (operation.meta ?? {}) as Partial<ChangeMeta>;
      const removed = this.#view.currentId(id);
      // Unless the feed brought a newer version than the one removed since: another replica's
      // newer write brought the row back after this deletion (the cursor is past it, so no pull
      // would bring it again). #storeAnswer pulls: the feed tells which came last.
      if (
        this.#typeOf(operation.kind) === 'remove' &&
        !((this.#fed.get(removed) as number) > (base as number))
      )
        answer.deleted.push(removed);
    } else answer.rows.push(row as R); // (unless a pull saw it deleted: see #applyRows)
    return answer;
  }

  /** The durable part of an answer (runs at least once, in the tab that sent it). */
  async #storeAnswer(outcome: SentLike): Promise<void> {
    if (this.#signal.aborted) return;
    const answer = this.#answerOf(outcome);
    this.#applyRows(answer);
    const [row] = answer.rows;
    // No row to show (none in the answer, or one a pull saw deleted), and no removal: the change
    // is no longer pending, so only a pull shows what the server made of it. (Here, not in
    // #answerOf, which runs twice per answer: one pull, not two.)
    if (!row && !answer.deleted[0]) this.#autoPull();
    // A write dispose waits for. After dispose nothing is written (another instance may own the
    // storage by then); the next pull brings what was skipped.
    const write = (this.#cache as RowCache<R>).writePages([answer]);
    this.#writes.add(write);
    await write.finally(() => this.#writes.delete(write));
    this.#post(answer);
    // Last writer wins on the server: did a newer change from elsewhere keep a field (or the row)?
    // Not awaited (see the outcome handlers in init): refusals left for this write are resolved again.
    // (The lazy chunk also warns, once per answer, of an answer without the row.)
    if ((await import('./conflicts.js')).noteAnswer(this.#host(), outcome, row)) this.#resolveConflicts();
  }

  /** Operations answered, refused or discarded: their changes leave `items` (`post`: in the other tabs too). */
  #settle(opIds: readonly string[], post?: boolean): void {
    const epoch = ++this.#epoch;
    for (const id of opIds) this.#settled.set(id, epoch);
    // (Not a change still being committed: the map holds no undefined.)
    this.#view.dropChanges((change) => this.#settled.get(change.opId as string) === epoch);
    if (post) this.#post({ rows: [], deleted: [], settled: opIds as string[], aliases: [] });
  }

  /**
   * Resolve the stored conflicts with the server's rows as last pulled (one run at a time). Lazy
   * (most apps never see a refused write), but loaded here, after a pull or an answer — online —
   * even with nothing to resolve: its other rare paths (a feed failure, a discard, a tab's lost
   * message) can come when the network is gone.
   */
  #resolveConflicts(): Promise<void> {
    // (Cut off by dispose: nothing to report, the next start resolves it.)
    this.#resolving = this.#resolving
      .then(async () => (await import('./conflicts.js')).resolveStoredConflicts<R>(this.#host()))
      .catch((error: unknown) => {
        if (!this.#signal.aborted) this.#logger.warn('could not resolve a conflict', error);
      });
    return this.#resolving;
  }

  /** What conflicts.ts needs (see ConflictHost). */
  #host(): ConflictHost<R> {
    return [
      this.#options,
      this.#cache as RowCache<R>,
      this.#sync as SyncLike,
      this.#view,
      this.#events,
      this.#applied,
      (...change) => this.#write(...change),
      // (Refused as update() refuses a patch: the merge function's error says whose it is.)
      (fields) => this.#checkFields(fields, 'update'),
      this.#signal,
      this.#lastError,
      this.#logger,
      (message) => {
        this.#applyRows(message, true);
        this.#post(message);
      },
    ];
  }

  // --- the outbox, across tabs ---------------------------------------------------------------------

  #changesOf(operations: ReadonlyArray<QueuedOperation | { unreadable: true }>): Change[] {
    const changes: Change[] = [];
    // An unreadable record has no kind: not ours.
    for (const { id: opId, kind, meta, body } of operations as QueuedOperation[]) {
      const type = this.#typeOf(kind);
      const { id, clock } = (meta ?? {}) as Partial<ChangeMeta>;
      if (!type || typeof id !== 'string') continue;
      // (Not a stamp — not a string included —: 'invalid' to receive(), nothing adopted.)
      this.#clock.receiveStamp(clock as string);
      changes.push({ opId, type, id, data: isRecord(body) ? body : undefined });
    }
    return changes;
  }

  /** List the outbox again and show what it holds (another tab wrote, an op was retried…). */
  #relist(): void {
    if (this.#relists++) return;
    (async () => {
      do {
        this.#relists = 1;
        const since = this.#epoch;
        let operations: Awaited<ReturnType<SyncLike['pending']>>;
        try {
          operations = await (this.#sync as SyncLike).pending();
        } catch (error) {
          // (After dispose(), the listing refused is no failure: nothing more is shown.)
          if (!this.#signal.aborted) this.#logger.warn('could not list the outbox', error);
          return;
        }
        if (this.#signal.aborted) return;
        this.#showListed(this.#changesOf(operations), since);
      } while (this.#relists > 1);
    })().finally(() => {
      this.#relists = 0;
    });
  }

  #showListed(listed: Change[], since: number): void {
    const now = Date.now();
    const listedIds = new Set(listed.map((change) => change.opId));
    // Answered or refused while we listed: gone, whatever the listing says.
    const shown = listed.filter((change) => !((this.#settled.get(change.opId as string) as number) > since));
    let waiting = false;
    // Timed out (below): one read of the cache for all of them.
    const late: Change[] = [];
    for (const change of this.#view.changeList) {
      const { opId } = change;
      if (listedIds.has(opId)) continue;
      if (!opId || (change.commitEpoch as number) > since) {
        shown.push(change); // still being committed, or committed after the listing began
        continue;
      }
      if (this.#settled.has(opId)) continue;
      // It left the outbox and this tab did not see the answer: another tab sent it. Keep it
      // until that tab's message brings the row, or a moment passes: then the rows are read, and
      // it is shown until they are (catchUp), so its row never shows its older version meanwhile.
      change.settleBy ??= now + settleWaitMs;
      shown.push(change);
      if (change.settleBy > now) waiting = true;
      else late.push(change);
    }
    if (late[0]) void import('./conflicts.js').then((module) => module.catchUp(this.#host(), late));
    shown.sort(order);
    this.#view.setChanges(shown);
    // Settled before this listing began: no listing shows them again (a retried one is listed),
    // and no change refers to them — unless one is still being committed (its answer may come
    // before queue() resolves: see #write). Forgotten, or the map would grow for ever.
    if (shown.every((change) => change.opId))
      for (const [opId, epoch] of this.#settled) if (epoch <= since) this.#settled.delete(opId);
    if (waiting)
      this.#waitTimer ??= unref(
        setTimeout(() => {
          this.#waitTimer = undefined;
          this.#relist();
        }, settleWaitMs),
      );
  }

  /**
   * Show an answer's rows (this tab's or another's) or a pull page (this tab's, `more` before its
   * last page, or another's). Returns true when it left out an answer's row that a pull saw
   * deleted: the answer may be older than the deletion, or may have brought the row back under
   * last writer wins; only the feed can tell (the caller pulls), in every tab alike.
   */
  #applyRows(message: RowsMessage<R>, more?: boolean): boolean | undefined {
    const page = !message.settled[0];
    let doubt: boolean | undefined;
    publish(() => {
      for (const [tempId, serverId] of message.aliases) this.#view.addAlias(tempId, serverId);
      for (const id of message.deleted) this.#fed.set(id, null);
      message.rows = message.rows.filter((row) => {
        const id = row[this.#options.key] as string;
        // (Map#set and Set#add return what they change: kept.)
        if (page) return this.#fed.set(id, row.version);
        // (An answer has one row.)
        doubt = this.#fed.get(id) === null;
        // (A pull running: see #pullPages. Before any request, it would be forgotten at the first.)
        return !doubt && (!this.#pulling || this.#answered.add(id));
      });
      // (A page's rows were parsed for this view alone: frozen, not copied.)
      this.#view.confirmRows(message.rows, message.deleted, !more, page);
      this.#settle(message.settled);
      // The last page of another tab's pull: this tab shows its rows, so its time too.
      if (message.t) this.#lastPulledAt.value = message.t;
    });
    // (Once the rows are shown: a handler reads them. Another tab's too: told once, never decided again.)
    if (message.c) this.#events.emit('conflict', message.c);
    return doubt;
  }

  #post(message: Message): void {
    try {
      // As JSON text: cloning one string costs a tenth of cloning a page of row objects.
      this.#channel?.postMessage(JSON.stringify(message));
    } catch {} // closed by dispose: no tab to tell
  }

  // --- pulls ----------------------------------------------------------------------------------------

  /** A pull started by a trigger: only online, one at a time, skipped when another tab pulls. */
  #autoPull(): void {
    const sync = this.#sync as SyncLike;
    // Not while the outbox is paused after a 401 (of a pull or of a write): each pull would get
    // another, and another 'unauthorized' event. Leaving 'paused' pulls (see init).
    if (
      !this.#online.peek() ||
      this.#signal.aborted ||
      (sync.status.peek() === 'paused' &&
        [this.#lastError, sync.lastError].some((error) => error.peek()?.status === 401))
    )
      return;
    // The running pull may have asked before what set this off: it pulls again once done
    // (`isPulling` stays true in between: see #pull).
    if (this.#pulling) this.#pullAgain = true;
    else this.#pull(true).catch(noop); // reported in lastError, retried with backoff
  }

  /** (Only when no pull runs: #autoPull and pull() make sure.) */
  #pull(automatic: boolean): Promise<void> {
    const run = (async () => {
      clearTimeout(this.#retryTimer);
      try {
        const lock = this.#lock as Lock;
        let ran: unknown;
        await lock('pull', () => (ran = this.#pullPages()), { ifAvailable: true });
        // Another tab pulls: once it is done, show the rows it stored (its messages can be lost,
        // and the cursor it stored is past them), then pull (pull() only). Waiting stops at dispose.
        if (!ran)
          await lock(
            'pull',
            async () => {
              await (await import('./page.js')).reread(this.#host(), this.#writes, () => this.#epoch);
              if (!automatic) await this.#pullPages();
            },
            { signal: this.#signal },
          );
        this.#pullFailures = 0;
        await this.#resolveConflicts();
      } catch (error) {
        // Cut off by dispose() (waiting for another tab's pull, say): nothing to retry, nothing
        // to report (pull() rejects with app/disposed).
        if (!this.#signal.aborted) {
          // Fluxy's one backoff (the probe's and the outbox's): [w/10, w], w = 2 s doubling up to 60 s.
          this.#retryTimer = unref(
            setTimeout(() => this.#autoPull(), backoffDelay(++this.#pullFailures, 2000, 60_000, Math.random)),
          );
          // The feed's failures are reported as they happen (#failPull; such a collections/ error
          // comes back as it is); the rest here: rows that could not be stored (a full disk, a
          // database wiped), conflicts that could not be read. (pull() rejects with the
          // collection's error, the cause in it.)
          throw await this.#failPull(
            error,
            'collections/pull-failed',
            `pull of ${this.#options.url} failed: ${String(error)}.`,
          );
        }
        throw error;
      }
    })();
    this.#pulling = run.finally(() => {
      this.#pulling = undefined;
      if (this.#pullAgain) {
        this.#pullAgain = false;
        this.#autoPull();
      }
      // True from the pull's start until it is over (its refusals decided, as pull()
      // resolves), and on into the pull asked again unless it did not start (offline, paused,
      // disposed): no gap before a pull already due, in which settled() would resolve.
      publish(() => {
        this.#isPulling.value = !!this.#pulling;
      });
    });
    return this.#pulling;
  }

  async #pullPages(): Promise<void> {
    const startedAt = Date.now();
    publish(() => {
      this.#isPulling.value = true;
    });
    try {
      const { cursor } = await (this.#cache as RowCache<R>).readMeta(); // another tab may have pulled meanwhile
      const next = this.#fetchPage(cursor, 1);
      // The rest — paging, storing, showing — is in the lazy page chunk, which the first page's
      // check loaded: a pull whose first request fails loads nothing.
      if (await next)
        await (await import('./page.js')).pullPages(
          [
            this.#host(),
            (at, page) => this.#fetchPage(at, page),
            (message, more) => this.#applyRows(message, more),
            (message) => this.#post(message),
            this.#answered,
            this.#clock,
            this.#lastPulledAt,
            () => {
              this.#lastRequest = this.#requests;
            },
          ],
          cursor,
          next,
          startedAt,
        );
    } finally {
      // (isPulling goes false once the whole pull is over: see #pull.)
      publish(() => this.#view.publishRows());
    }
  }

  /** One page of the changes feed, checked; undefined once disposed. */
  async #fetchPage(cursor: string, page: number): Promise<PulledPage<R> | undefined> {
    if (this.#signal.aborted) return undefined;
    this.#requests++;
    this.#answered.clear();
    // No change pending (nor waiting for another tab's answer): what the feed said can judge no
    // answer any more — one to a change sent from now on is newer than it. (In the tab that
    // sent a change, its answer is stored in the step its 'sent' event is handled in.)
    if (!this.#view.changeList.length) this.#fed.clear();
    let answer: { status: number; body: unknown };
    try {
      answer = await (this.#sync as SyncLike).read(
        // (The url has no query: the options refuse one.)
        `${this.#options.url}?since=${encodeURIComponent(cursor)}`,
        { signal: this.#signal }, // set by init, before any pull
      );
    } catch (cause) {
      if (this.#signal.aborted) return undefined;
      throw await this.#failPull(
        cause,
        'collections/pull-failed',
        `pull of ${this.#options.url} got no answer (page ${page}): ${String(cause).replace(/\.$/, '')}.`,
      );
    }
    // Checked in the lazy page chunk, loaded by the first answer (so the network is there): a
    // changes page, or a failure reported — not 2xx (a 401: sync.read() paused the outbox and
    // emitted 'unauthorized', as for a write's; see #autoPull), not a page. A 410 to the first
    // page asked for since a stored cursor: the cursor is gone, pulled again from the first page.
    const { checkAnswer } = await import('./page.js');
    return this.#signal.aborted
      ? undefined
      : checkAnswer(this.#host(), answer, cursor, page, () => this.#fetchPage('', page));
  }

  /**
   * Report a failure of the feed that is no answer — the read failed (`cause`), or the rows could
   * not be stored — (conflicts.ts: a rare path); the error to throw (see failPull). The message
   * last: the production build drops it (failPull takes '').
   */
  async #failPull(cause: unknown, code: CollectionsErrorCode, message?: string): Promise<FluxyError> {
    // (Not awaited: returned, as in no try block.)
    return (await import('./conflicts.js')).failPull(
      this.#host(),
      code,
      message,
      cause,
    ) as Promise<FluxyError>;
  }
}

/** Committed changes in queue order (operation ids sort so), then the ones being committed, in call order. */
function order(a: Change, b: Change): number {
  // (Both not committed yet: a listed change has an operation id of its own.)
  if (a.opId === b.opId) return (a.callOrder as number) - (b.callOrder as number);
  return !a.opId || (b.opId && a.opId > b.opId) ? 1 : -1;
}

function isRecord(value: unknown): value is Row {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * An answer's row: a JSON object whose `key` holds a non-empty string, or a number (a SQL
 * serial), which is turned into its string as Sync's serverId is (`1` → `'1'`); else undefined.
 * (The feed's rows are checked in page.ts.)
 */
function rowOf(value: unknown, key: string): Row | undefined {
  // A version the If-Match of a later change could not carry (a CR, an LF…: see page.ts's
  // sendableVersion) is refused: taken as an answer without the row (the pull that follows tells).
  // (A tab, the printable ASCII ` -~` and U+0080–U+00FF are what a header carries.)
  const id = isRecord(value) && !/[^\t -~\x80-\xff]/.test(value.version as string) && value[key];
  // (JSON has no NaN nor Infinity.)
  if (typeof id === 'number') return { ...(value as Row), [key]: `${id}` };
  if (typeof id === 'string' && id) return value as Row;
}

/**
 * How a refusal of fields names what it refuses (development messages only: the production build
 * has no call of it, and drops it): the field at `path` as checkJson gives it (`.title`,
 * `.tags[2]`) under the argument's name (`patch.title`, `fields.title`), or `root` for the value
 * itself ('' path): `the patch`, `the row` (an insert's fields).
 */
function fieldAt(path: string, argument: string, root: string): string {
  return path ? `${argument}${path}` : root;
}

/**
 * What a getter, toJSON() or Proxy trap of refused fields threw, for a development message (as
 * core's describeValue, which imported here would leave an import of its module in the
 * production build, which has no call of it: this is dropped with the prose).
 */
function describeError(error: unknown): string {
  try {
    return error instanceof Error ? String(error.message) : String(error);
  } catch {
    return 'an unprintable value';
  }
}

function noop(): void {}

/** A timer that does not keep Node's event loop running. */
function unref<T>(timer: T): T {
  (timer as { unref?: () => void }).unref?.();
  return timer;
}
