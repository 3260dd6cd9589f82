// @ts-check
/**
 * Test and demo endpoints under /api/_ — not part of the server contract; a production server
 * has none of them.
 *
 *   GET    /api/_log      every applied mutation, in order: proves exactly-once and order
 *   POST   /api/_reset    forget all notes (and deletions), keys, log entries and queued faults;
 *                         the data gets a new epoch (old cursors: 410, new note ids)
 *   GET    /api/_faults   the faults still queued
 *   POST   /api/_faults   queue more faults (a JSON array, see faults.mjs)
 *   DELETE /api/_faults   clear the queue
 */
import { emptyDocument } from './document.mjs';
import { parseFaults } from './faults.mjs';
import { HttpError, notFound, parseJsonBody, readBody, sendReply } from './http-json.mjs';
import { methodNotAllowed, newEpoch } from './notes.mjs';

/**
 * @typedef {import('./app.mjs').AppContext} AppContext
 * @typedef {import('node:http').IncomingMessage} Request
 * @typedef {import('node:http').ServerResponse} Response
 */

/**
 * @param {AppContext} app @param {string} method @param {string} pathname @param {Request} request @param {Response} response
 */
export async function handleControl(app, method, pathname, request, response) {
  if (pathname === '/api/_log') {
    if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed('GET, HEAD');
    return sendReply(response, { status: 200, json: app.db.current.log });
  }
  if (pathname === '/api/_reset') {
    if (method !== 'POST') throw methodNotAllowed('POST');
    await readBody(request);
    // Everything goes, also what emptyDocument() leaves out (the notes' tombstones, change
    // sequence and clock). The data gets a new epoch: the cursors of before are answered 410
    // (devices pull again from the start) and the new notes' ids are not those of before.
    await app.db.update((draft) => {
      const before = draft.epoch;
      const fields = /** @type {Record<string, unknown>} */ (draft);
      for (const key of Object.keys(fields)) delete fields[key];
      Object.assign(draft, emptyDocument());
      while (draft.epoch === before) draft.epoch = newEpoch();
    });
    app.faults.clear();
    return sendReply(response, { status: 204 });
  }
  if (pathname === '/api/_faults') {
    if (method === 'GET' || method === 'HEAD')
      return sendReply(response, { status: 200, json: app.faults.list() });
    if (method === 'DELETE') {
      app.faults.clear();
      return sendReply(response, { status: 204 });
    }
    if (method !== 'POST') throw methodNotAllowed('GET, HEAD, POST, DELETE');
    const input = parseJsonBody(await readBody(request), request.headers['content-type']);
    try {
      app.faults.add(parseFaults(input));
    } catch (error) {
      throw new HttpError(400, 'validation', /** @type {Error} */ (error).message);
    }
    return sendReply(response, { status: 200, json: app.faults.list() });
  }
  throw notFound();
}
