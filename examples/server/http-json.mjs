// @ts-check
/**
 * JSON over node:http: reading a bounded request body, and writing responses.
 *
 * Handlers build a `Reply` (status, JSON value, headers). It is serialised once into a
 * `StoredResponse` — the exact status, headers and bytes sent — so that the response of an
 * idempotent request can be stored and replayed byte for byte.
 */

/** @typedef {import('./idempotency.mjs').StoredResponse} StoredResponse */
/** @typedef {{ status: number, json?: unknown, headers?: Record<string, string> }} Reply */

export const MAX_BODY_BYTES = 1024 * 1024;

/** An error that becomes a JSON error response: `{ error: code, message }`. */
export class HttpError extends Error {
  /**
   * @param {number} status
   * @param {string} code stable, machine-readable
   * @param {string} message for humans: says what to do
   * @param {Record<string, string>} [headers]
   */
  constructor(status, code, message, headers = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }

  /** @returns {Reply} */
  toReply() {
    const extra = /** @type {{ extra?: Record<string, unknown> }} */ (this).extra ?? {};
    return {
      status: this.status,
      json: { error: this.code, message: this.message, ...extra },
      headers: this.headers,
    };
  }
}

/** @param {string} [message] */
export function notFound(message = 'No such route.') {
  return new HttpError(404, 'not-found', message);
}

/**
 * Reads the whole request body, refusing more than `limit` bytes with 413.
 * @param {import('node:http').IncomingMessage} request
 * @param {number} [limit]
 * @returns {Promise<Buffer>}
 */
export async function readBody(request, limit = MAX_BODY_BYTES) {
  const tooLarge = () =>
    new HttpError(413, 'payload-too-large', `The request body is larger than ${limit} bytes.`, {
      Connection: 'close',
    });
  if (Number(request.headers['content-length']) > limit) throw tooLarge();
  /** @type {Buffer[]} */
  const chunks = [];
  let size = 0;
  for await (const chunk of request) {
    size += chunk.length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Parses a JSON request body. An empty body is `undefined` (DELETE has none).
 * @param {Buffer} bytes
 * @param {string | undefined} contentType
 * @returns {unknown}
 */
export function parseJsonBody(bytes, contentType) {
  if (bytes.length === 0) return undefined;
  // Requiring application/json also keeps cross-site <form> posts out: they cannot send it
  // without a CORS preflight.
  if (!/^application\/json\s*(;|$)/i.test(contentType ?? '')) {
    throw new HttpError(
      415,
      'unsupported-media-type',
      'Send the body as JSON with Content-Type: application/json.',
    );
  }
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new HttpError(400, 'invalid-json', 'The request body is not valid JSON.');
  }
}

/**
 * @param {Reply} reply
 * @returns {StoredResponse}
 */
export function serializeReply(reply) {
  /** @type {Record<string, string>} */
  const headers = { 'Cache-Control': 'no-store', ...reply.headers };
  if (reply.json === undefined) return { status: reply.status, headers, body: '' };
  headers['Content-Type'] = 'application/json; charset=utf-8';
  return { status: reply.status, headers, body: JSON.stringify(reply.json) };
}

/**
 * @param {import('node:http').ServerResponse} response
 * @param {StoredResponse} stored
 * @param {Record<string, string>} [extraHeaders] e.g. `Idempotent-Replayed: true`
 */
export function sendStored(response, stored, extraHeaders = {}) {
  response.writeHead(stored.status, {
    ...stored.headers,
    ...extraHeaders,
    'Content-Length': String(Buffer.byteLength(stored.body)),
  });
  response.end(response.req.method === 'HEAD' ? undefined : stored.body);
}

/**
 * @param {import('node:http').ServerResponse} response
 * @param {Reply} reply
 */
export function sendReply(response, reply) {
  sendStored(response, serializeReply(reply));
}
