import { checkOptions, describeInput } from '../../core/input-checks.js';
import type { LockManagerLike } from '../../core/platform-types.js';
import { FluxyError } from './deps.js';

/** The error codes of `fluxy/collections` (docs/errors.md says what each means and what to do). */
export type CollectionsErrorCode =
  | 'collections/invalid-options'
  | 'collections/invalid-row'
  | 'collections/unknown-row'
  | 'collections/offline'
  | 'collections/pull-failed'
  | 'collections/bad-response'
  | 'collections/clock-skew'
  | 'collections/merge-failed'
  | 'collections/conflict-failed';

/** A row of a collection: a JSON object whose `key` field holds its id (a string). */
export type Row = Record<string, unknown>;

/** What a conflict function receives (see docs/conflicts.md). */
export interface ConflictInput<R extends Row> {
  /**
   * The server's current row with this replica's change on top (a field the change did not set
   * holds the server's value: compare with `server`, not `base`, to find the fields it sets);
   * `null` when the change is a remove (then return `null` to keep the server's row, anything
   * else to remove it anyway).
   */
  local: R | null;
  /**
   * The server's current row. Never `null` in practice: a change to a row the server deleted
   * (404/410) is dropped without calling the function, and reported with `server: null` in the
   * `conflict` event.
   */
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

/**
 * The part of the Web Locks API a collection uses (`navigator.locks`): Fluxy's one
 * `LockManagerLike`, the same as the storage and sync plugins'.
 */
export type CollectionLocks = LockManagerLike;

/** Options of a {@link Collection}. */
export interface CollectionOptions<R extends Row> {
  /**
   * The resource URL, a path or an absolute http(s) URL without query or fragment, resolved like
   * `sync.queue()` URLs (against the SyncPlugin's `baseUrl`):
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
  /** Pull every this many ms while online (also at ready(), on reconnect, on becoming visible, on `pull()`); 0 = only on `pull()` (repair pulls after this collection's writes still run); else a whole number from 1000 to 2^31 - 1. @default 30000 */
  pullIntervalMs?: number;
  /** The order of `items`. @default by id, shorter ids first (`n_2` before `n_10`), then pending inserts in the order made */
  compare?: (a: R, b: R) => number;
  /** Web Locks for one pull at a time across tabs; `false` for none. @default navigator.locks where it exists */
  locks?: CollectionLocks | false;
  /** The wall clock of the hybrid logical clock, ms since the epoch. @default () => Date.now() */
  now?: () => number;
  /**
   * Randomness for the hybrid logical clock's node id (6 bytes, each `random() * 256` truncated),
   * in [0, 1) like `Math.random`: collections given the same function stamp alike (tests). Not
   * for production: two replicas with one node id can stamp the same change twice.
   * @default WebCrypto's getRandomValues
   */
  random?: () => number;
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
  /** Undefined: the clock reads `Date.now()` at each tick (so fake timers installed later apply). */
  now: (() => number) | undefined;
  random: (() => number) | undefined;
}

const optionNames = [
  'url',
  'key',
  'conflict',
  'clientIdField',
  'pullIntervalMs',
  'compare',
  'locks',
  'now',
  'random',
];
const strategies = ['lww', 'server-wins', 'client-wins'];

/** Validates the constructor arguments. @internal */
export function resolveCollectionOptions<R extends Row>(
  name: unknown,
  options: CollectionOptions<R> | undefined,
): ResolvedCollectionOptions<R> {
  // The whole problem is one prose argument: the production build keeps `fail('')`.
  const fail = (problem: string): never => {
    throw new FluxyError(
      'collections/invalid-options',
      `new Collection(${describeInput(name)}): ${problem} (see the options in docs/collections.md).`,
    );
  };
  // Not a built-in plugin's name: the collection depends on those (its register() would fail).
  if (typeof name !== 'string' || !/^(?!(storage|connectivity|sync)$)[A-Za-z][\w-]{0,63}$/.test(name)) {
    fail(
      `the name must be 1-64 letters, digits, _ or -, starting with a letter, and not storage, connectivity or sync (it names the plugin, its storage and its kinds) (got ${describeInput(name)})`,
    );
  }
  // (fail throws: checkOptions throws what it returns.)
  const given = checkOptions(options, optionNames, (problem) =>
    fail(`options ${problem}; at least { url } is needed`),
  ) as unknown as CollectionOptions<R>;
  const {
    url,
    key = 'id',
    conflict = 'lww',
    clientIdField,
    pullIntervalMs = 30_000,
    compare,
    locks,
    now,
    random,
  } = given;
  // Not a name every object has (`__proto__`, `constructor`, `toString`…): `key in fields` would
  // always be true.
  const isName = (value: unknown) => typeof value === 'string' && value !== '' && !(value in {});
  // A path, or an absolute http(s) URL with a host, as the outbox sends (not `//host`, not `ftp:`,
  // not `https://` or `http:notes`), without a query, a fragment or spaces (`?since=` is added to it).
  if (typeof url !== 'string' || !/^(?!\/\/|(?!https?:\/\/[^/])[a-z][a-z\d+.-]*:)[^?#\s]+$/i.test(url))
    fail(
      `url must be the resource path without query or fragment, e.g. '/notes', or an absolute http(s) URL with a host (got ${describeInput(url)})`,
    );
  if (!isName(key)) fail(`key must be the id field's name, e.g. 'id' (got ${describeInput(key)})`);
  if (clientIdField !== undefined && (!isName(clientIdField) || clientIdField === key))
    fail(
      `clientIdField must be a field other than the key, e.g. 'clientId' (got ${describeInput(clientIdField)})`,
    );
  if (typeof conflict !== 'function' && !strategies.includes(conflict as string)) {
    fail(
      `conflict must be 'lww', 'server-wins', 'client-wins' or a function ({ local, server, base }) => patch | null (got ${describeInput(conflict)})`,
    );
  }
  // A whole number of ms that setInterval can hold (over 2^31 - 1 it would fire at once, forever);
  // a number first (`| 0` throws a TypeError for a BigInt).
  if (
    !(
      pullIntervalMs === 0 ||
      (typeof pullIntervalMs === 'number' &&
        pullIntervalMs >= 1000 &&
        (pullIntervalMs | 0) === pullIntervalMs)
    )
  ) {
    fail(
      `pullIntervalMs must be 0 (only on demand) or a whole number from 1000 to 2^31 - 1 (got ${describeInput(pullIntervalMs)})`,
    );
  }
  if (locks !== undefined && locks !== false && typeof (locks as CollectionLocks)?.request !== 'function')
    fail(`locks must be navigator.locks or false (got ${describeInput(locks)})`);
  // One check of the three functions (what the production build keeps is one).
  const bad = [compare, now, random].find((value) => value !== undefined && typeof value !== 'function');
  // (The option named in the prose alone: the production build keeps `fail('')`.)
  if (bad !== undefined)
    fail(
      `${bad === compare ? 'compare' : bad === now ? 'now' : 'random'} must be a function (compare (a, b) => number, now () => ms since the epoch, random () => a number in [0, 1)) (got ${describeInput(bad)})`,
    );
  return {
    url: (url as string).replace(/\/+$/, ''),
    key,
    conflict,
    clientIdField,
    pullIntervalMs,
    compare,
    locks,
    now,
    random,
  };
}
