import type { Signal } from '@preact/signals-core';
import { FluxyError, publish } from '../../core/errors.js';
import type { EventBus } from '../../core/events.js';
import type { Logger } from '../../core/logger.js';
import type { RowCache } from './cache.js';
import type {
  AppliedWrite,
  ChangeMeta,
  CollectionError,
  CollectionEvents,
  ConflictResolution,
  FailedLike,
  QueuedOperation,
  RowsMessage,
  SentLike,
  SyncLike,
} from './collection.js';
import type { CollectionsErrorCode, ResolvedCollectionOptions, Row } from './options.js';
import type { Change, RowView } from './view.js';

/**
 * What resolving needs from its collection (a tuple: the names stay out of the main chunk). Row
 * id → the writes of this replica this tab saw applied; `write` queues a change again (it carries
 * the id of the operation it resolves); checkFields checks fields as insert() and update() do;
 * `signal` is aborted when the collection is disposed: resolving stops, what is left stays
 * stored for the next start; `lastError` and `logger` report a merge function that failed. @internal
 */
export type ConflictHost<R extends Row> = [
  options: ResolvedCollectionOptions<R>,
  cache: RowCache<R>,
  sync: SyncLike,
  view: RowView<R>,
  events: EventBus<CollectionEvents<R>>,
  applied: Map<string, AppliedWrite[]>,
  write: (
    type: Change['type'],
    id: string,
    data: Row | undefined,
    tempId: undefined,
    resolves: string,
    base: R | null,
  ) => Promise<unknown>,
  checkFields: (fields: unknown) => Row,
  signal: AbortSignal,
  lastError: Signal<CollectionError | null>,
  logger: Logger | undefined,
  /** Rows and deletions from the feed: shown (not published yet) and told to the other tabs. */
  show: (message: RowsMessage<R>) => void,
];

/**
 * Settle the writes the server refused with 412 (or 404/410), stored as `x/<opId>` when they were
 * refused: decide from the server's row as confirmed (the 412's, or as last pulled), resend or drop, discard the refused
 * operation, forget the record, report. A merge function that throws, or returns a patch update()
 * refuses, leaves its change failed: its refusal is forgotten, the error set in `lastError` and
 * warned, once. Loaded on first use (a lazy chunk). See docs/conflicts.md.
 *
 * A change made while an earlier change of its row was pending carries the version that one was
 * made on, so the server refuses it (412) for this replica's own change: when the writes of this
 * replica that this tab saw applied lead, one after the other, from that version to the
 * server's, nobody else wrote, and it is sent again on the server's version, with no conflict to
 * report. (That memory is stored, `w/<opId>`: it holds in another tab and after a restart.)
 * @internal
 */
export async function resolveStoredConflicts<R extends Row>(host: ConflictHost<R>): Promise<void> {
  const [options, cache, sync, view, , applied, , , signal] = host;
  // One tab at a time (a Web Lock): a tab that read the refusals while another decided them would
  // decide them again — send a change twice, run a merge function on its own merged patch. The
  // next one reads what is left. (Not the write lock: deciding may store rows, which may compact.)
  await cache.lock(
    'resolve',
    async () => {
      await storing.get(applied); // this tab's writes of `w/` records, in order before reading them
      // (Operation id → the status that refused it, checked below; with the refusals storage
      // could not keep, from this tab's memory — once each, in operation order: see storeRefusal.)
      const stored = await read(cache, 'x/');
      for (const kept of unstored.get(cache) ?? [])
        if (!stored.some(([operationId]) => operationId === kept[0])) stored.push(kept);
      stored.sort(([a], [b]) => (a < b ? -1 : 1));
      if (stored.length) {
        await recall(cache, applied);
        await resolve(stored, host);
      } else if (!view.changeList[0]) {
        // Nothing pending, nothing refused (also not waiting for its outcome handler: it is in
        // sync.failed() then): no refusal can start from a version these writes lead from.
        // Forgotten, so that they do not pile up. (The outbox's pending list too: a change
        // sync.retry() just moved there is not shown until it is listed, and its refusal may come
        // from a version a resend of it made — the memory that says it was resent.)
        const written = await read(cache, 'w/');
        if (
          written[0] &&
          ![...(await sync.pending()), ...(await sync.failed())].some((operation) =>
            isOurs((operation as QueuedOperation).url, options.url),
          )
        ) {
          applied.clear();
          for (const [operationId] of written) await cache.kv.remove(`w/${operationId}`);
        }
      }
    },
    { signal },
  );
}

/**
 * This replica's writes applied, as stored (see noteAnswer): in the memory of this tab too, so a
 * refusal made by one of them is no conflict after a restart or in another tab.
 */
async function recall(cache: RowCache<Row>, applied: Map<string, AppliedWrite[]>): Promise<void> {
  await storing.get(applied);
  for (const [, write] of await read(cache, 'w/')) {
    // (A record this version did not write — another version's, damaged — is skipped: it must not
    // stop the refusals of every row from being decided.)
    if (!Array.isArray(write) || typeof write[0] !== 'string' || !Array.isArray(write[4])) continue;
    const [row, ...entry] = write as [string, ...AppliedWrite];
    const writes = applied.get(row) ?? [];
    if (!writes.some(([from, to]) => from === entry[0] && to === entry[1]))
      applied.set(row, [...writes, entry]);
  }
}

/**
 * The records stored under `prefix` (`x/`, `w/`): [operation id, value]; undefined for a record
 * storage cannot read (then forgotten, or skipped: one damaged record stops no other).
 */
async function read(cache: RowCache<Row>, prefix: string): Promise<Array<[string, unknown]>> {
  const keys = await cache.kv.keys(prefix);
  return Promise.all(
    keys.map(async (key) => [key.slice(2), await cache.kv.get(key).catch(noop)] as [string, unknown]),
  );
}

/**
 * Whether an operation's URL is one of the collection's (`url`, or below it: `url/…`, `url?…`),
 * not one of another resource whose path starts the same (`/notes2`, `/notes-archive`).
 */
function isOurs(operationUrl = '', url: string): boolean {
  return operationUrl.startsWith(url) && /^([/?]|$)/.test(operationUrl.slice(url.length));
}

/**
 * A step of conflict handling failed for one refusal or answer (storage refused a write, a row
 * from the server made the change unsendable…): the others go on; set in `lastError`
 * (`collections/conflict-failed`, the error as `cause`) and warned. Not after dispose (storage
 * closing: what is left is decided at the next start).
 */
function report<R extends Row>(host: ConflictHost<R>, cause: unknown, id: string): void {
  const [options, , , , , , , , signal, lastError, logger] = host;
  if (signal.aborted) return;
  const error = new FluxyError(
    'collections/conflict-failed',
    `${options.url}: handling a conflict of row "${id}" failed (see the cause); the other rows went on. The refused change stays in sync.failed(), and is decided again after the next pull (or discard() it).`,
    { cause },
  );
  publish(() => {
    lastError.value = Object.assign(error, { at: Date.now() }) as CollectionError;
  });
  logger?.warn(error.message, error.code, cause);
}

function noop(): void {}

async function resolve<R extends Row>(
  stored: ReadonlyArray<[operationId: string, status: unknown]>,
  host: ConflictHost<R>,
): Promise<void> {
  const [options, cache, sync, view, , applied, write, checkFields, signal, lastError, logger, show] = host;
  const failed = new Map((await sync.failed()).map((operation) => [operation.id, operation]));
  const rowOf = (operationId: string) => {
    const meta = metaOf(failed.get(operationId));
    return meta && view.currentId(meta.id);
  };
  /**
   * When the write was refused only for writes of this replica — they lead, one after the other,
   * from the version it was made on to the server's — the fields that those of them made later
   * set (resent after them, it must not undo them); undefined when another writer was involved.
   */
  let stuck: unknown; // where the last walk found no write of this replica to go on from
  const ownFields = (operationId: string, status: unknown, server: R | null): string[] | undefined => {
    const meta = metaOf(failed.get(operationId));
    if (status !== 412 || !server || !meta) return undefined;
    let later: string[] | undefined;
    [later, stuck] = walk(applied, options.key, meta, operationId, server);
    return later;
  };
  const isSyncing = (
    sync as { isSyncing?: { peek(): boolean; subscribe(run: (value: boolean) => void): () => void } }
  ).isSyncing;
  /**
   * Resolves at the outbox's next answer: a write of this collection noted (see noteApplied), an
   * operation sent that is not one of this collection's changes, a refusal; or when it stops sending.
   */
  const nextAnswer = () =>
    new Promise<void>((resolve) => {
      const offs: Array<() => void> = [];
      let woken = false;
      const wake = () => {
        woken = true;
        for (const off of offs.splice(0)) off();
        resolve();
      };
      const waiters = noted.get(applied) ?? new Set();
      noted.set(applied, waiters.add(wake));
      signal.addEventListener('abort', wake);
      offs.push(
        () => waiters.delete(wake),
        () => signal.removeEventListener('abort', wake),
        sync.on('failed', wake),
        sync.on('sent', ({ operation }) => {
          if (!operation.url?.startsWith(`${options.url}/`)) wake(); // ours wake once noted
        }),
      );
      // (subscribe runs at once: when the outbox stopped meanwhile, it wakes before this is kept.)
      const stop = (isSyncing as NonNullable<typeof isSyncing>).subscribe((value) => value || wake());
      if (woken) stop();
      else offs.push(stop);
    });
  /** Per row: the fields of its own refusals that ride with the next one, and those refusals' ids. */
  const carried = new Map<string, { fields: Row; ids: string[] }>();
  let pending: Awaited<ReturnType<SyncLike['pending']>> | undefined;
  for (const [index, [operationId, status]] of stored.entries()) {
    const operation = failed.get(operationId);
    // One refusal that cannot be decided (storage refused a step, the outbox the resend…) stops
    // no other: reported, and kept to decide again (its change stays in sync.failed() until then).
    try {
      // (Not this collection's change — an app's own operation of the same kind, without its meta —:
      // never stored now; forgotten if an earlier version stored it.)
      if (
        typeof status !== 'number' ||
        !operation ||
        'unreadable' in operation ||
        metaOf(operation)?.c !== 1
      ) {
        await forget(cache, operationId); // retried or discarded meanwhile
        continue;
      }
      const meta = operation.meta as ChangeMeta;
      const type = operation.kind?.split('.').pop() as Change['type']; // a name has no dot
      const id = view.currentId(meta.id);
      // Refused at the URL of a temporary id that this collection saw replaced: the SyncPlugin did
      // not read the server's id from the insert's answer (its `serverId` is not this collection's
      // `key`), so the change went to an id the server never had. The row is not gone: it stays;
      // the change stays failed (to discard), reported once — not a conflict.
      if (status !== 412 && id !== meta.id && operation.url?.includes(meta.id)) {
        const error = new FluxyError(
          'collections/invalid-options',
          `${options.url}: a change of row "${id}" went to its temporary id "${meta.id}" (answered ${status}): the SyncPlugin did not take the server's id from the insert's answer. With key "${options.key}", give it serverId: '${options.key}'. The change stays in sync.failed(): discard() it.`,
        );
        lastError.value = Object.assign(error, { at: Date.now() }) as CollectionError;
        logger?.warn(error.message);
        await forget(cache, operationId);
        continue;
      }
      let server = null as R | null;
      let own = undefined as string[] | undefined;
      const look = () => {
        server = status === 412 ? (view.confirmedRow(id) ?? null) : null;
        stuck = undefined;
        own = ownFields(operationId, status, server);
      };
      look();
      // The server's version may come from a write of this replica whose answer is still on its
      // way (a pull saw it first, or the answer is being stored): while the outbox sends, look again
      // after its next answer — at least once, then while a change of this row made on the version
      // the walk stopped at is pending (the one that may have made the server's). When the outbox
      // does not send (paused, offline, waiting for a retry) while such a change is pending, the
      // refusal is left stored and resolved again once a write of this replica is applied (see
      // noteApplied) or after the next pull: decided now, it would be a conflict with itself (and
      // 'client-wins' would undo that change).
      let later = false;
      for (let looks = 0; !own && stuck !== undefined; looks++) {
        if (looks > 0 || !isSyncing?.peek()) {
          const version = stuck;
          waitingForOwn.add(applied); // from now on, a write noted starts resolving again
          const queued = await sync.pending();
          const candidate = queued.some((change) => {
            const changeMeta = metaOf(change);
            return changeMeta?.c === 1 && view.currentId(changeMeta.id) === id && changeMeta.base === version;
          });
          look(); // (a write noted while the outbox was listed)
          if (own || !candidate) break;
          later = !isSyncing?.peek();
          if (later) break;
        }
        await nextAnswer();
        if (signal.aborted) return;
        pending = undefined; // read again: the outbox moved on
        look();
      }
      if (later) continue;
      const data = (operation.body ?? undefined) as Row | undefined;
      const local =
        type === 'remove'
          ? null
          : // (A row deleted on the server: the row as last confirmed, while this replica still has it.)
            ({ ...(server ?? meta.baseRow ?? view.confirmedRow(id)), ...data, [options.key]: id } as R);
      const strategy = options.conflict;
      const carry = carried.get(id);
      const done = [...(carry?.ids ?? []), operationId];
      let resolution: ConflictResolution | undefined = 'server-wins'; // undefined: no conflict
      let resend: Row | undefined | null = null; // null: nothing to send again
      if (own) {
        // Sent again on the version the server has, as one request with the next own refusal of
        // this row in this run, if any (one each would refuse each other again), and without the
        // fields a later pending change of this row sets (sent after it, it would undo that one).
        const fields = { ...carry?.fields, ...data };
        const next = stored.slice(index + 1).find(([otherId]) => rowOf(otherId) === id);
        if (next && ownFields(next[0], next[1], server)) {
          carried.set(id, { fields, ids: done });
          continue;
        }
        pending ??= await sync.pending();
        resolution = undefined;
        resend = ownResend(view, pending, type, id, fields, own, meta, operationId);
      } else if (server === null) {
        if (type !== 'remove') resolution = 'dropped'; // deleted on the server; a remove is done
      } else if (strategy === 'client-wins') {
        resolution = strategy;
        resend = data;
      } else if (typeof strategy === 'function') {
        try {
          const patch = strategy({ local, server, base: (meta.baseRow ?? null) as R | null });
          resolution = patch === null ? 'dropped' : 'merged';
          if (patch !== null)
            resend = type === 'remove' ? undefined : checkPatch(patch, id, options.key, checkFields);
        } catch (cause) {
          // The change stays failed (in sync.failed(), to retry or discard), reported once: its
          // refusal is forgotten, not decided again after every pull.
          const error = new FluxyError(
            'collections/merge-failed',
            `the merge function of ${options.url} threw, or returned a patch that update() refuses, for row "${id}": the change stays in sync.failed() (see the cause); retry() or discard() it.`,
            { cause },
          );
          publish(() => {
            lastError.value = Object.assign(error, { at: Date.now() }) as CollectionError;
          });
          logger?.warn(error.message, cause);
          for (const settled of done) await forget(cache, settled);
          continue;
        }
      }
      if (resend !== null) {
        pending ??= await sync.pending();
        await resendOnce(
          write,
          [...pending, ...failed.values()],
          applied,
          type,
          id,
          resend,
          server,
          meta,
          operationId,
        );
      }
      for (const settled of done) await sync.discard(settled);
      const message: RowsMessage<R> = { rows: [], deleted: [], settled: [], aliases: [] };
      if (server === null) {
        view.confirmRows([], [id]);
        await cache.writePages([{ rows: [], deleted: [id] }]);
        message.deleted.push(id); // (in the other tabs too)
      }
      // (Not for a remove of a row the server deleted: the row is gone, as asked.) Emitted here and
      // in the other tabs (see show).
      if (resolution && (server || type !== 'remove'))
        message.c = { id, local, server, resolution, result: view.shownRow(id) ?? null };
      if (message.deleted[0] || message.c) show(message);
      // Forgotten last: a step that fails before leaves the refusal to decide again.
      for (const settled of done) await forget(cache, settled);
    } catch (cause) {
      if (signal.aborted) throw cause; // (left stored: decided at the next start)
      // Kept, not forgotten: decided again at the next run (after the next pull, or an answer) —
      // as at a restart after a crash in the middle, and with no resend queued twice (resendOnce).
      // Forgotten, its change stayed failed: a storage error that passed left it undecided, and
      // sync.retry() had it refused again and resent, a second time when the first resend had
      // been sent already.
      report(host, cause, String(metaOf(operation)?.id));
    }
  }
}

/** A version an If-Match header cannot carry (as page.ts's sendableVersion says). */
const unsendable = /[^\t\x20-\x7e\x80-\xff]/;

const metaOf = (operation: unknown) => (operation as { meta?: ChangeMeta } | undefined)?.meta;

/**
 * When a change (its meta, its operation id) was refused only for writes of this replica — they
 * lead, one after the other, from the version it was made on to the server's — the fields that
 * those of them made later set (resent after them, it must not undo them); undefined when another
 * writer was involved. With the version the walk last stepped from (where it got stuck).
 */
function walk<R extends Row>(
  applied: Map<string, AppliedWrite[]>,
  key: string,
  meta: ChangeMeta,
  operationId: string,
  server: R,
): [later: string[] | undefined, stuck: unknown] {
  const writes = applied.get(server[key] as string) ?? [];
  const later: string[] = [];
  let version: unknown = meta.base;
  let stuck: unknown;
  for (let step = 0; version !== server.version; step++) {
    const next = writes.find(([from]) => from === version);
    stuck = version;
    if (!next || step > writes.length) return [undefined, stuck];
    // Made later than this change (a resend is as late as the change it resends).
    if (next[2] > (meta.resolves ?? operationId)) later.push(...next[3]);
    version = next[1];
  }
  return [later, stuck];
}

/**
 * What to send again for this replica's own refused change of row `id` (`fields`: its own and
 * those carried with it): without the fields `own` (set by its later writes, see {@link walk}) or
 * a later pending change of the row sets (sent after it, it would undo that one); null for
 * nothing (every field set later, or the row removed later), undefined for a removal.
 */
function ownResend<R extends Row>(
  view: RowView<R>,
  pending: Awaited<ReturnType<SyncLike['pending']>>,
  type: Change['type'],
  id: string,
  fields: Row,
  own: readonly string[],
  meta: ChangeMeta,
  operationId: string,
): Row | undefined | null {
  let resend: Row | undefined | null = type === 'remove' ? undefined : fields;
  for (const field of own) delete fields[field];
  for (const later of pending) {
    const laterMeta = metaOf(later);
    if (
      laterMeta?.c === 1 &&
      view.currentId(laterMeta.id) === id &&
      (laterMeta.resolves ?? (later as { id: string }).id) > (meta.resolves ?? operationId) &&
      resend
    ) {
      if ((later as { kind?: string }).kind?.endsWith('.remove')) resend = null;
      else for (const field in (later as { body?: Row }).body) delete resend[field];
    }
  }
  return resend && Object.keys(resend).length === 0 ? null : resend;
}

/**
 * Queue the resend of a refused change, unless one is in the outbox already (`queued`: pending or
 * failed — a crash after it, before the discard; a step after it that failed, which keeps the
 * refusal to decide again; its own refusal decides a failed one) or was applied (this tab saw its
 * answer: `applied`, from the `w/` records after a restart).
 */
async function resendOnce<R extends Row>(
  write: ConflictHost<R>[6],
  queued: ReadonlyArray<unknown>,
  applied: Map<string, AppliedWrite[]>,
  type: Change['type'],
  id: string,
  resend: Row | undefined,
  server: R | null,
  meta: ChangeMeta,
  operationId: string,
): Promise<void> {
  // A resend of a resend resolves the first change: it is as late as that one (see walk).
  const resolves = meta.resolves ?? operationId;
  if (
    !queued.some(
      (candidate) =>
        (candidate as { id?: string }).id !== operationId && metaOf(candidate)?.resolves === resolves,
    ) &&
    !applied.get(id)?.some(([, , by]) => by === resolves)
  )
    await write(type, id, resend, undefined, resolves, server);
}

/** Per collection (its memory of applied writes): who waits for the next one (see resolveStoredConflicts). */
const noted = new WeakMap<object, Set<() => void>>();
/** Per collection: a refusal was left to resolve once a write of this replica is noted. */
const waitingForOwn = new WeakSet<object>();
/** Per collection: its `w/` records being written, one after the other (see noteAnswer). */
const storing = new WeakMap<object, Promise<void>>();
/** Per collection (its cache): refusals storage would not keep as `x/` records (see storeRefusal). */
const unstored = new WeakMap<object, Array<[operationId: string, status: unknown]>>();

/**
 * An answer with the row to an update or removal of this replica: remember the write (made on a
 * known version) for {@link resolveStoredConflicts} — this runs before the next write is sent —
 * and report the conflict it shows under last writer wins: a field the server kept from a newer
 * change elsewhere, or a removal answered with the row (kept). A field that a later change of this
 * row still pending sets is not lost yet: that change decides (it reports its own conflict if it
 * loses too). Returns true when stored refusals wait for this write: resolve them again. Loaded on
 * first use. @internal
 */
export function noteAnswer<R extends Row>(
  host: ConflictHost<R>,
  { operation, status, response }: SentLike,
  row: R | undefined,
): boolean {
  const [options, cache, , view, , applied, , , , , logger, show] = host;
  const { key } = options;
  const { kind = '' } = operation;
  if (!row) {
    // No row shown: an answer without the row (but a 204, or a removal's) is warned (once per
    // answer: here, not in collection.ts's #answerOf, which runs twice); the production build
    // keeps the kind. (A row a pull saw deleted is not shown either: not warned.)
    const answered = (response as Row | null)?.[key];
    if (status !== 204 && !kind.endsWith('.remove') && !(typeof answered === 'string' && answered))
      logger?.warn(`${kind}: the answer has no row with "${key}"; the next pull brings it.`, kind);
    // (The row's version cannot go in an If-Match header: collection.ts's rowOf left it out.)
    else if (unsendable.test((response as Row | null)?.version as string))
      logger?.warn(
        `${kind}: the answer's row has a version an If-Match header cannot carry (a CR, an LF, a control character or one past U+00FF): not taken; the next pull brings the row.`,
        kind,
      );
    return false;
  }
  // (An insert's answer: no write on a known version, nothing of it lost.)
  // (Nor an app's own operation of this kind, without this collection's meta.)
  if (kind.endsWith('.insert') || (operation.meta as ChangeMeta | undefined)?.c !== 1) return false;
  const { base, resolves } = operation.meta as ChangeMeta;
  const id = row[key] as string;
  const sent = (typeof operation.body === 'object' && operation.body !== null ? operation.body : {}) as Row;
  if (base !== undefined) {
    const write: AppliedWrite = [base, row.version, resolves ?? operation.id, Object.keys(sent)];
    applied.set(id, [...(applied.get(id) ?? []), write]);
    // Stored too (one record per write: no tab overwrites another's), for a refusal decided after
    // a restart or in another tab; forgotten when nothing is pending (resolveStoredConflicts).
    // Not awaited here (the answer's handler does not wait for it: the next write is sent
    // meanwhile), but chained: this tab reads and forgets `w/` records only after it is written
    // (see `storing`); a failure is reported (lastError). Only a crash before it is committed
    // loses it (then the refusal it explains is an ordinary conflict).
    const stored = (storing.get(applied) ?? Promise.resolve())
      .then(() => cache.kv.set(`w/${operation.id}`, [id, ...write]))
      .catch((cause: unknown) => report(host, cause, id));
    storing.set(applied, stored);
  }
  for (const wake of noted.get(applied) ?? []) wake();
  const removed = kind.endsWith('.remove');
  const lost = Object.entries(sent).some(
    ([field, value]) =>
      sortedJson(row[field]) !== sortedJson(value) &&
      !view.changeList.some((change) => view.currentId(change.id) === id && field in (change.data ?? {})),
  );
  // local: the change on the server's row (as a 412's conflict has it), not the row shown when the
  // answer is handled (the server's already).
  // (Emitted here and in the other tabs: see show.)
  if (removed || lost)
    show({
      rows: [],
      deleted: [],
      settled: [],
      aliases: [],
      c: {
        id,
        local: removed ? null : ({ ...row, ...sent, [key]: id } as R),
        server: row,
        resolution: 'lww',
        result: view.shownRow(id) ?? null,
      },
    });
  return waitingForOwn.delete(applied);
}

/**
 * JSON text of a value with the keys of its objects sorted: the same value whatever the order a
 * server keeps an object's keys in (Postgres `jsonb` sorts them), so it is no lost field.
 */
function sortedJson(value: unknown): string | undefined {
  return JSON.stringify(value, (_key, item: unknown) =>
    item !== null && typeof item === 'object' && !Array.isArray(item)
      ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : 1)))
      : item,
  );
}

/**
 * A failure of the feed (a pull): shown with the pages pulled before it, set in `lastError`,
 * warned; returns the error to throw (its message names the feed's url, its `status` the
 * answer's). A `410` to the first page asked for since a stored cursor (`restart`) is no failure:
 * the server no longer serves that cursor — it expired, or the server's data was reset or
 * restored —, so the confirmed rows are forgotten (stored and shown, in every tab; the pending
 * changes stay on top) with the cursor, and undefined says to pull again from the first page.
 * Here, in a lazy chunk: a rare path. @internal
 */
export async function failPull<R extends Row>(
  [options, cache, , view, , , , , , lastError, logger, show]: ConflictHost<R>,
  code: CollectionsErrorCode,
  // ('' in the production build: see collection.ts's #failPull.)
  message = '',
  cause?: unknown,
  status?: number,
  restart?: unknown,
): Promise<FluxyError | undefined> {
  // A failure of the feed reported already (the pull's catch passes every error here): as it is.
  if (`${(cause as FluxyError | undefined)?.code}`.startsWith('collections/')) return cause as FluxyError;
  // The url is on an origin the SyncPlugin does not send to: no pull can ever succeed (each sends
  // nothing). A configuration error, named as such (not "no answer").
  if ((cause as { code?: unknown } | undefined)?.code === 'sync/origin-not-allowed') {
    code = 'collections/invalid-options';
    message = refuseOrigin(
      `pull of ${options.url}: the url is on an origin the SyncPlugin does not send to (nothing was sent): add its origin to the SyncPlugin allowedOrigins option, or use a path on baseUrl's origin.`,
    );
  }
  if (status === 410 && restart) {
    logger?.warn(
      `${message} The server no longer serves this cursor: pulling again from the first page.`,
      code,
      status,
    );
    const gone = {
      rows: [],
      deleted: (await cache.readRows()).map((row) => row[options.key] as string),
      settled: [],
      aliases: [],
    };
    // (Versions start again on a reset server: a stale row of a higher version would hide the
    // server's, so the rows are forgotten first, not replaced.)
    await cache.writePages([gone], { v: 1, cursor: '' });
    show(gone);
    return undefined;
  }
  publish(() => {
    view.publishRows(); // the pages pulled before the failure are shown with it
    lastError.value = { code, message, status, at: Date.now(), cause };
  });
  logger?.warn(`${message} Retrying with backoff.`, code, status); // (what the production build keeps)
  // (FluxyError leaves an undefined cause out.)
  return Object.assign(new FluxyError(code, message, { cause }), { status });
}

/** The message of a url on a disallowed origin (the production build keeps `refuseOrigin()`: ''). */
function refuseOrigin(message = ''): string {
  return message;
}

/**
 * A page's clock more than 5 minutes ahead of this device (not adopted): what `lastError` shows
 * at the end of the pull, warned now. Here, in a lazy chunk: a rare path. @internal
 */
export function clockSkew<R extends Row>(host: ConflictHost<R>, clock: string): CollectionError {
  const skewed: CollectionError = {
    code: 'collections/clock-skew',
    message: `the clock ${clock} pulled from the server is more than 5 minutes ahead of this device's: not adopted. If this device's clock is behind, set it right: until then its 'lww' edits lose to those made elsewhere in that gap.`,
    at: Date.now(),
  };
  host[10]?.warn(skewed.message, skewed.code, clock);
  return skewed;
}

/** Changes whose rows are being read by {@link catchUp}: a listing meanwhile finds them late again. */
const catchingUp = new WeakSet<Change>();

/**
 * Changes left the outbox and the message of the tab that sent them did not come (the changes of
 * one listing of the outbox that waited long enough): read the rows that tab stored (a row not
 * stored was deleted), and the server ids that replaced the temporary ids of its inserts. One read
 * of the cache for all of them — it replays the whole log, ≈ 100 ms at 10,000 rows —, not one per
 * change: a batch answered just before its tab closed costs one read. The changes stay shown
 * until the rows read are, in the same step (a row never shows its older version in between), and
 * are read once however many listings find them meanwhile. Here, in a lazy chunk: a rare path.
 * @internal
 */
export async function catchUp<R extends Row>(
  [options, cache, , view]: ConflictHost<R>,
  changes: readonly Change[],
): Promise<void> {
  const reading = changes.filter((change) => !catchingUp.has(change));
  if (!reading[0]) return;
  for (const change of reading) catchingUp.add(change);
  const ids = new Set(reading.map((change) => view.currentId(change.id)));
  const [rows, aliases] = await Promise.all([
    cache.readRows(),
    // (Stored in the commit of the insert's row; kept while a pending change may use it.)
    Promise.all([...ids].map(async (id) => [id, id.startsWith('tmp_') && (await cache.kv.get(`a/${id}`))])),
  ]).catch(() => []);
  publish(() => {
    // (Storage refused the read: the changes go, their rows show what was known; a pull brings the rest.)
    if (rows) {
      for (const [tempId, serverId] of aliases as Array<[string, unknown]>) {
        if (typeof serverId !== 'string') continue;
        view.addAlias(tempId, serverId);
        ids.delete(tempId);
        ids.add(serverId);
      }
      const found = rows.filter((row) => ids.delete(row[options.key] as string));
      view.confirmRows(
        found,
        [...ids].filter((id) => !id.startsWith('tmp_')),
      );
    }
    view.dropChanges((change) => reading.includes(change));
  });
}

/**
 * Operations were discarded: the later changes of the row of a discarded insert are discarded
 * too. That row gets no server id, so they (their URL names its temporary id) could only fail, as
 * `sync/dependency-failed`. `changes` are the collection's pending changes before the discard.
 * Loaded on the first discard. @internal
 */
export function discardLater(changes: readonly Change[], ids: readonly string[], sync: SyncLike): void {
  for (const insert of changes)
    if (insert.type === 'insert' && ids.includes(insert.opId as string))
      for (const { id, opId } of changes)
        if (id === insert.id && opId && !ids.includes(opId)) sync.discard(opId).catch(() => undefined);
}

/**
 * A change the server refused (the outcome handler, in the tab that sent it): it drops out of
 * `items`. A conflict (an update or removal refused with 412, 404 or 410) is stored as `x/<opId>`,
 * to be decided once the server's row is known (at once for a 412 that answered with it, else
 * after the next pull; at once for a deleted row), from durable state, so a restart in between changes nothing; returns true for
 * one (the caller pulls, or resolves). Loaded on the first refusal. @internal
 */
export async function storeRefusal<R extends Row>(
  host: ConflictHost<R>,
  outcome: FailedLike,
): Promise<boolean> {
  const [options, cache, sync, view, , applied, write, , signal, , logger, show] = host;
  const { operation, error } = outcome;
  const operationId = operation.id;
  // It leaves `items`, here and in the other tabs (a refusal of its row decided later, a
  // conflict's resend, shows in them as it is queued).
  const settle = () => show({ rows: [], deleted: [], settled: [operationId], aliases: [] });
  const meta = (operation as QueuedOperation).meta as ChangeMeta | undefined;
  // Only this collection's changes (its meta): an app's own operation named with one of its kinds
  // (`notes.update`) is refused as any other operation, never decided as a conflict.
  const conflict =
    meta?.c === 1 &&
    !(operation as QueuedOperation).kind?.endsWith('.insert') &&
    [412, 404, 410].includes(error.status as number);
  // A 412 answers with the server's current row (`{ current }`): it becomes the confirmed row at
  // once (not over a newer one, nor a row a pull saw deleted), and the refusal is decided from it
  // now, not after the next pull. The pull the caller starts may bring a newer row still.
  const current = (error as { body?: { current?: R } }).body?.current;
  const id = meta && view.currentId(meta.id);
  // Not a row whose version the resend's If-Match could not carry (a CR, an LF…: see page.ts's
  // sendableVersion): decided after the next pull then, as a 412 without the row.
  const answered =
    conflict &&
    error.status === 412 &&
    id &&
    current?.[options.key] === id &&
    view.confirmedRow(id) &&
    !unsendable.test(current.version as string);
  // (A step that fails — storage refused a write, the outbox the resend — is reported, and the
  // refusal stored and decided as any other.)
  if (answered)
    try {
      view.confirmRows([current], []);
      await cache.writePages([{ rows: [current], deleted: [] }]);
      // Shown in the other tabs too, once stored (as a pull's rows are).
      show({ rows: [view.confirmedRow(id) as R], deleted: [], settled: [], aliases: [] });
      // Refused only for this replica's own writes (made while an earlier change of the row was
      // pending, on the same version): sent again on the server's version, the refusal claimed —
      // no `failed` event, never counted as failed (sync.handle's claim) — and no conflict. Else
      // (or when the server's version comes from a write whose answer is still on its way) stored,
      // and decided below, as any refusal.
      const claim = (outcome as { claim?: () => void }).claim;
      const server = view.confirmedRow(id) as R;
      let [own] = walk(applied, options.key, meta as ChangeMeta, operationId, server);
      if (!own && claim) {
        await recall(cache, applied); // (after a restart, or another tab sent the earlier writes)
        [own] = walk(applied, options.key, meta as ChangeMeta, operationId, server);
      }
      if (own && claim) {
        const type = (operation as QueuedOperation).kind?.split('.').pop() as Change['type'];
        const pending = await sync.pending();
        const data = { ...((operation as QueuedOperation).body as Row | undefined) };
        const resend = ownResend(view, pending, type, id, data, own, meta as ChangeMeta, operationId);
        if (resend !== null)
          await resendOnce(
            write,
            pending,
            applied,
            type,
            id,
            resend,
            server,
            meta as ChangeMeta,
            operationId,
          );
        settle();
        claim();
        for (const wake of noted.get(applied) ?? []) wake(); // resolving waits for an answer: this is one
        return false;
      }
    } catch (cause) {
      if (signal.aborted) throw cause;
      report(host, cause, id as string);
    }
  settle();
  if (conflict)
    await cache.kv.set(`x/${operationId}`, error.status).catch((cause: unknown) => {
      // Storage refused the record (a full disk, a write that failed once): kept in this tab's
      // memory and decided as a stored one, not dropped — its change would stay failed, never
      // decided. (Lost at a restart: then it stays in sync.failed(), to retry() or discard().)
      if (signal.aborted) throw cause;
      report(host, cause, id as string);
      unstored.set(cache, [...(unstored.get(cache) ?? []), [operationId, error.status]]);
    });
  if (answered)
    resolveStoredConflicts(host).catch(
      (cause: unknown) => signal.aborted || logger?.warn('could not resolve a conflict', cause),
    );
  return conflict;
}

/**
 * A merge function's patch of row `id`, checked as update() checks a patch: fields update() takes,
 * the key unchanged (and left out), not empty; else `collections/invalid-row`. (Here, in the lazy
 * chunk, rather than shared with update(): the collection's eager code stays smaller.)
 */
function checkPatch(patch: unknown, id: string, key: string, checkFields: (fields: unknown) => Row): Row {
  const data = checkFields(patch);
  if (key in data && data[key] !== id) {
    throw new FluxyError(
      'collections/invalid-row',
      `the merge function's patch for row "${id}" changes its "${key}": a row's key cannot change.`,
    );
  }
  delete data[key];
  if (Object.keys(data).length === 0) {
    throw new FluxyError(
      'collections/invalid-row',
      `the merge function's patch for row "${id}" is empty: return the fields to change, or null to keep the server's row.`,
    );
  }
  return data;
}

/** Forget a stored refusal (`x/<operation id>`: see cache.ts), or one kept in memory (see storeRefusal). */
function forget(cache: RowCache<Row>, operationId: string): Promise<void> {
  unstored.set(
    cache,
    (unstored.get(cache) ?? []).filter(([kept]) => kept !== operationId),
  );
  return cache.kv.remove(`x/${operationId}`);
}
