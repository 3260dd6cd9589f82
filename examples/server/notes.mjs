// @ts-check
/**
 * The notes API: the example app's data, kept deliberately simple.
 *
 *   GET    /api/notes        list, in creation order
 *   GET    /api/notes?since=<cursor>&limit=<n>
 *                            the changes feed of collections: { changes, deleted, cursor, more, clock }
 *   POST   /api/notes        { title, body?, clientId?, photo? } → 201 note (photo: an upload's id or url)
 *   GET    /api/notes/:id    → note
 *   PUT    /api/notes/:id    { title, body? } → note (replaces title and body)
 *   PATCH  /api/notes/:id    { title?, body? } → note
 *   DELETE /api/notes/:id    → 204
 *
 * Handlers are plain functions over the data: they return a Reply and say whether they
 * changed anything. HTTP, idempotency and persistence are the caller's business.
 *
 * Collections (docs/collections.md): every change takes the next `seq`; the feed returns the
 * notes and deletions after a cursor (an opaque string for the client: `c1.<epoch>.<seq>`) in
 * seq order, paged. The data's `epoch` is a random token chosen when the data is created and
 * again at every reset: a cursor of another epoch (or ahead of the data, as after a restore from
 * a backup) is answered 410 `cursor-expired`, and the client pulls again from `since=`. Note ids
 * carry the epoch too (`n_<number>_<epoch>`), so a note made after a reset never takes the id of
 * one a device still remembers.
 * A write may carry `Fluxy-Clock` (a hybrid logical clock stamp; one more than 5 minutes ahead
 * of the server's clock is refused, 400 `clock-ahead`; a write without one is stamped with the
 * server's own): each field keeps the clock of the write that set it, and a field is applied
 * only if the write's clock is newer (last writer wins, whatever order writes arrive in); a
 * delete applies only if its clock is newer than every field's. A write without `Fluxy-Clock`
 * applies as before (it is newer than everything the server has seen). A write may carry
 * `If-Match: "<version>"`: if the note has moved on, 412 with the current note, nothing applied.
 */
import { randomBytes } from 'node:crypto';
import { HttpError } from './http-json.mjs';
import { findUpload } from './uploads.mjs';

/**
 * @typedef {{ id: string, title: string, body: string, clientId: string | null,
 *   createdAt: string, updatedAt: string, version: number, photo?: string,
 *   _seq?: number, _clocks?: Record<string, string> }} Note
 *   (`_` fields are the server's bookkeeping, never sent)
 * @typedef {{ id: string, seq: number, clock: string, note?: Note }} Tombstone
 * @typedef {{ nextNoteNumber: number, notes: Note[], changeSeq?: number, tombstones?: Tombstone[],
 *   clock?: string, epoch?: string }} NotesData
 *   (`epoch`: see newEpoch(); a data file from before epochs gets one when the server opens it)
 * @typedef {import('./http-json.mjs').Reply} Reply
 * @typedef {{ clock?: string, ifMatch?: string }} WriteConditions
 */

const TITLE_MAX_LENGTH = 200;
/** A write's `Fluxy-Clock` may be at most this far ahead of the server's clock: 5 minutes. */
export const MAX_CLOCK_AHEAD_MS = 5 * 60_000;
const CLIENT_ID_MAX_LENGTH = 200;
const COLLECTION_METHODS = 'GET, HEAD, POST';
const ITEM_METHODS = 'GET, HEAD, PUT, PATCH, DELETE';

/**
 * @param {string} pathname
 * @returns {{ id: string | null } | null} the note id (null for the collection), or null when
 *   the path is not a notes route
 */
export function routeNotes(pathname) {
  if (pathname === '/api/notes' || pathname === '/api/notes/') return { id: null };
  const match = /^\/api\/notes\/([^/]+)$/.exec(pathname);
  if (!match) return null;
  try {
    return { id: decodeURIComponent(/** @type {string} */ (match[1])) };
  } catch {
    return null;
  }
}

/**
 * GET and HEAD.
 * @param {NotesData} data
 * @param {string | null} id
 * @param {URLSearchParams} [query]
 * @param {number} [pageSize] of the changes feed
 * @returns {Reply}
 */
export function readNotes(data, id, query = new URLSearchParams(), pageSize = FEED_PAGE) {
  if (id === null && query.has('since')) return readChanges(data, query, pageSize);
  if (id === null) return { status: 200, json: data.notes.map(publicNote) };
  return { status: 200, json: publicNote(findNote(data, id)) };
}

const FEED_PAGE = 500;
const FEED_PAGE_MAX = 1000;

/**
 * The changes feed: notes changed and notes deleted after the cursor, in change order, at most
 * `limit` (default 500), with the cursor to ask from next and whether more are waiting.
 * @param {NotesData} data
 * @param {URLSearchParams} query
 * @param {number} pageSize
 * @returns {Reply}
 */
function readChanges(data, query, pageSize) {
  const since = parseCursor(data, query.get('since') ?? '');
  const limitText = query.get('limit');
  const limit = limitText === null ? pageSize : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > FEED_PAGE_MAX) {
    throw invalid(`"limit" must be an integer from 1 to ${FEED_PAGE_MAX}.`);
  }
  /** @type {Array<{ seq: number, note?: Note, deleted?: string }>} */
  const after = [];
  for (const note of data.notes) if ((note._seq ?? 0) > since) after.push({ seq: note._seq ?? 0, note });
  for (const tomb of data.tombstones ?? [])
    if (tomb.seq > since) after.push({ seq: tomb.seq, deleted: tomb.id });
  after.sort((a, b) => a.seq - b.seq);
  const page = after.slice(0, limit);
  const last = page.at(-1);
  return {
    status: 200,
    json: {
      changes: page.flatMap((entry) => (entry.note ? [publicNote(entry.note)] : [])),
      deleted: page.flatMap((entry) => (entry.deleted === undefined ? [] : [entry.deleted])),
      cursor: formatCursor(data, last ? last.seq : Math.max(since, data.changeSeq ?? 0)),
      more: after.length > page.length,
      ...(data.clock ? { clock: data.clock } : {}),
    },
  };
}

/**
 * A new epoch: 6 random base-36 characters. The data gets one when it is created, and a new one
 * when it is reset (control.mjs), so that its cursors and note ids are never those of data before.
 */
export function newEpoch() {
  return (randomBytes(4).readUInt32BE(0) % 36 ** 6).toString(36).padStart(6, '0');
}

/** @param {NotesData} data @param {number} seq */
function formatCursor(data, seq) {
  return `c1.${data.epoch ?? ''}.${seq.toString(36)}`;
}

/**
 * The seq a cursor stands for (0 for `since=` empty).
 * @param {NotesData} data @param {string} cursor
 * @throws {HttpError} 400 `invalid-cursor` for what is no cursor of this server; 410
 *   `cursor-expired` for a cursor of another epoch (the data was reset, or a cursor from before
 *   epochs: `c1.<seq>`) or ahead of the data (restored from an older backup)
 */
function parseCursor(data, cursor) {
  if (cursor === '') return 0;
  const match = /^c1\.(?:([0-9a-z]{1,16})\.)?([0-9a-z]{1,11})$/.exec(cursor);
  if (!match)
    throw new HttpError(400, 'invalid-cursor', 'Unknown cursor: pull again from the start (since=).');
  const seq = Number.parseInt(/** @type {string} */ (match[2]), 36);
  if (match[1] !== data.epoch || seq > (data.changeSeq ?? 0)) {
    throw new HttpError(
      410,
      'cursor-expired',
      "This cursor is from before the server's data was reset or restored: forget what it pulled and pull again from the start (since=).",
    );
  }
  return seq;
}

/** The note as clients see it (without the server's bookkeeping). @param {Note} note */
export function publicNote(note) {
  const { _seq, _clocks, ...rest } = note;
  return rest;
}

/** Marks a note (or a deletion) as the newest change. @param {NotesData} data */
function nextSeq(data) {
  data.changeSeq = (data.changeSeq ?? 0) + 1;
  return data.changeSeq;
}

/** Remembers the greatest clock seen, served with the feed. @param {NotesData} data @param {string | undefined} clock */
function seeClock(data, clock) {
  if (clock !== undefined && (data.clock === undefined || clock > data.clock)) data.clock = clock;
}

const STAMP = /^([0-9a-z]{9})-([0-9a-z]{4})-([0-9a-z]{1,32})$/;
/** The node id of the stamps the server gives writes that came without one (never a device's: hex). */
const SERVER_NODE = 'server';

/**
 * The server's own stamp for a write without `Fluxy-Clock`: its hybrid logical clock, after
 * every clock it has seen (so the write is the newest, as it always was) and at least its wall
 * clock. @param {NotesData} data @param {number} now
 */
function serverStamp(data, now) {
  const seen = STAMP.exec(data.clock ?? '');
  const seenTime = seen ? Number.parseInt(/** @type {string} */ (seen[1]), 36) : 0;
  const seenCounter = seen ? Number.parseInt(/** @type {string} */ (seen[2]), 36) : 0;
  let time = Math.max(Math.floor(now), seenTime);
  let counter = time === seenTime ? seenCounter + 1 : 0;
  if (counter >= 36 ** 4) [time, counter] = [time + 1, 0];
  return `${time.toString(36).padStart(9, '0')}-${counter.toString(36).padStart(4, '0')}-${SERVER_NODE}`;
}

/** @param {WriteConditions} conditions @param {number} now */
function checkConditions(conditions, now) {
  const stamp = conditions.clock === undefined ? undefined : STAMP.exec(conditions.clock);
  if (stamp === null) {
    throw invalid('"Fluxy-Clock" must be a hybrid logical clock stamp (see docs/collections.md).');
  }
  if (stamp && Number.parseInt(/** @type {string} */ (stamp[1]), 36) > now + MAX_CLOCK_AHEAD_MS) {
    const at = new Date(Number.parseInt(/** @type {string} */ (stamp[1]), 36)).toISOString();
    throw new HttpError(
      400,
      'clock-ahead',
      `"Fluxy-Clock" says ${at}, more than 5 minutes ahead of the server's clock (${new Date(now).toISOString()}): set the device's clock right, then send the change again.`,
    );
  }
  if (
    conditions.ifMatch !== undefined &&
    !/^"[^"]*"$/.test(conditions.ifMatch) &&
    conditions.ifMatch !== '*'
  ) {
    throw invalid('"If-Match" must be a quoted version, e.g. "3".');
  }
}

/**
 * 412 when If-Match names another version than the note's.
 * @param {Note} note @param {WriteConditions} conditions
 */
function checkVersion(note, conditions) {
  const expected = conditions.ifMatch;
  if (expected === undefined || expected === '*' || expected === `"${note.version}"`) return;
  const error = new HttpError(412, 'precondition-failed', `The note is at version ${note.version} now.`);
  throw Object.assign(error, { extra: { current: publicNote(note) } });
}

/**
 * POST, PUT, PATCH and DELETE, applied to `data` in place.
 * @param {NotesData} data
 * @param {{ method: string, id: string | null, input: unknown, now: number, conditions?: WriteConditions }} request
 * @returns {{ reply: Reply, changed: boolean }}
 * @throws {HttpError} for bad input, missing notes, unsupported methods; nothing is changed then
 */
export function writeNotes(data, { method, id, input, now, conditions = {} }) {
  const at = new Date(now).toISOString();
  checkConditions(conditions, now);
  const { clock } = conditions;
  // What the fields (or the deletion) written keep as their clock: the write's, or the server's
  // for a write without one, so that a later write from a device still compares with it.
  const stamp = clock ?? serverStamp(data, now);
  if (id === null) {
    if (method !== 'POST') throw methodNotAllowed(COLLECTION_METHODS);
    const fields = checkFields(input, ['title', 'body', 'clientId', 'photo'], ['title']);
    const title = checkTitle(fields.title);
    const body = checkBody(fields.body);
    const clientId = checkClientId(fields.clientId);
    const photo = checkPhoto(data, fields.photo);
    /** @type {Note} */
    const note = {
      id: `n_${data.nextNoteNumber++}_${data.epoch}`,
      title,
      body,
      clientId,
      createdAt: at,
      updatedAt: at,
      version: 1,
      _seq: nextSeq(data),
    };
    if (photo !== undefined) note.photo = photo;
    note._clocks = { title: stamp, body: stamp };
    seeClock(data, stamp);
    data.notes.push(note);
    return {
      reply: { status: 201, json: publicNote(note), headers: { Location: `/api/notes/${note.id}` } },
      changed: true,
    };
  }

  if (method !== 'DELETE' && method !== 'PUT' && method !== 'PATCH') throw methodNotAllowed(ITEM_METHODS);
  // Validate everything before touching the note (or its tombstone): a bad request changes
  // nothing — a deleted note is not brought back, nor given a field, by a write answered 400.
  const isPut = method === 'PUT';
  /** @type {Record<string, unknown>} */
  const fields = method === 'DELETE' ? {} : checkFields(input, ['title', 'body'], isPut ? ['title'] : []);
  if (method === 'PATCH' && Object.keys(fields).length === 0) {
    throw invalid('Send at least one of "title" and "body".');
  }
  const title = 'title' in fields ? checkTitle(fields.title) : undefined;
  const body = isPut || 'body' in fields ? checkBody(fields.body) : undefined;

  const tomb = (data.tombstones ?? []).find((candidate) => candidate.id === id);
  if (tomb && clock !== undefined && conditions.ifMatch === undefined) {
    // Last writer wins for deletions too: a write newer than the delete undoes it; an older one
    // still sets the fields of the deleted note it is newer for, so the order writes arrive in
    // never matters.
    if (method === 'DELETE') {
      seeClock(data, clock);
      if (clock > tomb.clock) tomb.clock = clock;
      return { reply: { status: 204 }, changed: false };
    }
    if (tomb.note && clock > tomb.clock) {
      data.tombstones = (data.tombstones ?? []).filter((candidate) => candidate !== tomb);
      data.notes.push(tomb.note);
    } else if (tomb.note) {
      const clocks = tomb.note._clocks ?? {};
      for (const field of ['title', 'body']) {
        const value = fields[field];
        if (typeof value === 'string' && !(clocks[field] !== undefined && clocks[field] >= clock)) {
          /** @type {Record<string, unknown>} */ (tomb.note)[field] = value;
          clocks[field] = clock;
        }
      }
      tomb.note._clocks = clocks;
      throw new HttpError(410, 'gone', `The note "${id}" was deleted.`);
    }
  }

  if (method === 'DELETE') {
    const note = findNote(data, id);
    checkVersion(note, conditions);
    seeClock(data, stamp);
    // Last writer wins: a delete older than a field's last write loses; the note stays.
    let newest = '';
    for (const fieldClock of Object.values(note._clocks ?? {})) if (fieldClock > newest) newest = fieldClock;
    if (clock !== undefined && clock <= newest)
      return { reply: { status: 200, json: publicNote(note) }, changed: false };
    data.notes.splice(data.notes.indexOf(note), 1);
    data.tombstones = data.tombstones ?? [];
    data.tombstones.push({ id, seq: nextSeq(data), clock: stamp, note });
    return { reply: { status: 204 }, changed: true };
  }
  const note = findNote(data, id);
  checkVersion(note, conditions);
  seeClock(data, stamp);
  /** @type {Record<string, string>} */
  const clocks = note._clocks ?? {};
  // Last writer wins per field: a field is set only by a write with a newer clock than its own.
  const newer = (/** @type {string} */ field) =>
    clock === undefined || !(clocks[field] !== undefined && clocks[field] >= clock);
  let applied = false;
  if (title !== undefined && newer('title')) {
    note.title = title;
    clocks.title = stamp;
    applied = true;
  }
  if (body !== undefined && newer('body')) {
    note.body = body;
    clocks.body = stamp;
    applied = true;
  }
  if (!applied) return { reply: { status: 200, json: publicNote(note) }, changed: false };
  note._clocks = clocks;
  note.updatedAt = at;
  note.version += 1;
  note._seq = nextSeq(data);
  return { reply: { status: 200, json: publicNote(note) }, changed: true };
}

/** @param {NotesData} data @param {string} id */
function findNote(data, id) {
  const note = data.notes.find((candidate) => candidate.id === id);
  if (note) return note;
  if ((data.tombstones ?? []).some((tomb) => tomb.id === id)) {
    throw new HttpError(410, 'gone', `The note "${id}" was deleted.`);
  }
  throw new HttpError(404, 'not-found', `There is no note with id "${id}".`);
}

/**
 * @param {unknown} input
 * @param {string[]} allowed
 * @param {string[]} required
 * @returns {Record<string, unknown>}
 */
function checkFields(input, allowed, required) {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalid('Send a JSON object.');
  }
  // Unknown fields are refused rather than ignored: a typo ("titel") should not pass silently.
  const unknown = Object.keys(input).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) {
    throw invalid(`Unknown field(s): ${unknown.join(', ')}. Allowed: ${allowed.join(', ')}.`);
  }
  const missing = required.filter((key) => !(key in input));
  if (missing.length > 0) throw invalid(`Missing field(s): ${missing.join(', ')}.`);
  return /** @type {Record<string, unknown>} */ (input);
}

/** @param {unknown} title */
function checkTitle(title) {
  if (typeof title !== 'string' || title.trim() === '') throw invalid('"title" must be a non-empty string.');
  if (title.length > TITLE_MAX_LENGTH)
    throw invalid(`"title" must be at most ${TITLE_MAX_LENGTH} characters.`);
  return title;
}

/** @param {unknown} body */
function checkBody(body) {
  if (body === undefined) return '';
  if (typeof body !== 'string') throw invalid('"body" must be a string.');
  return body;
}

/**
 * A note's photo: an upload's id or URL (`u_1`, `/api/uploads/u_1`: what `POST /api/uploads`
 * answered), checked to exist — so a client's temporary id that was never replaced is refused.
 * @param {NotesData} data @param {unknown} photo
 */
function checkPhoto(data, photo) {
  if (photo === undefined || photo === null) return undefined;
  if (typeof photo !== 'string' || photo.length > 2048) {
    throw invalid('"photo" must be the id or url of an upload (POST /api/uploads answers them), or null.');
  }
  if (!findUpload(/** @type {{ uploads?: import('./uploads.mjs').Upload[] }} */ (data), photo)) {
    throw invalid(`"photo" names no upload: ${JSON.stringify(photo.slice(0, 100))}.`);
  }
  return photo;
}

/** @param {unknown} clientId */
function checkClientId(clientId) {
  if (clientId === undefined || clientId === null) return null;
  if (typeof clientId !== 'string' || clientId === '' || clientId.length > CLIENT_ID_MAX_LENGTH) {
    throw invalid(
      `"clientId" must be a non-empty string of at most ${CLIENT_ID_MAX_LENGTH} characters, or null.`,
    );
  }
  return clientId;
}

/** @param {string} message */
function invalid(message) {
  return new HttpError(400, 'validation', message);
}

/** @param {string} allow */
export function methodNotAllowed(allow) {
  return new HttpError(405, 'method-not-allowed', `Use one of: ${allow}.`, { Allow: allow });
}

export { COLLECTION_METHODS, ITEM_METHODS };
