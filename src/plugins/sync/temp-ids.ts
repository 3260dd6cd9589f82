import type { FluxyError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { sha256Hex } from './digest.js';
import type { TabLeader } from './leader.js';
import type { OperationError, OperationRecord } from './operation.js';
import type { Outbox, OutboxStorage } from './outbox.js';
import type { QueueLists } from './queue-lists.js';
import type { OperationDraft } from './request-validation.js';
import { type DotSegmentError, forEachCandidate, substituteTempIds } from './temp-id-tokens.js';
import type { WriteGroup } from './write-group.js';

/**
 * What is stored under `t/#<digest>` (the first 32 hex digits of the temporary id's SHA-256, so a
 * key — a file name with the file driver — does not show the id; `t/<tempId>` before): which
 * operation introduced it, and its fate. @internal
 */
export interface TempIdRecord {
  v: 1;
  /** The id of the create operation that introduced the temporary id. */
  operationId: string;
  /** The server's id, once the create succeeded. */
  serverId?: string;
  /** Set when the create failed for good: operations referring to it cannot succeed. */
  failed?: true;
}

/**
 * How long a settled temporary id is kept at least (10 minutes): an operation queued with it in
 * that time — e.g. by a tab whose view still shows the temporary id — still gets the server id,
 * and `resolveId()` still answers. @internal
 */
export const defaultTempIdRetentionMs = 10 * 60_000;

const prefix = 't/';

/** What the engine knows about one temporary id, in memory. */
interface Entry {
  /**
   * Since when nothing of its own holds the mapping: the time its create was settled in this tab,
   * or the first time this tab saw the queue empty while knowing it. Undefined before either.
   */
  quietSince?: number;
  /** Tick of the last evidence that its record is stored; undefined while this tab writes it. */
  stamp?: number;
}

/** The parts of a failed operation that can mention temporary ids. @internal */
export type FailedReferences = Pick<OperationRecord, 'url' | 'body' | 'refs' | 'tempId'>;

/** Where {@link TempIds.collect} reads a failed operation (the outbox). @internal */
export type FailedReader = Pick<Outbox, 'read'>;

/**
 * Temporary ids (client-made ids of records the server has not created yet). A create declares
 * the temporary id it introduces; later operations that mention it (in URL or body, as a whole
 * token: see {@link forEachCandidate}) record it as a reference;
 * when the create succeeds, the server id is stored, and each referring operation has the
 * temporary id replaced — durably — right before it is sent.
 *
 * A mapping is forgotten ({@link collect}) once no operation can need it any more; the rule is
 * documented in docs/sync.md ("When a temporary id is forgotten").
 */
export class TempIds {
  readonly #storage: OutboxStorage;
  readonly #now: () => number;
  /**
   * By slot: the key under `t/` — `#<digest>`, or for a record stored by an earlier version, the
   * temporary id itself (the two never look alike: `#` is not allowed in a temporary id).
   */
  #entries = new Map<string, Entry>();
  /** Increases at every listing mark and every piece of evidence (see {@link mark}). */
  #tick = 0;
  /** The temp ids the failed operations mention, for one set of failed ids (their records do not change). */
  #failedRefs: { key: string; refs: Set<string> } | undefined;

  /**
   * Without Web Locks (several senders), the pending list this instance sends from: {@link resolve}
   * then lists the stored temporary ids again, and puts a create pending in storage first.
   */
  readonly #several: Pick<QueueLists, 'pending' | 'note'> | undefined;
  /** When the stored temporary ids were last listed for {@link resolve} (its clock: `now`). */
  #listedAt = -Infinity;

  /** The engine gives its leader and lists (see {@link resolve}); a test of this class alone, neither. */
  constructor(
    storage: OutboxStorage,
    now: () => number = Date.now,
    leader?: Pick<TabLeader, 'coordination'>,
    lists?: Pick<QueueLists, 'pending' | 'note'>,
  ) {
    this.#storage = storage;
    this.#now = now;
    if (leader?.coordination === 'none') this.#several = lists;
  }

  /** How many temporary ids are known in memory. @internal */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Call right before listing the namespace's keys; pass the result to {@link load} with the
   * listing, so that temp ids known before the listing began and missing from it are forgotten.
   */
  mark(): number {
    return ++this.#tick;
  }

  /**
   * Learn the temporary ids from a listing of the namespace's keys (no record is read). With the
   * `mark` taken before the listing, also forget those whose records are gone: known (and stored,
   * not being written by this tab) before the listing began, yet not in it.
   */
  load(keys: string[], mark?: number): void {
    const listed = new Set<string>();
    const stamp = ++this.#tick;
    for (const key of keys) {
      if (!key.startsWith(prefix)) continue;
      const slot = key.slice(prefix.length);
      listed.add(slot);
      const entry = this.#entries.get(slot);
      if (!entry) this.#entries.set(slot, { stamp });
      else if (entry.stamp !== undefined) entry.stamp = stamp;
    }
    if (mark === undefined) return;
    for (const [slot, entry] of this.#entries) {
      if (!listed.has(slot) && entry.stamp !== undefined && entry.stamp < mark) this.#entries.delete(slot);
    }
  }

  /**
   * Add to `group` the record that operation `operationId` introduces `tempId` — committed with
   * the operation itself, so neither is stored without the other. Known at once (so a second
   * `queue()` with it is refused); forgotten again if the commit fails.
   */
  stageIntroduce(group: WriteGroup, tempId: string, operationId: string): void {
    this.#stage(group, tempId, {}, { v: 1, operationId }, 'forget-on-failure');
  }

  /** Remember a temporary id seen on a stored operation (e.g. one queued in another tab). */
  learn(tempId: string): void {
    const slot = this.#slot(tempId);
    if (!this.#entries.has(slot)) this.#entries.set(slot, { stamp: ++this.#tick });
  }

  /** Whether `tempId` was introduced by some operation (and is not forgotten yet). */
  isKnown(tempId: string): boolean {
    return this.#entries.has(this.#slot(tempId));
  }

  /**
   * The known temporary ids that `url` or bodyText (JSON) mention, in order of first mention:
   * in the URL as a whole token, in the body as a whole JSON string (a value, an array item or a
   * key). Costs one pass over the texts, whatever the number of known temp ids.
   */
  referencesIn(url: string, bodyText?: string): string[] {
    if (this.#entries.size === 0) return [];
    const found = new Set<string>();
    forEachCandidate(url, bodyText, (candidate) => {
      if (this.#entries.has(this.#slot(candidate))) found.add(candidate);
    });
    return [...found];
  }

  /**
   * The known temporary ids that a new operation `draft` refers to (its own aside), once its
   * `tempId` is checked: one already introduced is refused (`sync/invalid-options`; the error class
   * given, not imported, like the other lazily loaded modules). @internal
   */
  refsFor(draft: OperationDraft, RefusalError: typeof FluxyError): string[] {
    const { tempId } = draft;
    if (tempId !== undefined && this.isKnown(tempId)) {
      throw new RefusalError(
        'sync/invalid-options',
        `queue(): tempId "${tempId}" was already introduced by another operation: make a new one for each create.`,
      );
    }
    return this.referencesIn(draft.url, draft.bodyText).filter((ref) => ref !== tempId);
  }

  /**
   * The stored record of a temporary id — read even when this tab has not learned it yet: another
   * tab may have introduced and settled it (`resolveId()` in a tab that does not send).
   */
  async get(tempId: string): Promise<TempIdRecord | undefined> {
    return ((await this.#storage.get(prefix + this.#slot(tempId))) as TempIdRecord | undefined) ?? undefined;
  }

  /**
   * `record`, about to be sent, with the temporary ids it mentions (known now: in its URL or body,
   * as whole tokens; its own aside) whose create succeeded replaced by the server ids, as a new
   * revision not yet written (its `refs`: those still unresolved); `record` itself when it
   * mentions none; the same revision with those it mentions as `refs` when none is resolved yet;
   * the error to fail it with when one of them belongs to a create that failed
   * (`sync/dependency-failed`), or when a server id `.` or `..` would be a path segment of its URL
   * (`sync/invalid-url`: URL parsing removes such a segment, so the request would reach the parent
   * path — `DELETE /api/notes/..` is `DELETE /api/`).
   *
   * Without Web Locks another instance may have introduced a temporary id that this op mentions
   * without this instance having learned it (its create was not read here: sent and removed by
   * that instance, or not heard of yet — separate processes hear nothing of each other): the
   * stored ones are listed again first (keys only), unless they were listed since this op was
   * queued. Undefined when the create of one is still pending in storage, queued before this op
   * yet not in this instance's list: it is added to the list, to be sent first (with its key: the
   * server replays what the other instance got), as a single sender would.
   */
  async resolve(record: OperationRecord): Promise<OperationRecord | OperationError | undefined> {
    const own = record.tempId;
    const several = this.#several;
    if (own !== undefined) this.learn(own);
    if (several && record.createdAt >= this.#listedAt) {
      const at = this.#now();
      this.load(await this.#storage.keys(prefix));
      this.#listedAt = at;
    }
    const refs = this.referencesIn(record.url, record.body).filter((ref) => ref !== own);
    if (refs.length === 0) return record;
    record = { ...record, refs };
    const remaining: string[] = [];
    const replacements = new Map<string, string>();
    for (const ref of refs) {
      const known = await this.get(ref);
      if (known?.failed)
        return {
          code: 'sync/dependency-failed',
          message:
            'it refers to the temporary id of a create that failed; retry or discard that create first',
          at: this.#now(),
        };
      if (known?.serverId !== undefined) replacements.set(ref, known.serverId);
      else if (several && known && (await this.#pendingElsewhere(known.operationId, record.id, several))) {
        several.note('added', 'pending', [known.operationId]);
        return undefined;
      } else remaining.push(ref);
    }
    if (remaining.length === record.refs?.length) return record;
    // One pass for all: a server id is never itself taken for another temporary id.
    let substituted: ReturnType<typeof substituteTempIds>;
    try {
      substituted = substituteTempIds(record.url, record.body, replacements);
    } catch (error) {
      // A server id `.` or `..` in the URL's path: sent, it would reach the parent path.
      return {
        code: 'sync/invalid-url',
        message: `its URL would hold the server id "${(error as DotSegmentError).serverId}" of a temporary id as a path segment, which URL parsing removes (the request would go to the parent path): not sent; give the row another id on the server`,
        at: this.#now(),
      };
    }
    const { url, bodyText: body } = substituted;
    const { refs: _refs, body: _body, ...rest } = record;
    const updated: OperationRecord = { ...rest, url, rev: record.rev + 1 };
    if (body !== undefined) updated.body = body;
    if (remaining.length > 0) updated.refs = remaining;
    return updated;
  }

  /**
   * Whether `create` was queued before `id` and is still pending in storage (under outbox.ts's key;
   * a record that cannot be read counts: the flush moves it), yet not in this instance's list.
   */
  async #pendingElsewhere(create: string, id: string, lists: Pick<QueueLists, 'pending'>): Promise<boolean> {
    if (create >= id || lists.pending.has(create)) return false;
    const stored = await this.#storage.get(`p/${create}`).catch(() => true);
    return stored !== undefined && stored !== null;
  }

  /** Add to `group` the outcome of the create that introduced `tempId`. */
  stageSettle(
    group: WriteGroup,
    tempId: string,
    operationId: string,
    outcome: { serverId: string } | { failed: true },
  ): void {
    this.#stage(group, tempId, { quietSince: this.#now() }, { v: 1, operationId, ...outcome }, 'keep');
  }

  /**
   * The temporary ids no operation can need any more, to pass to {@link drop}. The caller calls it
   * only while nothing is pending or being queued (and this tab sends) — so every operation that
   * could mention a temp id has been sent or has failed — and calls `drop` only if that still
   * holds once this resolved. A temp id is due once (1) `retentionMs` passed since it became
   * quiet (its create settled in this tab, or this tab first saw the queue empty while knowing
   * it), and (2) no failed operation (`failedIds`, read from `failed` — or its pending copy, if
   * `retry()` is moving it back) mentions it (in its `refs`, or in its URL or body — its own
   * create aside), so `retry()` can still resolve it or fail it as a dependency. Reads no temp-id
   * record; reads the failed operations only when something is due. Removes nothing.
   */
  async collect(
    retentionMs = defaultTempIdRetentionMs,
    failedIds: readonly string[],
    failed: FailedReader,
  ): Promise<string[]> {
    const now = this.#now();
    const due: string[] = [];
    for (const [slot, entry] of this.#entries) {
      if (entry.stamp === undefined) continue; // being written by this tab
      entry.quietSince ??= now;
      if (this.#isDue(entry, retentionMs)) due.push(slot);
    }
    if (due.length === 0) return [];
    const needed = new Set(
      [...(await this.#referencedByFailed(failedIds, failed))].map((tempId) => this.#slot(tempId)),
    );
    return due.filter((slot) => !needed.has(slot));
  }

  /**
   * {@link collect}, then {@link drop} what is due if `quiet()` still holds (checked again right
   * before anything is removed: an op may have been queued meanwhile). Runs in the background;
   * never throws (a failure is logged). @internal
   */
  collectWhile(
    quiet: () => boolean,
    retentionMs: number | undefined,
    failedIds: readonly string[],
    failed: FailedReader,
    logger: Logger,
  ): void {
    this.collect(retentionMs, failedIds, failed)
      .then(async (due) => {
        if (quiet()) await this.drop(due, retentionMs);
      })
      .catch((error: unknown) => logger.warn('forgetting settled temporary ids failed', error));
  }

  /**
   * Forget (in memory and in storage) what {@link collect} found, if still due (the same `retentionMs`). Removed from
   * memory and requested from storage in one go, so a temp id introduced again right after (it
   * is no longer known, so it may be) is written after this removal. Resolves with the slots
   * (keys under `t/`) removed.
   */
  async drop(collected: readonly string[], retentionMs = defaultTempIdRetentionMs): Promise<string[]> {
    const dropped = collected.filter((slot) => this.#isDue(this.#entries.get(slot), retentionMs));
    for (const slot of dropped) this.#entries.delete(slot);
    await Promise.all(dropped.map((slot) => this.#storage.remove(prefix + slot)));
    return dropped;
  }

  /**
   * The server id in the 2xx response of create `record` (see {@link extractServerId}), its
   * temporary id's outcome staged in `group`; undefined, with a warning, if the response has none.
   */
  settleCreate(
    group: WriteGroup,
    record: OperationRecord,
    response: unknown,
    from: string | ((response: unknown) => string | number | undefined),
    logger: Logger,
  ): string | undefined {
    const tempId = record.tempId as string;
    const serverId = extractServerId(response, from);
    if (serverId === undefined) {
      logger.warn(
        `operation ${record.id} introduced tempId "${tempId}" but its response has no server id`,
        tempId, // all the production build keeps
      );
    } else {
      this.stageSettle(group, tempId, record.id, { serverId });
    }
    return serverId;
  }

  /** Forget every temporary id in memory (`clearQueue()`, which removes their records: QueueEdits.removeAll). */
  forget(): void {
    this.#entries = new Map();
    this.#failedRefs = undefined;
  }

  #stage(
    group: WriteGroup,
    tempId: string,
    entry: Entry,
    record: TempIdRecord,
    onFailure: 'forget-on-failure' | 'keep',
  ): void {
    const slot = this.#slot(tempId);
    this.#entries.set(slot, entry);
    group.set(prefix + slot, record, (committed) => {
      if (this.#entries.get(slot) !== entry) return;
      if (!committed && onFailure === 'forget-on-failure') this.#entries.delete(slot);
      // Whether or not the write landed, a later listing may now tell (see load).
      else entry.stamp = ++this.#tick;
    });
  }

  /** Where `tempId` is kept: under its digest, or under itself when an earlier version stored it so. */
  #slot(tempId: string): string {
    return this.#entries.has(tempId) ? tempId : `#${sha256Hex(tempId).slice(0, 32)}`;
  }

  #isDue(entry: Entry | undefined, retentionMs: number): boolean {
    return (
      entry?.stamp !== undefined &&
      entry.quietSince !== undefined &&
      this.#now() - entry.quietSince >= retentionMs
    );
  }

  async #referencedByFailed(failedIds: readonly string[], failed: FailedReader): Promise<Set<string>> {
    if (failedIds.length === 0) return new Set();
    const key = [...failedIds].sort().join(',');
    if (this.#failedRefs?.key === key) return this.#failedRefs.refs;
    const refs = new Set<string>();
    let complete = true;
    for (const id of failedIds) {
      const record =
        (await failed.read('failed', id).catch(() => undefined)) ??
        (await failed.read('pending', id).catch(() => undefined));
      if (!record) {
        complete = false; // gone, or not readable now: not cached, so it is read again next time
        continue;
      }
      for (const ref of record.refs ?? []) refs.add(ref);
      for (const ref of this.referencesIn(record.url, record.body)) if (ref !== record.tempId) refs.add(ref);
    }
    this.#failedRefs = complete ? { key, refs } : undefined;
    return refs;
  }
}

/** Read the server id from a response: a field name (default `id`) or a function. @internal */
export function extractServerId(
  response: unknown,
  from: string | ((response: unknown) => string | number | undefined),
): string | undefined {
  let value: unknown;
  try {
    value =
      typeof from === 'function'
        ? from(response)
        : response !== null && typeof response === 'object'
          ? (response as Record<string, unknown>)[from]
          : undefined;
  } catch {
    // A serverId function that throws (e.g. on a body it did not expect) finds no server id: the
    // create leaves the queue as sent (a warning is logged) instead of blocking it forever.
  }
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}
