import { invalidArgument } from '../core/errors.js';
import { checkOptions } from '../core/input-checks.js';
import { formatStamp, parseStamp } from '../plugins/collections/clock.js';

/** Options of one collection a {@link FaultServer} serves (see `FaultServerOptions.collections`). */
export interface FaultCollectionOptions {
  /** The field that holds a row's id, as the Collection's `key` option. @default 'id' */
  key?: string;
  /** Rows (and deletions) per page of the changes feed; small values make a pull take several pages. @default 100 */
  pageSize?: number;
}

/** A row as a fault server keeps it: your fields, its id under `key`, and a numeric `version`. */
export type ServerRow = Record<string, unknown>;

/** An HTTP answer (status and JSON text). @internal */
export interface Answer {
  status: number;
  body: string;
  /** Headers to send with it (a 409's `Retry-After`). */
  headers?: Record<string, string>;
}

interface Entry {
  row: ServerRow;
  /** The clock of the write that set each field (last writer wins). */
  clocks: Record<string, string>;
  /** Its position in the change log (the cursor counts these). */
  seq: number;
  /** Set when the row is deleted: the deletion's clock ('' without one). */
  deleted?: string;
}

/** The greatest counter of a stamp ('zzzz'). */
const lastCounter = 36 ** 4 - 1;

const json = (status: number, value: unknown): Answer => ({ status, body: JSON.stringify(value) });
const fail = (status: number, error: string, message: string): Answer => json(status, { error, message });

/**
 * One collection of a fault server: rows with numeric versions, a change log read through opaque
 * cursors, tombstones, per-field clocks (`Fluxy-Clock`, last writer wins) and `If-Match` → 412 —
 * the protocol of docs/collections.md, as the reference server (examples/server/notes.mjs) plays
 * it for notes. Pure: the fault server adds HTTP, faults and Idempotency-Key dedupe. @internal
 */
export class FaultCollection {
  readonly #key: string;
  readonly #pageSize: number;
  readonly #entries = new Map<string, Entry>();
  #seq = 0;
  #ids = 0;
  /** The greatest clock seen, served with each feed page. */
  #newest: string | undefined;
  /** Names this change log in its cursors: another server's (or a reset's) cursor is expired. */
  #epoch = newEpoch();

  constructor(path: string, options: FaultCollectionOptions) {
    const { key = 'id', pageSize = 100 }: FaultCollectionOptions = checkOptions(
      options,
      ['key', 'pageSize'],
      (problem) => invalidArgument(`FaultServer: collections['${path}'] ${problem}, e.g. { pageSize: 2 }.`),
    );
    if (typeof key !== 'string' || key === '' || key === 'version')
      throw invalidArgument(
        `FaultServer: collections['${path}'].key must be a field name other than 'version'.`,
      );
    if (!Number.isInteger(pageSize) || pageSize < 1)
      throw invalidArgument(`FaultServer: collections['${path}'].pageSize must be a whole number from 1.`);
    this.#key = key;
    this.#pageSize = pageSize;
  }

  /** The rows not deleted, copies, in the order they were created. */
  rows(): ServerRow[] {
    return [...this.#entries.values()].filter((entry) => entry.deleted === undefined).map(copy);
  }

  /** The data wiped or restored: no row, a new change log (cursors served before expire). */
  reset(): void {
    this.#entries.clear();
    this.#seq = 0;
    let epoch: string;
    do epoch = newEpoch();
    while (epoch === this.#epoch);
    this.#epoch = epoch;
  }

  /** A write of another device: sets the given fields (creating the row, or bringing it back). */
  put(fields: ServerRow, clock?: string): ServerRow {
    const { [this.#key]: id, version: _version, ...rest } = fields;
    if (id !== undefined && (typeof id !== 'string' || id === ''))
      throw invalidArgument(`FaultServer.put(): the row's "${this.#key}" must be a non-empty string.`);
    const stamp = this.#stamp(clock, 'put');
    let entry = this.#entries.get(id ?? '');
    if (entry) {
      delete entry.deleted;
      entry.row.version = (entry.row.version as number) + 1;
    } else entry = this.#create(id ?? this.#newId());
    for (const [field, value] of Object.entries(rest)) {
      setField(entry.row, field, value);
      entry.clocks[field] = stamp;
    }
    entry.seq = ++this.#seq;
    return copy(entry);
  }

  /** A delete of another device: false when there is no such row (or it is deleted already). */
  remove(id: string, clock?: string): boolean {
    const entry = this.#entries.get(id);
    const stamp = this.#stamp(clock, 'remove');
    if (!entry || entry.deleted !== undefined) return false;
    entry.deleted = stamp;
    entry.seq = ++this.#seq;
    return true;
  }

  /** Answers a request to the collection (`id` null) or to one of its rows. */
  answer(
    method: string,
    id: string | null,
    query: URLSearchParams,
    text: string,
    headers: Readonly<Record<string, string | string[] | undefined>>,
  ): Answer {
    if (method === 'GET') {
      if (id !== null) return this.#read(id);
      return query.has('since') ? this.#feed(query.get('since') as string) : json(200, this.rows());
    }
    const header = (name: string): string | undefined => [headers[name]].flat()[0];
    const clock = header('fluxy-clock');
    const ifMatch = header('if-match');
    if (clock !== undefined && !parseStamp(clock))
      return fail(400, 'invalid-clock', 'Fluxy-Clock must be a hybrid logical clock stamp.');
    if (ifMatch !== undefined && ifMatch !== '*' && !/^"[^"]*"$/.test(ifMatch))
      return fail(400, 'invalid-if-match', 'If-Match must be a quoted version, e.g. "3".');
    let fields: ServerRow | undefined;
    if (method !== 'DELETE') {
      fields = parseFields(text);
      if (!fields) return fail(400, 'invalid-body', 'Send a JSON object of fields.');
      if (id !== null && fields[this.#key] !== undefined && fields[this.#key] !== id)
        return fail(400, 'invalid-body', `A patch cannot change "${this.#key}".`);
      delete fields[this.#key];
      delete fields.version; // the server's
    }
    if (id === null) {
      if (method !== 'POST') return fail(405, 'method-not-allowed', 'Use GET or POST.');
      this.#see(clock);
      const entry = this.#create(this.#newId());
      // A write without Fluxy-Clock keeps the server's own stamp, as the reference server does.
      const stamp = clock ?? this.#stamp(undefined, 'answer');
      for (const [field, value] of Object.entries(fields as ServerRow)) {
        setField(entry.row, field, value);
        entry.clocks[field] = stamp;
      }
      return json(201, entry.row);
    }
    if (method !== 'PATCH' && method !== 'DELETE')
      return fail(405, 'method-not-allowed', 'Use GET, PATCH or DELETE.');
    if (method === 'PATCH' && Object.keys(fields as ServerRow).length === 0)
      return fail(400, 'invalid-body', 'Send at least one field.');
    const entry = this.#entries.get(id);
    if (!entry) return fail(404, 'not-found', `There is no row "${id}".`);
    if (entry.deleted !== undefined) {
      // Last writer wins for deletions too (docs/conflicts.md): a newer write brings the row back;
      // an older one still sets the deleted row's fields it is newer for, so order never matters.
      if (clock === undefined || ifMatch !== undefined) return this.#read(id);
      this.#see(clock);
      if (method === 'DELETE') {
        if (clock > entry.deleted) entry.deleted = clock;
        return { status: 204, body: '' };
      }
      if (clock <= entry.deleted) {
        this.#patch(entry, fields as ServerRow, clock);
        return this.#read(id);
      }
      delete entry.deleted;
      entry.seq = ++this.#seq; // back in the feed, even if no field is newer
    }
    if (ifMatch !== undefined && ifMatch !== '*' && ifMatch !== `"${entry.row.version}"`)
      return json(412, { error: 'precondition-failed', current: entry.row });
    this.#see(clock);
    if (method === 'DELETE') {
      const newest = Object.values(entry.clocks).sort().at(-1) ?? '';
      if (clock !== undefined && clock <= newest) return json(200, entry.row); // the delete lost
      entry.deleted = clock ?? this.#stamp(undefined, 'answer');
      entry.seq = ++this.#seq;
      return { status: 204, body: '' };
    }
    if (this.#patch(entry, fields as ServerRow, clock)) {
      entry.row.version = (entry.row.version as number) + 1;
      entry.seq = ++this.#seq;
    }
    return json(200, entry.row);
  }

  /**
   * Sets each field the clock is newer for (every field, for a write without one, which keeps the
   * server's own stamp); whether any was set.
   */
  #patch(entry: Entry, fields: ServerRow, clock: string | undefined): boolean {
    let changed = false;
    let stamp = clock;
    for (const [field, value] of Object.entries(fields)) {
      const own = entry.clocks[field];
      if (clock !== undefined && own !== undefined && own >= clock) continue;
      setField(entry.row, field, value);
      stamp ??= this.#stamp(undefined, 'answer');
      entry.clocks[field] = stamp;
      changed = true;
    }
    return changed;
  }

  #read(id: string): Answer {
    const entry = this.#entries.get(id);
    if (!entry) return fail(404, 'not-found', `There is no row "${id}".`);
    if (entry.deleted !== undefined) return fail(410, 'gone', `The row "${id}" was deleted.`);
    return json(200, entry.row);
  }

  /** One page of the changes after `since`, in change order. */
  #feed(since: string): Answer {
    const match = /^fc1\.([0-9a-z]{1,6})\.([0-9a-z]{1,11})$/.exec(since);
    if (since !== '' && !match)
      return fail(400, 'invalid-cursor', 'Unknown cursor: pull again from the start (since=).');
    const from = match ? Number.parseInt(match[2] as string, 36) : 0;
    // A cursor of another server (a test's restart: the data was reset) or past this log.
    if (match && (match[1] !== this.#epoch || from > this.#seq))
      return fail(
        410,
        'cursor-expired',
        'This cursor is from data the server no longer has: pull again from since=.',
      );
    const after = [...this.#entries.values()].filter((entry) => entry.seq > from);
    after.sort((a, b) => a.seq - b.seq);
    const page = after.slice(0, this.#pageSize);
    const last = page.at(-1)?.seq ?? Math.max(from, this.#seq);
    return json(200, {
      changes: page.filter((entry) => entry.deleted === undefined).map((entry) => entry.row),
      deleted: page.filter((entry) => entry.deleted !== undefined).map((entry) => entry.row[this.#key]),
      cursor: `fc1.${this.#epoch}.${last.toString(36)}`,
      more: after.length > page.length,
      ...(this.#newest === undefined ? {} : { clock: this.#newest }),
    });
  }

  #create(id: string): Entry {
    // (No prototype for the clocks: a field named "__proto__" or "constructor" is a field.)
    const entry: Entry = {
      row: { [this.#key]: id, version: 1 },
      clocks: Object.create(null),
      seq: ++this.#seq,
    };
    this.#entries.set(id, entry);
    return entry;
  }

  #newId(): string {
    let id: string;
    do id = `srv-${++this.#ids}`;
    while (this.#entries.has(id));
    return id;
  }

  /** The clock of a write of the test: the one given (checked), else a new one of the server's. */
  #stamp(clock: string | undefined, method: string): string {
    if (clock !== undefined && !parseStamp(clock))
      throw invalidArgument(
        `FaultServer.${method}(): clock must be a hybrid logical clock stamp (got ${JSON.stringify(clock)}).`,
      );
    // Default: the last stamp of this millisecond (or of the first one after every clock seen),
    // so it sorts after every change made before it, sent or not, by a replica on this machine's
    // clock — a replica can only have reached the clocks the server served.
    const seen = parseStamp(this.#newest) ?? { time: 0, counter: 0 };
    const time = Math.max(Date.now(), seen.counter === lastCounter ? seen.time + 1 : seen.time);
    const stamp = clock ?? formatStamp({ time, counter: lastCounter, node: 'faultserver' });
    this.#see(stamp);
    return stamp;
  }

  #see(clock: string | undefined): void {
    if (clock === undefined) return;
    if (this.#newest === undefined || clock > this.#newest) this.#newest = clock;
  }
}

function newEpoch(): string {
  return Math.floor(Math.random() * 36 ** 6).toString(36);
}

/** Sets a row's field as data, even one named "__proto__" (an assignment would set the prototype). */
function setField(row: ServerRow, field: string, value: unknown): void {
  Object.defineProperty(row, field, { value, enumerable: true, writable: true, configurable: true });
}

function copy(entry: Entry): ServerRow {
  return structuredClone(entry.row);
}

function parseFields(text: string): ServerRow | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as ServerRow)
      : undefined;
  } catch {
    return undefined;
  }
}
