import type { ReadonlySignal } from '@preact/signals-core';
import { EventBus } from '../../core/events.js';
import type { Logger } from '../../core/logger.js';
import type { ResolvedRetryOptions } from './backoff.js';
import type { ChangeChannel } from './change-channel.js';
import type { TabLeader } from './leader.js';
import { Outbox, type OutboxStorage } from './outbox.js';
import { OutcomeLog } from './outcomes.js';
import { QueueLists } from './queue-lists.js';
import { ReadAhead } from './read-ahead.js';
import { StatusSignals, type StatusSource, type SyncSignals } from './status-signals.js';
import type { SyncEvents } from './sync-events.js';
import { TempIds } from './temp-ids.js';
import type { TransportOptions } from './transport.js';

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
  /** The status signals to write (the plugin's, made before init); fresh ones when absent. */
  signals?: SyncSignals;
  /** Where events go (the plugin's bus, so handlers added before init stay). */
  events?: EventBus<SyncEvents>;
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
 * The engine's parts, built from its dependencies by {@link createParts} and shared by the engine,
 * the flush loop and the queue edits.
 */
export interface SyncParts {
  readonly deps: SyncEngineDeps;
  readonly outbox: Outbox;
  readonly readAhead: ReadAhead;
  readonly lists: QueueLists;
  readonly status: StatusSignals;
  readonly tempIds: TempIds;
  readonly outcomes: OutcomeLog;
  readonly events: EventBus<SyncEvents>;
}

/**
 * Build the engine's parts: the outbox and its read-ahead, the in-memory lists (announcing their
 * changes on the channel), the status signals, the temporary ids and the outcome log. `holds` and
 * `isLive` tell the status what only the engine knows.
 */
export function createParts(deps: SyncEngineDeps, engine: Pick<StatusSource, 'holds' | 'isLive'>): SyncParts {
  const outbox = new Outbox(deps.storage);
  const readAhead = new ReadAhead(outbox);
  const lists = new QueueLists(
    (message) => deps.channel.post(message),
    (id) => readAhead.drop(id),
  );
  const events =
    deps.events ??
    new EventBus<SyncEvents>((event, error) => deps.logger.error(`a "${event}" handler threw`, error));
  const status = new StatusSignals(
    {
      lists,
      channel: deps.channel,
      events,
      isLeader: () => deps.leader.isLeader.peek(),
      isOnline: () => deps.connectivity.isOnline.peek(),
      holds: engine.holds,
      isLive: engine.isLive,
    },
    deps.signals,
  );
  return {
    deps,
    outbox,
    readAhead,
    lists,
    status,
    tempIds: new TempIds(deps.storage, deps.now),
    outcomes: new OutcomeLog(deps.storage, deps.logger),
    events,
  };
}
