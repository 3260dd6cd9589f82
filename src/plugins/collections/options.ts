import { FluxyError } from '../../core/errors.js';

/** A row of a collection: a JSON object whose `key` field holds its id (a string). */
export type Row = Record<string, unknown>;

/** What a conflict function receives (see docs/conflicts.md). */
export interface ConflictInput<R extends Row> {
  /** The row as this replica would show it with its change applied. */
  local: R;
  /** The server's current row; `null` when the server deleted it. */
  server: R | null;
  /** The row as it was when the change was made (the three-way base). */
  base: R | null;
}

/**
 * How a write that raced another replica's is settled:
 * - `'lww'` (default): last writer wins per field, by hybrid logical clock, decided by the server.
 * - `'server-wins'`, `'client-wins'`, or a merge function: writes carry `If-Match` of the row
 *   version they were made on, and a server whose row moved on answers `412`.
 */
export type ConflictStrategy<R extends Row> =
  | 'lww'
  | 'server-wins'
  | 'client-wins'
  | ((conflict: ConflictInput<R>) => Partial<R> | null);

/** The part of the Web Locks API a collection uses (`navigator.locks`). */
export interface CollectionLocks {
  request(
    name: string,
    options: { ifAvailable?: boolean },
    callback: (lock: unknown) => Promise<unknown>,
  ): Promise<unknown>;
}

/** Options of a {@link Collection}. */
export interface CollectionOptions<R extends Row> {
  /**
   * The resource URL, resolved like `sync.queue()` URLs (against the SyncPlugin's `baseUrl`):
   * `GET url?since=<cursor>` pulls, `POST url` inserts, `PATCH url/:id` updates, `DELETE url/:id` removes.
   */
  url: string;
  /** The field that holds a row's id (a string). @default 'id' */
  key?: string;
  /** @default 'lww' */
  conflict?: ConflictStrategy<R>;
  /**
   * A field that carries the temporary id of an insert to the server, which stores it with the
   * row (the reference server's `clientId`). A pulled row that carries it is then recognised as
   * the row of a pending insert whose answer has not arrived (lost on the way, or not yet sent by
   * another tab), instead of being shown twice. Leave unset if your server does not keep it.
   * @default undefined (not sent)
   */
  clientIdField?: string;
  /** Pull every this many ms while online (also on reconnect, on becoming visible, on `pull()`); 0 = only then. @default 30000 */
  pullIntervalMs?: number;
  /** The order of `items`. @default by id, shorter ids first (`n_2` before `n_10`), then pending inserts in the order made */
  compare?: (a: R, b: R) => number;
  /** Web Locks for one pull at a time across tabs; `false` for none. @default navigator.locks where it exists */
  locks?: CollectionLocks | false;
  /** The wall clock of the hybrid logical clock, ms since the epoch. @default Date.now */
  now?: () => number;
}

/** @internal */
export interface ResolvedCollectionOptions<R extends Row> {
  url: string;
  key: string;
  conflict: ConflictStrategy<R>;
  clientIdField: string | undefined;
  pullIntervalMs: number;
  compare: ((a: R, b: R) => number) | undefined;
  locks: CollectionLocks | false | undefined;
  now: () => number;
}

const optionNames = ['url', 'key', 'conflict', 'clientIdField', 'pullIntervalMs', 'compare', 'locks', 'now'];
const strategies = ['lww', 'server-wins', 'client-wins'];

function invalid(message: string): FluxyError {
  return new FluxyError('collections/invalid-options', message);
}

/** Validates the constructor arguments. @internal */
export function resolveCollectionOptions<R extends Row>(
  name: unknown,
  options: CollectionOptions<R> | undefined,
): ResolvedCollectionOptions<R> {
  if (typeof name !== 'string' || !/^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(name)) {
    throw invalid(
      `new Collection(name, options): name must be 1-64 letters, digits, "_" or "-", starting with a letter (it names the plugin, its storage and its operation kinds), got ${JSON.stringify(name)}.`,
    );
  }
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalid(`new Collection('${name}', options): options must be an object with at least { url }.`);
  }
  const unknown = Object.keys(options).filter((option) => !optionNames.includes(option));
  if (unknown.length > 0) {
    throw invalid(
      `new Collection('${name}'): unknown option(s) ${unknown.join(', ')}. Known: ${optionNames.join(', ')}.`,
    );
  }
  const {
    url,
    key = 'id',
    conflict = 'lww',
    clientIdField,
    pullIntervalMs = 30_000,
    compare,
    locks,
    now = Date.now,
  } = options;
  if (
    clientIdField !== undefined &&
    (typeof clientIdField !== 'string' ||
      clientIdField === '' ||
      clientIdField === key ||
      clientIdField === '__proto__')
  ) {
    throw invalid(
      `new Collection('${name}'): clientIdField must be the name of a field other than the key, e.g. 'clientId' (got ${JSON.stringify(clientIdField)}).`,
    );
  }
  if (typeof url !== 'string' || url.trim() === '' || /[?#\s]/.test(url)) {
    throw invalid(
      `new Collection('${name}'): url must be the resource path or URL without query or fragment, e.g. '/notes' (got ${JSON.stringify(url)}).`,
    );
  }
  if (typeof key !== 'string' || key === '' || key === '__proto__') {
    throw invalid(
      `new Collection('${name}'): key must be the name of the id field, e.g. 'id' (got ${JSON.stringify(key)}).`,
    );
  }
  if (typeof conflict !== 'function' && !strategies.includes(conflict as string)) {
    throw invalid(
      `new Collection('${name}'): conflict must be 'lww', 'server-wins', 'client-wins' or a function ({ local, server, base }) => patch | null (got ${JSON.stringify(conflict)}).`,
    );
  }
  if (
    typeof pullIntervalMs !== 'number' ||
    !Number.isFinite(pullIntervalMs) ||
    pullIntervalMs < 0 ||
    (pullIntervalMs > 0 && pullIntervalMs < 1000)
  ) {
    throw invalid(
      `new Collection('${name}'): pullIntervalMs must be 0 (only on demand) or at least 1000 ms (got ${String(pullIntervalMs)}).`,
    );
  }
  if (compare !== undefined && typeof compare !== 'function') {
    throw invalid(`new Collection('${name}'): compare must be a function (a, b) => number.`);
  }
  if (locks !== undefined && locks !== false && typeof (locks as CollectionLocks)?.request !== 'function') {
    throw invalid(`new Collection('${name}'): locks must be a LockManager (navigator.locks) or false.`);
  }
  if (typeof now !== 'function')
    throw invalid(`new Collection('${name}'): now must be a function returning ms since the epoch.`);
  return { url: url.replace(/\/+$/, ''), key, conflict, clientIdField, pullIntervalMs, compare, locks, now };
}
