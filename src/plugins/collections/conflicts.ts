import type { EventBus } from '../../core/events.js';
import type { RowCache } from './cache.js';
import type {
  ChangeMeta,
  CollectionEvents,
  ConflictEvent,
  ConflictResolution,
  SyncLike,
} from './collection.js';
import type { ResolvedCollectionOptions, Row } from './options.js';
import type { Change, RowView } from './view.js';

/** What resolving needs from its collection. @internal */
export interface ConflictHost<R extends Row> {
  options: ResolvedCollectionOptions<R>;
  cache: RowCache<R>;
  sync: SyncLike;
  view: RowView<R>;
  events: EventBus<CollectionEvents<R>>;
  /** Queue a change again (it carries the id of the operation it resolves). */
  write(
    type: Change['type'],
    id: string,
    data: Row | undefined,
    base: R | null,
    resolves: string,
  ): Promise<unknown>;
  checkFields(fields: unknown): Row;
}

/**
 * Settle the writes the server refused with 412 (or 404/410), stored as `x/<opId>` when they were
 * refused: decide from the server's row as last pulled, resend or drop, discard the refused
 * operation, forget the record, report. Loaded on first use (a lazy chunk). See docs/conflicts.md.
 * @internal
 */
export async function resolveStoredConflicts<R extends Row>(
  stored: ReadonlyArray<[operationId: string, status: number]>,
  host: ConflictHost<R>,
): Promise<void> {
  const { cache, sync, view, options } = host;
  const failed = new Map((await sync.failed()).map((operation) => [operation.id, operation]));
  let pending: Awaited<ReturnType<SyncLike['pending']>> | undefined;
  for (const [operationId, status] of stored) {
    const operation = failed.get(operationId);
    if (!operation || 'unreadable' in operation) {
      await cache.removeConflict(operationId); // retried or discarded meanwhile
      continue;
    }
    const meta = operation.meta as ChangeMeta;
    const type = operation.kind?.split('.').pop() as Change['type']; // a name has no dot
    const id = view.currentId(meta.id);
    const server = status === 412 ? (view.confirmed(id) ?? null) : null;
    const data = (operation.body ?? undefined) as Row | undefined;
    const local =
      type === 'remove' ? null : ({ ...(server ?? meta.baseRow ?? {}), ...data, [options.key]: id } as R);
    const strategy = options.conflict;
    let resolution: ConflictResolution = 'server-wins';
    let resend: Row | undefined | null = null; // null: nothing to send again
    if (server === null) {
      if (type !== 'remove') resolution = 'dropped'; // deleted on the server; a remove is done
    } else if (strategy === 'client-wins') {
      resolution = 'client-wins';
      resend = data;
    } else if (typeof strategy === 'function') {
      const patch = strategy({ local: local as R, server, base: (meta.baseRow ?? null) as R | null });
      resolution = patch === null ? 'dropped' : 'merged';
      if (patch !== null) resend = type === 'remove' ? undefined : host.checkFields(patch);
    }
    if (resend !== null) {
      pending ??= await sync.pending();
      const already = pending.some(
        (candidate) =>
          !('unreadable' in candidate) &&
          (candidate.meta as ChangeMeta | undefined)?.resolves === operationId,
      );
      if (!already) await host.write(type, id, resend, server, operationId);
    }
    await sync.discard(operationId);
    await cache.removeConflict(operationId);
    if (server === null) {
      view.confirmRows([], [id]);
      await cache.writePages([{ rows: [], deleted: [id] }]);
      if (type === 'remove') continue; // the row is gone, as asked
    }
    host.events.emit('conflict', { id, local, server, resolution, result: view.shownRow(id) ?? null });
  }
}

/**
 * The conflict an answer to an update or removal shows under last writer wins: a field the
 * server kept from a newer change elsewhere, or a removal answered with the row (kept). Loaded
 * on first use. @internal
 */
export function lostToLww<R extends Row>(
  operation: { kind?: string | undefined; body?: unknown },
  row: R,
  shownBefore: R | null,
  key: string,
): Omit<ConflictEvent<R>, 'result'> | undefined {
  const removed = operation.kind?.endsWith('.remove') === true;
  const sent = typeof operation.body === 'object' && operation.body !== null ? operation.body : {};
  const lost = Object.entries(sent).some(
    ([field, value]) => JSON.stringify(row[field]) !== JSON.stringify(value),
  );
  if (!removed && !lost) return undefined;
  return { id: row[key] as string, local: removed ? null : shownBefore, server: row, resolution: 'lww' };
}
