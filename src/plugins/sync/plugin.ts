import type { ReadonlySignal } from '@preact/signals-core';
import { FluxyPlugin } from '../../core/base-plugin.js';
import { FluxyError, invalidArgument } from '../../core/errors.js';
import { EventBus, type Unsubscribe } from '../../core/events.js';
import { checkOptions, describeInput } from '../../core/input-checks.js';
import type { Logger } from '../../core/logger.js';
import type { BroadcastChannelLike, LockManagerLike } from '../../core/platform-types.js';
import type { PluginContext } from '../../core/plugin.js';
import { effect, untracked } from '../../core/signals-core.js';
import { ChangeChannel, type SyncProgress, type SyncStatus } from './change-channel.js';
import type { FlushSummary } from './engine.js';
import { createSyncSignals, SyncEngine } from './engine.js';
import { type Coordination, TabLeader } from './leader.js';
import type { Operation, OperationError, UnreadableOperation } from './operation.js';
import {
  originPolicy,
  type ResolvedSyncOptions,
  resolveOperationUrl,
  resolveSyncOptions,
  type SyncOptions,
} from './options.js';
import type { OutboxStorage } from './outbox.js';
import type { OutcomeHandlers } from './outcomes.js';
import type { ListOptions } from './queue-lists.js';
import {
  checkHeaderRecord,
  type HttpMethod,
  type OperationDraft,
  prepareOperation,
  type QueueOptions,
} from './request-validation.js';
import type { SyncEvents } from './sync-events.js';

interface StorageLike {
  namespace(prefix: string): OutboxStorage;
  readonly databaseName?: string;
  /** Set once the database was found wiped (fluxy/storage's `storage.lost`). */
  readonly lost?: ReadonlySignal<{ readonly when: 'between-runs' | 'while-running' } | null>;
}
interface ConnectivityLike {
  readonly isOnline: ReadonlySignal<boolean>;
  reportFailure(): void;
  readonly reason?: ReadonlySignal<string>;
  readonly lastChangedAt?: ReadonlySignal<number>;
}
/** A queue() call (with its draft), or a clearQueue() call (without), made before init. */
interface Waiting {
  draft: OperationDraft | undefined;
  resolve(value: Operation | number): void;
  reject(error: unknown): void;
}

/**
 * The durable, ordered outbox. Queue HTTP writes instead of sending them; they are committed to
 * storage at once and sent one at a time, in order, when the device is online — each with an
 * `Idempotency-Key` that stays the same across retries and restarts.
 *
 * Depends on the `storage` and `connectivity` plugins.
 *
 * @example
 * register(new StoragePlugin({ secret }));
 * register(new ConnectivityPlugin());
 * const sync = register(new SyncPlugin({ baseUrl: '/api' }));
 * await sync.queue('POST', '/notes', { body: { title: 'Hello' } });
 * effect(() => console.log(`${sync.pendingCount.value} pending`));
 */
export class SyncPlugin extends FluxyPlugin {
  /** The plugin name: `use('sync')`. */
  readonly name = 'sync';
  /** Initialised after these. */
  readonly dependencies = ['storage', 'connectivity'] as const;

  /** What `queue()` and `read()` check against: the size limits, how URLs are resolved, the origins allowed; with the resolved options, which `read()` sends with. */
  readonly #limits: ResolvedSyncOptions &
    Parameters<typeof prepareOperation>[3] & { connectivity?: ConnectivityLike };
  #engine: SyncEngine | undefined;
  /** pause() / resume() before the engine started (then applied to it); the engine once made. */
  #paused = false;
  #made: SyncEngine | undefined;
  /** `read()`'s sender, once loaded. */
  #sendRead: typeof import('./read-request.js').sendRead | undefined;
  /** Written by the engine once init made it; they keep their last values after dispose (the ops are still stored). */
  readonly #signals = createSyncSignals();
  readonly #events: EventBus<SyncEvents>;
  #logger: Logger | undefined;
  readonly #waiting: Waiting[] = [];
  readonly #handlers = new Set<[kind: string, handlers: OutcomeHandlers, off?: () => void]>();
  #coordination: Coordination | undefined;

  /** True while operations are being sent (in whichever tab is the flusher). */
  declare readonly isSyncing: ReadonlySignal<boolean>;
  /** Operations waiting to be sent, true to storage. */
  declare readonly pendingCount: ReadonlySignal<number>;
  /** Operations that failed for good (the dead-letter list). */
  declare readonly failedCount: ReadonlySignal<number>;
  /** `idle` | `syncing` | `offline` | `paused` | `error` — see {@link SyncStatus}. */
  declare readonly status: ReadonlySignal<SyncStatus>;
  /**
   * The last failure: the head's retryable error until the next success, or else the error that
   * moved an operation to failed, kept until that operation is retried or discarded or the queue
   * is cleared (a later success does not hide it). `null` when neither.
   */
  declare readonly lastError: ReadonlySignal<OperationError | null>;
  /** `{ total, done }` of the current flush. */
  declare readonly progress: ReadonlySignal<SyncProgress>;

  /** @param options - see {@link SyncOptions}; validated now (`sync/invalid-options`). */
  constructor(options?: SyncOptions) {
    super();
    // The status signals declared above (no field code): the ones the engine writes.
    Object.assign(this, this.#signals);
    const resolved = resolveSyncOptions(options);
    this.#limits = {
      ...resolved,
      resolveUrl: (url) => resolveOperationUrl(url, resolved.baseUrl),
      isAllowedOrigin: originPolicy(resolved.baseUrl, resolved.allowedOrigins),
    };
    // A throwing `sync.on` handler does not stop the others; its error is logged (once init gave a logger).
    this.#events = new EventBus<SyncEvents>((event, error) =>
      this.#logger?.error(`a "sync.on('${event}')" handler threw`, error),
    );
  }

  /** How tabs agree on one flusher: `'web-locks'`, or `'none'` (Node, plain-http pages). Known after init. */
  get coordination(): Coordination | undefined {
    return this.#coordination;
  }

  /** @internal */
  override async init(ctx: PluginContext): Promise<void> {
    const storage = ctx.use('storage') as unknown as StorageLike;
    const connectivity = ctx.use('connectivity') as unknown as ConnectivityLike;
    if (
      typeof storage.namespace !== 'function' ||
      !connectivity.isOnline ||
      typeof connectivity.reportFailure !== 'function'
    ) {
      // One throw (the production build drops the conditional: its condition has no effect).
      throw new FluxyError(
        'plugin/init-failed',
        typeof storage.namespace !== 'function'
          ? 'The "storage" plugin has no namespace(): register a StoragePlugin from fluxy/storage.'
          : 'The "connectivity" plugin lacks isOnline/reportFailure: register a ConnectivityPlugin from fluxy/connectivity.',
      );
    }
    this.#logger = ctx.logger;
    const options = this.#limits;
    // For read(): a GET that gets no answer tells connectivity, as a send does (read-request.ts).
    options.connectivity = connectivity;
    const fetchFunction = options.fetch ?? (globalThis.fetch?.bind(globalThis) as SyncOptions['fetch']);
    if (!fetchFunction)
      throw new FluxyError('plugin/init-failed', 'No fetch is available: pass SyncPlugin({ fetch }).');
    const name = `fluxy-sync:${storage.databaseName ?? 'fluxy'}:${options.namespace}`;
    const platformLocks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
    const leader = new TabLeader(
      options.locks === false ? undefined : (options.locks ?? platformLocks),
      name,
    );
    const Channel = (globalThis as { BroadcastChannel?: new (name: string) => BroadcastChannelLike })
      .BroadcastChannel;
    const channel = new ChangeChannel(Channel ? (channelName) => new Channel(channelName) : undefined, name);
    this.#coordination = leader.coordination;
    if (leader.coordination === 'none') {
      ctx.logger.info(
        'Web Locks are not available: this instance flushes on its own (idempotency keys keep a second sender harmless) without the lock',
        name, // all the production build keeps
      );
    }
    const engine = new SyncEngine({
      storage: storage.namespace(options.namespace),
      connectivity,
      transport: {
        ...options,
        fetch: fetchFunction,
        setTimer: (callback, ms) => setTimeout(callback, ms),
        clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
      },
      retry: options.retry,
      intervalMs: options.intervalMs,
      leader,
      channel,
      logger: ctx.logger,
      now: options.now,
      random: options.random,
      randomBytes: (bytes) => globalThis.crypto.getRandomValues(bytes),
      events: this.#events,
      signals: this.#signals,
      serverId: options.serverId,
      batch: options.batch,
    });
    for (const entry of this.#handlers) entry[2] = engine.handle(entry[0], entry[1]);
    ctx.onDispose(() => engine.dispose());
    const lost = storage.lost;
    if (lost) {
      ctx.onDispose(
        effect(() => {
          const loss = lost.value;
          if (loss) untracked(() => engine.storageLost(loss.when));
        }),
      );
    }
    this.#made = engine;
    if (this.#paused) engine.pause();
    await engine.start();
    const document = (globalThis as { document?: Document }).document;
    if (document?.addEventListener) {
      document.addEventListener(
        'visibilitychange',
        () => document.visibilityState === 'visible' && engine.wake(),
        {
          signal: ctx.signal,
        },
      );
      // A page can lose the network after it started: fetch now, while it can, the chunks an
      // offline discard(), Blob body or temporary id needs (not awaited; tried again online). The
      // outcome log is left to its first use: an answer, so the network is there.
      let warm = false;
      ctx.onDispose(
        effect(() => {
          if (connectivity.isOnline.value && !warm) {
            warm = true;
            Promise.all([
              import('./queue-edits.js'),
              import('./binary-body.js'),
              import('./temp-ids.js'),
            ]).catch(() => {
              warm = false;
            });
          }
        }),
      );
    }
    // Set the engine and hand it the calls made before init, in call order, so ids follow it.
    this.#engine = engine;
    for (const waiting of this.#waiting.splice(0))
      (waiting.draft ? engine.enqueue(waiting.draft) : engine.clearQueue()).then(
        waiting.resolve,
        waiting.reject,
      );
  }

  /** @internal */
  dispose(): void {
    this.#engine = undefined;
    for (const waiting of this.#waiting.splice(0)) {
      waiting.reject(new FluxyError('app/disposed', 'The app was disposed before the operation was stored.'));
    }
  }

  /**
   * Validate and store an operation; resolves once it is committed to storage (so it survives a
   * reload from that moment), then sends it when online. Works before `ready()`.
   * Rejects with a `sync/*` FluxyError for bad input, storing nothing.
   *
   * @example await sync.queue('PATCH', `/notes/${id}`, { body: { title }, meta: { previous } });
   */
  queue(method: HttpMethod | Lowercase<HttpMethod>, url: string, options?: QueueOptions): Promise<Operation> {
    let draft: OperationDraft;
    try {
      draft = prepareOperation(method, url, options, this.#limits);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#engine?.enqueue(draft) ?? this.#later(draft);
  }

  /** A queue() (`draft`) or clearQueue() call before init: made by init, in call order. */
  #later<T extends Operation | number>(draft?: OperationDraft): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const waiting: Waiting = { draft, resolve: resolve as Waiting['resolve'], reject };
      this.#waiting.push(waiting);
      this.whenReady().catch((error: unknown) => {
        const index = this.#waiting.indexOf(waiting);
        if (index >= 0) {
          this.#waiting.splice(index, 1);
          reject(error);
        }
      });
    });
  }

  /**
   * Send a GET now — not queued — with this plugin's `baseUrl`, `headers` option (evaluated now,
   * given a pseudo-operation with `kind: 'read'`), `fetch` and `timeoutMs`: for reads that must
   * carry the same credentials as the queued writes (collections pull with it). Resolves with the
   * status and the parsed JSON body (or text) of any answer; rejects with `sync/network-error`
   * (no answer, a timeout or an abort: connectivity's `reportFailure()` hears of the first two, as
   * of a send's) or `sync/headers-failed`. A 401 answer pauses the queue and emits `'unauthorized'`
   * (its `operation` the read's pseudo-operation, `kind: 'read'`), as a write's 401 does. Bad URLs get `sync/invalid-url`,
   * a URL on an origin that is not allowed `sync/origin-not-allowed` (see `allowedOrigins`). A
   * redirect is never followed (the headers option would go to its target): it rejects with
   * `sync/redirected`, same origin or not. `options` other than `{ signal? }` with an AbortSignal
   * (a typo, `null`, a number) reject with `sync/invalid-options`, sending nothing; an aborted
   * signal sends nothing (`sync/network-error`).
   *
   * @example const { status, body } = await sync.read('/notes?since=');
   */
  async read(
    url: string,
    options?: { signal?: AbortSignal | undefined },
  ): Promise<{ status: number; body: unknown }> {
    // Loaded at the first read (collections pull with it): off the start-up path of an app without.
    // Later reads are sent in this very call, without waiting a turn: a pull asks for its next
    // page before it stores the last one, and the request must not wait for that work.
    if (!this.#engine || !this.#sendRead) {
      await this.#ready();
      this.#sendRead = (await import('./read-request.js')).sendRead;
    }
    return this.#sendRead(
      url,
      this.#limits,
      prepareOperation,
      options,
      FluxyError,
      checkOptions,
      checkHeaderRecord,
      () => this.#engine,
    );
  }

  /** Send what is pending now (joins a running flush). Resolves with `{ sent, failed, remaining }`. */
  async flush(): Promise<FlushSummary> {
    return (await this.#ready()).flush();
  }

  /**
   * The pending operations, in send order — all of them, or a page (`{ limit, after }`, see
   * {@link ListOptions}). Records are read a few at a time, so even a long queue does not open
   * every record at once; page through a long one to keep memory flat.
   *
   * @example const first = await sync.pending({ limit: 50 });
   */
  pending(options?: ListOptions): Promise<Array<Operation | UnreadableOperation>> {
    return this.#list('pending', options);
  }

  /** The failed operations (the dead-letter list), oldest first — all, or a page (`{ limit, after }`). */
  failed(options?: ListOptions): Promise<Array<Operation | UnreadableOperation>> {
    return this.#list('failed', options);
  }

  /**
   * Put a failed operation (or all of them) back in the queue, keeping its id and Idempotency-Key;
   * for a pending one waiting for its backoff, try now. Resolves with how many were affected.
   */
  async retry(id?: string): Promise<number> {
    if (id !== undefined) checkId(id, 'retry');
    return (await this.#ready()).retry(id);
  }

  /** Remove an operation for good. Resolves false when it was no longer queued (e.g. already sent). */
  async discard(id: string): Promise<boolean> {
    checkId(id, 'discard');
    return (await this.#ready()).discard(id);
  }

  /**
   * Remove every pending and failed operation (e.g. on logout) queued before this call — once
   * those still being written (a Blob or FormData body) are stored — and none queued after it.
   * Resolves with how many.
   */
  clearQueue(): Promise<number> {
    // The cut is taken now (before init: in call order with the queue() calls waiting for it).
    return this.#engine?.clearQueue() ?? this.#later();
  }

  /**
   * Stop sending (in the tabs open now) after the request in flight, until `resume()`. The pause
   * is in memory: a tab opened later and a reload do not hold it — call it before `app.ready()`
   * at every start (then nothing is sent from the start: an app that waits for a login). Throws
   * `app/disposed` once the app was disposed.
   */
  pause(): void {
    this.throwIfDisposed('pause');
    this.#paused = true;
    this.#made?.pause();
  }

  /**
   * Resume sending, e.g. after re-authenticating following an `'unauthorized'` event. Throws
   * `app/disposed` once the app was disposed.
   */
  resume(): void {
    this.throwIfDisposed('resume');
    this.#paused = false;
    this.#made?.resume();
  }

  /**
   * Listen to an event; returns the unsubscribe function. Handlers added before init are kept.
   *
   * @example const off = sync.on('sent', ({ operation, response }) => reconcile(operation, response));
   */
  on<K extends keyof SyncEvents>(event: K, handler: (payload: SyncEvents[K]) => void): Unsubscribe {
    this.throwIfDisposed('on');
    const known: ReadonlyArray<keyof SyncEvents> = [
      'sent',
      'failed',
      'retry',
      'unauthorized',
      'discarded',
      'change',
    ];
    if (!known.includes(event)) {
      throw invalidArgument(`sync.on(): unknown event "${String(event)}". Events: ${known.join(', ')}.`);
    }
    if (typeof handler !== 'function')
      throw invalidArgument('sync.on(event, handler): handler must be a function.');
    return this.#events.on(event, handler);
  }

  /**
   * Handle the outcomes of one kind of operation (`queue(…, { kind })`): `sent` with the server's
   * response (and `serverId` for a create with a `tempId`), `failed` with the error — e.g. to
   * reconcile ids or roll an optimistic update back. Register at bootstrap, before `ready()`, in
   * every tab. Runs once per outcome, in the tab that flushes. Outcomes are stored until a
   * handler of their kind ran, so it also runs for outcomes that arrived before it was registered,
   * after a reload, in another tab's session or on the next start (at most 500 wait; the oldest
   * are dropped past that). A crash while it runs makes it run again (at least once).
   *
   * @example
   * sync.handle('note.create', {
   *   sent: ({ operation, serverId }) => notes.confirm(operation.tempId, serverId),
   *   failed: ({ operation }) => notes.forget(operation.id),
   * });
   */
  handle(kind: string, handlers: OutcomeHandlers): Unsubscribe {
    this.throwIfDisposed('handle');
    if (typeof kind !== 'string' || kind === '') {
      throw invalidArgument('sync.handle(kind, handlers): kind must be a non-empty string.');
    }
    const invalid = (problem: string) =>
      invalidArgument(
        `sync.handle(kind, handlers): handlers ${problem}: { sent?(outcome), failed?(outcome) } with at least one of them, and no other keys. An outcome waits in storage until a handler with its callback is registered.`,
      );
    const { sent, failed } = checkOptions(handlers, ['sent', 'failed'], invalid);
    if (
      !(sent || failed) ||
      [sent, failed].some((given) => given !== undefined && typeof given !== 'function')
    )
      throw invalid('must have sent or failed, each a function');
    const entry: [string, OutcomeHandlers, (() => void)?] = [kind, handlers];
    this.#handlers.add(entry);
    const engine = this.#engine;
    if (engine) entry[2] = engine.handle(kind, handlers);
    return () => {
      this.#handlers.delete(entry);
      entry[2]?.();
    };
  }

  /**
   * The server id that replaced a `tempId`, once its create succeeded (undefined before) — and
   * undefined again once the mapping is forgotten: at least 10 minutes after the create, when no
   * operation can need it (docs/sync.md, "When a temporary id is forgotten").
   */
  async resolveId(tempId: string): Promise<string | undefined> {
    if (typeof tempId !== 'string') {
      throw invalidArgument('sync.resolveId(tempId): tempId must be a string.');
    }
    return (await this.#ready()).resolveId(tempId);
  }

  /** `pending()`/`failed()`: the options checked (by queue-edits.ts, loaded now), then the list read. */
  async #list(
    list: 'pending' | 'failed',
    options: ListOptions | undefined,
  ): Promise<Array<Operation | UnreadableOperation>> {
    const page = (await import('./queue-edits.js')).checkListOptions(options, list, FluxyError, checkOptions);
    return (await this.#ready())[list](page);
  }

  async #ready(): Promise<SyncEngine> {
    await this.whenReady();
    const engine = this.#engine;
    if (!engine) throw new FluxyError('app/disposed', 'The sync plugin was disposed: create a new app.');
    return engine;
  }
}

/** The id `retry(id)` and `discard(id)` take: a non-empty string (an operation's id). */
function checkId(id: unknown, method: 'retry' | 'discard'): void {
  if (typeof id !== 'string' || id === '') {
    throw invalidArgument(`sync.${method}(id): id must be a non-empty string (got ${describeInput(id)}).`);
  }
}
