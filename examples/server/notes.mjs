// @ts-check
/**
 * The notes API: the example app's data, kept deliberately simple.
 *
 *   GET    /api/notes        list, in creation order
 *   POST   /api/notes        { title, body?, clientId? } → 201 note
 *   GET    /api/notes/:id    → note
 *   PUT    /api/notes/:id    { title, body? } → note (replaces title and body)
 *   PATCH  /api/notes/:id    { title?, body? } → note
 *   DELETE /api/notes/:id    → 204
 *
 * Handlers are plain functions over the data: they return a Reply and say whether they
 * changed anything. HTTP, idempotency and persistence are the caller's business.
 */
import { HttpError } from './http-json.mjs';

/**
 * @typedef {{ id: string, title: string, body: string, clientId: string | null,
 *   createdAt: string, updatedAt: string, version: number }} Note
 * @typedef {{ nextNoteNumber: number, notes: Note[] }} NotesData
 * @typedef {import('./http-json.mjs').Reply} Reply
 */

const TITLE_MAX_LENGTH = 200;
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
 * @returns {Reply}
 */
export function readNotes(data, id) {
  if (id === null) return { status: 200, json: data.notes };
  return { status: 200, json: findNote(data, id) };
}

/**
 * POST, PUT, PATCH and DELETE, applied to `data` in place.
 * @param {NotesData} data
 * @param {{ method: string, id: string | null, input: unknown, now: number }} request
 * @returns {{ reply: Reply, changed: boolean }}
 * @throws {HttpError} for bad input, missing notes, unsupported methods; nothing is changed then
 */
export function writeNotes(data, { method, id, input, now }) {
  const at = new Date(now).toISOString();
  if (id === null) {
    if (method !== 'POST') throw methodNotAllowed(COLLECTION_METHODS);
    const fields = checkFields(input, ['title', 'body', 'clientId'], ['title']);
    const title = checkTitle(fields.title);
    const body = checkBody(fields.body);
    const clientId = checkClientId(fields.clientId);
    /** @type {Note} */
    const note = {
      id: `n_${data.nextNoteNumber++}`,
      title,
      body,
      clientId,
      createdAt: at,
      updatedAt: at,
      version: 1,
    };
    data.notes.push(note);
    return {
      reply: { status: 201, json: note, headers: { Location: `/api/notes/${note.id}` } },
      changed: true,
    };
  }

  if (method === 'DELETE') {
    const note = findNote(data, id);
    data.notes.splice(data.notes.indexOf(note), 1);
    return { reply: { status: 204 }, changed: true };
  }
  if (method !== 'PUT' && method !== 'PATCH') throw methodNotAllowed(ITEM_METHODS);

  // Validate everything before touching the note: a bad request changes nothing.
  const isPut = method === 'PUT';
  const fields = checkFields(input, ['title', 'body'], isPut ? ['title'] : []);
  if (!isPut && Object.keys(fields).length === 0) {
    throw invalid('Send at least one of "title" and "body".');
  }
  const title = 'title' in fields ? checkTitle(fields.title) : undefined;
  const body = isPut || 'body' in fields ? checkBody(fields.body) : undefined;
  const note = findNote(data, id);
  if (title !== undefined) note.title = title;
  if (body !== undefined) note.body = body;
  note.updatedAt = at;
  note.version += 1;
  return { reply: { status: 200, json: note }, changed: true };
}

/** @param {NotesData} data @param {string} id */
function findNote(data, id) {
  const note = data.notes.find((candidate) => candidate.id === id);
  if (!note) throw new HttpError(404, 'not-found', `There is no note with id "${id}".`);
  return note;
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
