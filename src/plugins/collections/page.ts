// The lazy part of a pull, loaded by its first page: a page's check, the paging, storing and
// showing of the pages, and the adoption of client ids (used only with the `clientIdField` option).
import type { Signal } from '@preact/signals-core';
import { publish } from '../../core/errors.js';
import { describeInput } from '../../core/input-checks.js';
import type { CacheMeta } from './cache.js';
import type { HybridClock } from './clock.js';
import type { CollectionError, PulledPage, RowsMessage } from './collection.js';
import type { ConflictHost } from './conflicts.js';
import type { Row } from './options.js';
import type { RowView } from './view.js';

/** What a pull's pages need of their collection (its private parts). @internal */
export type PullHost<R extends Row> = [
  host: ConflictHost<R>,
  fetchPage: (cursor: string, page: number) => Promise<PulledPage<R> | undefined>,
  applyRows: (message: RowsMessage<R>, more: boolean) => unknown,
  post: (message: RowsMessage<R>) => void,
  /** Rows an answer confirmed since the last pull request was sent. */
  answered: ReadonlySet<string>,
  clock: HybridClock,
  lastPulledAt: Signal<number | null>,
  /** The last page was asked for by the last request sent. */
  asked: () => void,
];

/**
 * The pages of a pull from the first (`next`, asked for since `cursor`): each shown, and stored
 * with its cursor, while the next one is asked for. `shownAt`: when the pull began (a first page
 * that came 250 ms after it is shown at once). @internal
 */
export async function pullPages<R extends Row>(
  [host, fetchPage, applyRows, post, answered, clock, lastPulledAt, asked]: PullHost<R>,
  cursor: string,
  next: Promise<PulledPage<R> | undefined>,
  shownAt: number,
): Promise<void> {
  const [options, cache, , view, , , , , , lastError] = host;
  // The next page is asked for while this one is shown and stored. Pages are stored four at a
  // time (one commit: their chunks, then the cursor of the last one; each IndexedDB transaction
  // costs the browser ≈ 0.5 ms of CPU, taken from the fetches on a small device), and at once
  // at the last page or when `items` is rebuilt (every 250 ms on a slow network). After a failed
  // write nothing more is written, so the stored cursor never passes a row not stored.
  let queued: Array<RowsMessage<R>> = [];
  let queuedMeta: CacheMeta | undefined;
  let writing: Promise<void> | undefined;
  let held = 0; // pages a write leaves queued for the next one (none at the last page)
  let failure: { error: unknown } | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const check = (): void => {
    if (failure) throw failure.error;
  };
  const store = async (): Promise<void> => {
    try {
      while (queued.length > held && !failure) {
        const pages = queued;
        queued = [];
        await cache.writePages(pages, queuedMeta);
        // Posted once stored: a tab that opens meanwhile either reads them or hears this.
        for (const page of pages) post(page);
      }
    } catch (error) {
      failure = { error };
    } finally {
      writing = undefined;
    }
  };
  // A write of the pages queued past `held`, unless one runs (it goes on with them). Never with
  // nothing to write: store() would end in this call, clearing `writing` before `??=` set it, and
  // `writing` would stay set — no page stored again (the 250 ms timer found the queue empty so).
  const flush = (): Promise<void> | undefined => {
    if (queued.length > held) writing ??= store();
    return writing;
  };
  try {
    let skewed: CollectionError | null = null;
    for (let page = 1; ; page++) {
      const body = await next;
      if (!body) return; // disposed
      check();
      // A page asked for before an answer confirmed a row it deletes: the deletion may be older
      // than the write answered (which brought the row back: last writer wins) or newer. Asked
      // for again, it says which (the row stays shown meanwhile).
      if (body.deleted.some((id) => answered.has(id))) {
        next = fetchPage(cursor, page--);
        continue;
      }
      // A feed that says more forever (a new cursor each page) ends the pull at its 1000th page:
      // this page is stored with its cursor, and the pull fails (collections/bad-response, below),
      // so the retry with backoff goes on from there.
      if (body.more && page < maxPages) {
        cursor = body.cursor;
        next = fetchPage(cursor, page + 1);
        next.catch(() => {}); // awaited on the next turn; not unhandled if this one fails first
      } else if (!body.more) {
        asked();
      }
      // (A page without a clock is 'invalid' to receive(): nothing adopted, nothing reported.)
      if (clock.receiveStamp(body.clock as string) === 'too-far-ahead')
        skewed = (await import('./conflicts.js')).clockSkew(host, body.clock as string);
      // Before the last page, the last complete pull's: a pull cut off keeps it across a restart.
      const pulledAt = body.more ? lastPulledAt.peek() : Date.now();
      const field = options.clientIdField;
      const adopted = field
        ? // Only with the option: most servers do not keep the temporary id.
          adoptClientIds(body.changes, field, options.key, view)
        : [];
      const pulled: RowsMessage<R> = {
        rows: body.changes,
        deleted: body.deleted,
        settled: [],
        aliases: adopted,
      };
      queued.push(pulled);
      queuedMeta = { v: 1, cursor: body.cursor, pulledAt } as CacheMeta;
      // `items` is rebuilt at the last page, or when the last rebuild is 250 ms old: at once
      // for a page that came slowly, else 250 ms after the last rebuild, also while the next
      // page is slow (a slow network still shows progress), not for every page.
      held = body.more ? 3 : 0;
      flush();
      applyRows(pulled, body.more);
      // The other tabs' lastPulledAt follows this pull: its last page, posted once stored, says
      // when it ended (not applied here: this tab sets it once the page is stored, below).
      if (!body.more) pulled.t = pulledAt as number;
      // (Not keeping Node's event loop running.)
      timer ??= unrefTimer(
        setTimeout(
          () => {
            timer = undefined;
            shownAt = Date.now();
            held = 0;
            flush();
            view.publishRows();
          },
          shownAt + 250 - Date.now(),
        ),
      );
      if (!body.more) {
        await writing;
        check();
        void cache.saveClock(clock.lastStamp).catch(() => {});
        publish(() => {
          lastPulledAt.value = pulledAt as number; // set at the last page
          lastError.value = skewed;
        });
        return;
      }
      if (page >= maxPages)
        throw await (await import('./conflicts.js')).failPull(
          host,
          'collections/bad-response',
          `pull of ${options.url}: the feed still says more after ${page} pages; the next pull goes on from the last one.`,
        );
      // A task between pages (the next one is already asked for): a fetch that answers in
      // microtasks (a cache) would otherwise hold the page until the last one, its timers, input
      // and rendering with it.
      await new Promise((resume) => setTimeout(resume));
    }
  } finally {
    clearTimeout(timer);
    held = 0;
    await flush(); // what was fetched before a failure is still stored
  }
}

/**
 * A pull's answer (to the request for `page`, since `cursor`) checked: the changes page, or the
 * error to throw, reported (see failPull) — `collections/pull-failed` with the answer's status
 * when it is not 2xx, `collections/bad-response` when it is not a changes page. A 410 to the
 * first page asked for since a stored cursor is no failure: the pull starts again (`restart`) from
 * the first page. @internal
 */
export async function checkAnswer<R extends Row>(
  host: ConflictHost<R>,
  { status, body }: { status: number; body: unknown },
  cursor: string,
  page: number,
  restart: () => Promise<PulledPage<R> | undefined>,
): Promise<PulledPage<R> | undefined> {
  const { url, key } = host[0];
  // (Not 2xx: the hundreds digit is not 2.)
  const failed = (status / 100) ^ 2;
  const problem = failed ? '' : pageProblem((body ?? {}) as Record<string, unknown>, cursor, key);
  if (problem === undefined) return body as PulledPage<R>;
  const { failPull } = await import('./conflicts.js');
  const error = await (failed
    ? failPull(
        host,
        'collections/pull-failed',
        `pull of ${url} was answered ${status} (page ${page}).`,
        undefined,
        status,
        page < 2 && cursor, // (a 410 only: see failPull)
      )
    : failPull(
        host,
        'collections/bad-response',
        `pull of ${url} (page ${page}): ${problem}.`,
        undefined,
        status,
      ));
  if (!error) return restart();
  throw error;
}

/**
 * What is wrong with a pull's answer — undefined when it is a changes page: `{ changes: Row[],
 * deleted: id[], cursor: string, more: boolean, clock?: string }` that does not say `more` with
 * the cursor it was asked with (which would ask for the same page again, forever), nor lists an
 * id both in `changes` and in `deleted` (which state is the latest?). Ids are
 * non-empty strings; a finite number (a SQL serial) is turned into its string here, in the body,
 * as Sync's serverId is (`1` → `'1'`), so a row's key is always a string. A problem is a string
 * ('' in the production build). @internal
 */
export function pageProblem(body: Record<string, unknown>, cursor: string, key: string): string | undefined {
  const { changes, deleted } = body;
  if (!Array.isArray(changes) || !Array.isArray(deleted))
    return refuse('the answer is not { changes: Row[], deleted: id[], cursor: string, more: boolean }');
  // The ids of `changes`: an id also in `deleted` says two states of one row, and a page does not
  // say which came last (a deletion, then a re-creation?). A page lists an id at most once.
  const ids = new Set<string>();
  for (const [index, row] of changes.entries()) {
    if (row === null || typeof row !== 'object' || Array.isArray(row))
      return refuse(`changes[${index}] is ${describeInput(row)}, not a row object`);
    const id = idOf(row[key]);
    if (id === undefined)
      return refuse(
        `changes[${index}]."${key}" is ${describeInput(row[key])}: a row's id must be a non-empty string (or a finite number, taken as its string)`,
      );
    // What `If-Match: "<version>"` would send for a later update or removal of the row: a header
    // cannot carry it (a CR or LF would split it), so the row is not taken (see sendableVersion).
    if (!sendableVersion(row.version))
      return refuse(
        `changes[${index}].version is ${describeInput(row.version)}: a version must be a number or a string of characters an If-Match header can carry (no CR, LF or other control character, nothing past U+00FF)`,
      );
    row[key] = id;
    ids.add(id);
  }
  for (const [index, value] of deleted.entries()) {
    const id = idOf(value);
    if (id === undefined)
      return refuse(
        `deleted[${index}] is ${describeInput(value)}: ids must be non-empty strings (or finite numbers)`,
      );
    if (ids.has(id))
      return refuse(
        `deleted[${index}] ("${id}") is also in changes: a page lists an id at most once, in its latest state (it does not say which came last)`,
      );
    deleted[index] = id;
  }
  if (typeof body.cursor !== 'string') return refuse(`cursor is ${describeInput(body.cursor)}, not a string`);
  if (typeof body.more !== 'boolean') return refuse(`more is ${describeInput(body.more)}, not a boolean`);
  if (body.clock !== undefined && typeof body.clock !== 'string')
    return refuse(`clock is ${describeInput(body.clock)}, not a string`);
  if (body.more && body.cursor === cursor)
    return refuse(
      `the page says more with the cursor it was asked with ("${cursor}"): it would be asked for again, forever`,
    );
  return undefined;
}

/**
 * Whether a row's `version` can go in the `If-Match: "<version>"` of a later update or removal:
 * anything but a string (a number; no version: no If-Match), or a string of tab, printable ASCII
 * and U+0080–U+00FF, what a header value carries (the outbox refuses the rest with
 * `sync/invalid-headers`, so the row could never be changed). conflicts.ts (a 412's row) and
 * collection.ts (an answer's row) check it alike. @internal
 */
export function sendableVersion(version: unknown): boolean {
  return typeof version !== 'string' || !/[^\t\x20-\x7e\x80-\xff]/.test(version);
}

/** A problem of a page, in prose: the production build keeps `refuse()`, '' (a problem still). */
function refuse(problem = ''): string {
  return problem;
}

/** An id as a row's key holds it: a non-empty string, or a finite number's string; else undefined. */
function idOf(value: unknown): string | undefined {
  if (Number.isFinite(value)) return `${value}`;
  return typeof value === 'string' && value ? value : undefined;
}

/**
 * Rows that carry the temporary id of a pending insert (the `clientIdField` option) are that
 * insert's rows: the temporary id stands for their id from now on. Returns the new aliases.
 * Used only by a collection with `clientIdField`. @internal
 */
export function adoptClientIds<R extends Row>(
  rows: readonly R[],
  field: string,
  key: string,
  view: RowView<R>,
): Array<[string, string]> {
  const adopted: Array<[string, string]> = [];
  for (const row of rows) {
    const tempId = row[field];
    const unresolvedInsert =
      typeof tempId === 'string' &&
      !view.aliasMap.has(tempId) &&
      view.changeList.some((change) => change.type === 'insert' && change.id === tempId);
    if (unresolvedInsert) {
      view.addAlias(tempId, row[key] as string);
      adopted.push([tempId, row[key] as string]);
    }
  }
  return adopted;
}

/** The pages of one pull at most: past them, the feed is taken to say `more` forever (see pullPages). */
const maxPages = 1000;

/**
 * Show the rows stored (by another tab's pull, whose messages may have been lost). Read again if
 * this tab confirmed or dropped rows meanwhile (`epoch()` moved): an answer's write may not be
 * stored yet (`writes`), and the rows read must not undo it. In this lazy chunk: only a pull that
 * waited for another tab's needs it. @internal
 */
export async function reread<R extends Row>(
  [, cache, , view]: ConflictHost<R>,
  writes: ReadonlySet<Promise<unknown>>,
  epoch: () => number,
): Promise<void> {
  let at: number;
  let rows: R[];
  do {
    await Promise.all([...writes]);
    at = epoch();
    rows = await cache.readRows();
  } while (at !== epoch());
  view.confirmRows(rows, []);
}

function unrefTimer<T>(timer: T): T {
  (timer as { unref?: () => void }).unref?.();
  return timer;
}
