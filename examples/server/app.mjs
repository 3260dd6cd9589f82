// @ts-check
/**
 * The request handler: routing, and the pipeline every mutating API request goes through.
 *
 *   read body → take a fault → check the Idempotency-Key → apply + store the response under
 *   the key + persist, in one atomic write → respond
 *
 * Because the response is persisted with the effect before it is sent, a response lost on the
 * way (or a crash right after the write) costs nothing: the client's retry, with the same key,
 * gets the stored response and the effect is not applied twice.
 *
 * `POST /api/batch` `{ ops: [{ id, method, url, headers?, body? }] }` runs each op through that
 * same pipeline in order (`id` is its Idempotency-Key) and stops at the first that does not
 * succeed: `200 { results: [{ id, status, body? }] }`, one per op run. Faults: the batch takes
 * one (its own drop-before, status, delayMs; drop-after: run every op, then cut the connection),
 * then each op takes the next as a single request would (a status is that op's answer;
 * drop-before / drop-after cut the connection before / after that op is applied).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { handleControl } from './control.mjs';
import { answerOptions, applyCors } from './cors.mjs';
import { takesFault } from './faults.mjs';
import {
  HttpError,
  MAX_BODY_BYTES,
  notFound,
  parseJsonBody,
  readBody,
  sendReply,
  sendStored,
  serializeReply,
} from './http-json.mjs';
import { fingerprintOf, isValidKey, shouldRemember } from './idempotency.mjs';
import { methodNotAllowed, readNotes, routeNotes, writeNotes } from './notes.mjs';
import { MAX_UPLOAD_BYTES, parseUpload, recordUpload, routeUploads } from './uploads.mjs';

/**
 * @typedef {{
 *   db: import('./store.mjs').JsonFileDatabase<import('./document.mjs').Document>,
 *   keys: import('./idempotency.mjs').IdempotencyKeys,
 *   faults: import('./faults.mjs').FaultQueue,
 *   serveStatic: ReturnType<typeof import('./static.mjs').createStaticHandler>,
 *   blobs: import('./uploads.mjs').BlobStore,
 *   origins: Set<string>,
 *   now: () => number,
 *   log: (line: string) => void,
 *   feedPageSize?: number,
 *   maxBatchBytes?: number,
 *   signal: AbortSignal,
 * }} AppContext
 * @typedef {import('node:http').IncomingMessage} Request
 * @typedef {import('node:http').ServerResponse} Response
 */

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const BATCH_PATH = '/api/batch';
const MAX_BATCH_OPS = 1000;

// The answers for a key that cannot run now (see idempotency.mjs). Never stored.
const KEY_REUSED = serializeReply(
  new HttpError(
    422,
    'idempotency-key-reuse',
    'This Idempotency-Key came with a different request.',
  ).toReply(),
);
const KEY_IN_PROGRESS = serializeReply(
  new HttpError(409, 'in-progress', 'A request with this Idempotency-Key is still running; retry later.', {
    'Retry-After': '1',
  }).toReply(),
);

/** @param {AppContext} app */
export function createRequestHandler(app) {
  /** @param {Request} request @param {Response} response */
  return async function handleRequest(request, response) {
    const method = request.method ?? 'GET';
    response.on('close', () => {
      const outcome = response.writableFinished ? response.statusCode : 'connection closed, no response';
      app.log(`${method} ${request.url} → ${outcome}`);
    });
    try {
      // Prefixing (rather than `new URL(path, base)`) keeps a path like "//x/y" a path.
      if (!URL.canParse(`http://localhost${request.url}`))
        throw new HttpError(400, 'bad-path', 'Unparsable URL.');
      const url = new URL(`http://localhost${request.url}`);
      applyCors(request, response, app.origins);
      if (method === 'OPTIONS') return answerOptions(request, response, app.origins);
      if (url.pathname === '/health') return health(method, response);
      if (url.pathname.startsWith('/api/_'))
        return await handleControl(app, method, url.pathname, request, response);
      if (url.pathname.startsWith('/api/')) {
        if (url.pathname === BATCH_PATH && method === 'POST')
          return await mutateBatch(app, request, response);
        if (MUTATING.has(method)) return await mutate(app, method, url, request, response);
        if (takesFault(method, url.pathname, url.searchParams.has('since'))) {
          const fault = app.faults.take();
          if (fault === 'drop-before' || fault === 'drop-after') return dropConnection(request);
          if (typeof fault === 'object' && 'status' in fault) return sendFault(response, fault);
          if (typeof fault === 'object' && 'delayMs' in fault)
            await delay(fault.delayMs, undefined, { signal: app.signal }).catch(() => {});
        }
        return await read(app, method, url, response);
      }
      return await app.serveStatic(request, response, url.pathname);
    } catch (error) {
      sendError(app, response, error);
    }
  };
}

/** @param {string} method @param {Response} response */
function health(method, response) {
  if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed('GET, HEAD');
  sendReply(response, { status: 200, json: { ok: true } }); // sent with Cache-Control: no-store
}

/** @param {AppContext} app @param {string} method @param {URL} url @param {Response} response */
async function read(app, method, url, response) {
  if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed('GET, HEAD, POST, PUT, PATCH, DELETE');
  const upload = routeUploads(url.pathname);
  if (upload) {
    if (upload.id === null) throw methodNotAllowed('POST');
    const found = app.db.current.uploads?.find((candidate) => candidate.id === upload.id);
    const bytes = found && (await app.blobs.get(found.sha256));
    if (!found || !bytes) throw notFound('No such upload.');
    response.writeHead(200, {
      'Content-Type': found.type,
      'Content-Length': String(bytes.length),
      'Cache-Control': 'private, max-age=31536000, immutable',
    });
    return void response.end(method === 'HEAD' ? undefined : bytes);
  }
  const route = routeNotes(url.pathname);
  if (!route) throw notFound();
  sendReply(response, readNotes(app.db.current, route.id, url.searchParams, app.feedPageSize));
}

/** @param {{ status: number, retryAfter?: string }} fault */
function faultReply(fault) {
  const headers = fault.retryAfter === undefined ? {} : { 'Retry-After': fault.retryAfter };
  return new HttpError(fault.status, 'injected-fault', 'Injected by /api/_faults.', headers).toReply();
}

/** @param {Response} response @param {{ status: number, retryAfter?: string }} fault */
function sendFault(response, fault) {
  sendReply(response, faultReply(fault));
}

/**
 * The idempotent write pipeline (see the top of this file).
 * @param {AppContext} app @param {string} method @param {URL} url @param {Request} request @param {Response} response
 */
async function mutate(app, method, url, request, response) {
  const bytes = await readBody(request, routeUploads(url.pathname) ? MAX_UPLOAD_BYTES : undefined);
  const fault = takesFault(method, url.pathname) ? app.faults.take() : 'ok';
  if (fault === 'drop-before') return dropConnection(request);
  if (typeof fault === 'object' && 'status' in fault) return sendFault(response, fault);
  const key = request.headers['idempotency-key'];
  if (key !== undefined && !isValidKey(key)) {
    const message = 'Idempotency-Key must be 1 to 255 printable ASCII characters.';
    throw new HttpError(400, 'invalid-idempotency-key', message);
  }
  const mutation = { method, pathname: url.pathname, path: url.pathname + url.search, key, bytes };
  const ran = await run(app, mutation, request.headers, fault);
  if (!ran || fault === 'drop-after') return dropConnection(request); // applied and persisted, never answered
  sendStored(response, ran.stored, ran.replayed ? { 'Idempotent-Replayed': 'true' } : {});
}

/**
 * Runs one mutation once per key: a stored answer is replayed, a new one applied and stored.
 * Undefined when the server closed while a `delayMs` fault waited.
 * @param {AppContext} app
 * @param {Mutation} mutation
 * @param {import('node:http').IncomingHttpHeaders} headers
 * @param {import('./faults.mjs').Fault} fault
 * @returns {Promise<{ stored: import('./idempotency.mjs').StoredResponse, replayed: boolean } | undefined>}
 */
async function run(app, mutation, headers, fault) {
  const { key } = mutation;
  const fingerprint = fingerprintOf(mutation.method, mutation.path, mutation.bytes);
  /** @type {import('./idempotency.mjs').KeyOutcome} */
  const outcome =
    key === undefined ? { kind: 'new' } : app.keys.begin(app.db.current.keys, key, fingerprint, app.now());
  try {
    if (typeof fault === 'object' && 'delayMs' in fault) {
      // The key is claimed while we wait: a second request with it now gets 409.
      await delay(fault.delayMs, undefined, { signal: app.signal }).catch(() => {});
      if (app.signal.aborted) return undefined;
    }
    if (outcome.kind === 'replay') return { stored: outcome.response, replayed: true };
    if (outcome.kind === 'key-reuse') return { stored: KEY_REUSED, replayed: false };
    if (outcome.kind === 'in-progress') return { stored: KEY_IN_PROGRESS, replayed: false };
    return { stored: await apply(app, { ...mutation, fingerprint, headers }), replayed: false };
  } finally {
    if (key !== undefined && outcome.kind === 'new') app.keys.release(key);
  }
}

/**
 * `POST /api/batch` (see the top of this file).
 * @param {AppContext} app @param {Request} request @param {Response} response
 */
async function mutateBatch(app, request, response) {
  const bytes = await readBody(request, app.maxBatchBytes ?? 4 * MAX_BODY_BYTES);
  const fault = app.faults.take();
  if (fault === 'drop-before') return dropConnection(request);
  if (typeof fault === 'object' && 'status' in fault) return sendFault(response, fault);
  if (typeof fault === 'object' && 'delayMs' in fault) {
    await delay(fault.delayMs, undefined, { signal: app.signal }).catch(() => {});
    if (app.signal.aborted) return dropConnection(request);
  }
  const ops = batchOps(parseJsonBody(bytes, request.headers['content-type']));
  const results = [];
  for (const op of ops) {
    const opFault = app.faults.take();
    if (opFault === 'drop-before') return dropConnection(request);
    let stored;
    if (typeof opFault === 'object' && 'status' in opFault) stored = serializeReply(faultReply(opFault));
    else {
      const url = new URL(`http://localhost${op.url}`);
      const body = op.body === undefined ? '' : JSON.stringify(op.body);
      /** @type {import('node:http').IncomingHttpHeaders} */
      const headers = { 'content-type': body === '' ? undefined : 'application/json' };
      for (const [name, value] of Object.entries(op.headers)) headers[name.toLowerCase()] = value;
      const mutation = {
        method: op.method,
        pathname: url.pathname,
        path: url.pathname + url.search,
        key: op.id,
        bytes: Buffer.from(body),
      };
      const ran = await run(app, mutation, headers, opFault);
      if (!ran || opFault === 'drop-after') return dropConnection(request);
      stored = ran.stored;
    }
    results.push({
      id: op.id,
      status: stored.status,
      body: stored.body === '' ? undefined : JSON.parse(stored.body),
    });
    if (stored.status < 200 || stored.status > 299) {
      // The op that stopped the batch says when to come back: its Retry-After is the batch's.
      const retryAfter = stored.headers['Retry-After'];
      if (retryAfter !== undefined) response.setHeader('Retry-After', retryAfter);
      break;
    }
  }
  if (fault === 'drop-after') return dropConnection(request); // applied and persisted, never answered
  sendReply(response, { status: 200, json: { results } });
}

/**
 * The ops of a batch request, checked: 1 to 1000 of `{ id, method, url, headers?, body? }`.
 * @param {unknown} input
 * @returns {Array<{ id: string, method: string, url: string, headers: Record<string, string>, body?: unknown }>}
 */
function batchOps(input) {
  const ops = /** @type {{ ops?: unknown } | null | undefined} */ (input)?.ops;
  if (!Array.isArray(ops) || ops.length === 0 || ops.length > MAX_BATCH_OPS)
    throw new HttpError(400, 'invalid-batch', `Send { ops: [...] } with 1 to ${MAX_BATCH_OPS} operations.`);
  return ops.map((op, index) => {
    const { id, method, url, headers = {}, body } = op ?? {};
    const validHeaders =
      headers !== null &&
      typeof headers === 'object' &&
      !Array.isArray(headers) &&
      Object.values(headers).every((value) => typeof value === 'string');
    if (
      !isValidKey(id) ||
      !MUTATING.has(method) ||
      typeof url !== 'string' ||
      !url.startsWith('/') ||
      url.startsWith('//') ||
      !URL.canParse(`http://localhost${url}`) ||
      !validHeaders
    ) {
      const message = `Operation ${index}: give { id (an Idempotency-Key), method (POST, PUT, PATCH or DELETE), url (a path), headers?, body? }.`;
      throw new HttpError(400, 'invalid-batch', message);
    }
    return { id, method, url, headers, body };
  });
}

/**
 * @typedef {{ method: string, pathname: string, path: string, key: string | undefined, bytes: Buffer }} Mutation
 */

/**
 * Applies one mutation in a database transaction: the change, its log entry and the response
 * stored under its key are persisted together, or not at all.
 * @param {AppContext} app
 * @param {Mutation & { fingerprint: string, headers: import('node:http').IncomingHttpHeaders }} mutation
 */
async function apply(app, { method, pathname, path, key, fingerprint, bytes, headers }) {
  const now = app.now();
  // An upload's bytes are stored before the document records it (see uploads.mjs).
  const upload = routeUploads(pathname);
  /** @type {(import('./uploads.mjs').ParsedUpload & { sha256: string }) | HttpError | undefined} */
  let prepared;
  if (upload) {
    try {
      if (method !== 'POST' || upload.id !== null)
        throw methodNotAllowed(upload.id === null ? 'POST' : 'GET, HEAD');
      const parsed = parseUpload(bytes, headers['content-type']);
      prepared = { ...parsed, sha256: await app.blobs.put(parsed.bytes) };
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      prepared = error;
    }
  }
  return app.db.update((draft) => {
    /** @type {unknown} */
    let input;
    let result;
    try {
      if (prepared instanceof HttpError) throw prepared;
      if (prepared) {
        result = recordUpload(draft, prepared, now);
        input = { upload: result.reply.json }; // the log shows what was recorded, not the bytes
      } else {
        input = parseJsonBody(bytes, headers['content-type']);
        const route = routeNotes(pathname);
        if (!route) throw notFound();
        const conditions = {
          clock: headerValue(headers['fluxy-clock']),
          ifMatch: headerValue(headers['if-match']),
        };
        result = writeNotes(draft, { method, id: route.id, input, now, conditions });
      }
    } catch (error) {
      if (!(error instanceof HttpError)) throw error; // a bug: nothing is persisted, the client gets 500
      result = { reply: error.toReply(), changed: false };
    }
    const stored = serializeReply(result.reply);
    if (result.changed) {
      const at = new Date(now).toISOString();
      draft.log.push({ seq: draft.nextSeq++, key: key ?? null, method, path, body: input ?? null, at });
    }
    if (key !== undefined && shouldRemember(stored.status))
      app.keys.remember(draft.keys, key, fingerprint, stored, now);
    app.keys.forgetExpired(draft.keys, now);
    return stored;
  });
}

/** @param {AppContext} app @param {Response} response @param {unknown} error */
function sendError(app, response, error) {
  if (response.headersSent) return void response.destroy();
  if (error instanceof HttpError) return sendReply(response, error.toReply());
  app.log(`Internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  sendReply(response, new HttpError(500, 'internal', 'The server failed; retry later.').toReply());
}

/** @param {string | string[] | undefined} value */
function headerValue(value) {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** @param {Request} request */
function dropConnection(request) {
  request.socket.destroy();
}
