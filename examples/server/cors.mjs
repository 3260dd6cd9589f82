// @ts-check
/**
 * CORS for the configured development origin(s) only — never `*` — so an app served by a dev
 * server on another port can call this API, and no other site can.
 */

const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';
const ALLOWED_HEADERS = 'Content-Type, Idempotency-Key, Authorization';
// Without this a browser hides these headers from the app's JavaScript.
const EXPOSED_HEADERS = 'Idempotent-Replayed, Retry-After, Location';

/**
 * @param {string | readonly string[] | null | undefined} option
 * @returns {Set<string>}
 */
export function allowedOrigins(option) {
  const list = option == null ? [] : typeof option === 'string' ? [option] : [...option];
  for (const origin of list) {
    if (typeof origin !== 'string' || origin === '*' || !/^https?:\/\/[^/]+$/.test(origin)) {
      throw new TypeError(
        `corsOrigin: expected origins like "http://localhost:5174" (no "*", no path), got ${JSON.stringify(origin)}.`,
      );
    }
  }
  return new Set(list);
}

/**
 * Adds the CORS response headers when the request comes from an allowed origin.
 * @param {import('node:http').IncomingMessage} request
 * @param {import('node:http').ServerResponse} response
 * @param {Set<string>} origins
 */
export function applyCors(request, response, origins) {
  if (origins.size === 0) return;
  response.setHeader('Vary', 'Origin'); // the answer depends on the Origin: caches must know
  const origin = request.headers.origin;
  if (origin === undefined || !origins.has(origin)) return;
  response.setHeader('Access-Control-Allow-Origin', origin);
  response.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
}

/**
 * Answers an `OPTIONS` request. For an allowed origin this is the preflight approval; for any
 * other origin the missing `Access-Control-Allow-Origin` makes the browser refuse.
 * @param {import('node:http').IncomingMessage} request
 * @param {import('node:http').ServerResponse} response
 * @param {Set<string>} origins
 */
export function answerOptions(request, response, origins) {
  const origin = request.headers.origin;
  /** @type {Record<string, string>} */
  const headers = { Allow: ALLOWED_METHODS, 'Content-Length': '0' };
  if (origin !== undefined && origins.has(origin)) {
    headers['Access-Control-Allow-Methods'] = ALLOWED_METHODS;
    headers['Access-Control-Allow-Headers'] = ALLOWED_HEADERS;
    headers['Access-Control-Max-Age'] = '600';
  }
  response.writeHead(204, headers);
  response.end();
}
