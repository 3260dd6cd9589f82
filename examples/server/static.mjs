// @ts-check
/**
 * Static files for the browser example app, served at `/`.
 *
 * Only files inside the root are ever served: the decoded path is resolved against the root and
 * checked, and so is its real path (a symlink must not lead out either).
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { HttpError } from './http-json.mjs';

const CONTENT_TYPES = /** @type {Record<string, string>} */ ({
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
});

const PLACEHOLDER = `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>Fluxy notes server</title>
<h1>Fluxy notes server</h1>
<p>The API is running: <a href="/health">/health</a>, <a href="/api/notes">/api/notes</a>,
<a href="/api/_log">/api/_log</a>.</p>
<p>The browser example app has not been built yet, so there is nothing else to serve here.</p>
</html>
`;

/**
 * @param {string | null} root directory to serve; null or missing → a placeholder page at `/`
 * @returns {(request: import('node:http').IncomingMessage, response: import('node:http').ServerResponse, pathname: string) => Promise<void>}
 */
export function createStaticHandler(root) {
  const absoluteRoot = root === null ? null : resolve(root);

  return async function serveStatic(request, response, pathname) {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      throw new HttpError(405, 'method-not-allowed', 'Static files are read with GET or HEAD.', {
        Allow: 'GET, HEAD',
      });
    }
    const realRoot = absoluteRoot && (await realpath(absoluteRoot).catch(() => null));
    if (!realRoot) {
      if (pathname === '/' || pathname === '/index.html') return send(response, 200, PLACEHOLDER, '.html');
      throw notFound();
    }

    const file = await locate(realRoot, pathname);
    const type = CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
    const { size } = await stat(file);
    response.writeHead(200, {
      'Content-Type': type,
      'Content-Length': String(size),
      // Revalidated on every use: a rebuilt app, and its service worker (/sw.js, a .js file so
      // text/javascript, served from the root so its scope is the whole app), show up at once.
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
    });
    if (request.method === 'HEAD') return void response.end();
    await new Promise((done, fail) => {
      createReadStream(file).on('error', fail).pipe(response).on('finish', done).on('error', fail);
    });
  };
}

/**
 * Maps a URL path to a file inside `root`, or throws 400/403/404.
 * @param {string} root real path of the root
 * @param {string} pathname still percent-encoded
 */
async function locate(root, pathname) {
  let decoded;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    throw new HttpError(400, 'bad-path', 'The path is not valid percent-encoding.');
  }
  if (decoded.includes('\0')) throw new HttpError(400, 'bad-path', 'The path contains a NUL byte.');

  const candidate = resolve(root, `.${sep}${decoded}`);
  if (!isInside(root, candidate)) throw forbidden();
  let file = candidate;
  try {
    if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
    file = await realpath(file);
  } catch {
    throw notFound();
  }
  if (!isInside(root, file)) throw forbidden();
  if (!(await stat(file)).isFile()) throw notFound();
  return file;
}

/** @param {string} root @param {string} path */
function isInside(root, path) {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * @param {import('node:http').ServerResponse} response
 * @param {number} status
 * @param {string} text
 * @param {string} extension
 */
function send(response, status, text, extension) {
  response.writeHead(status, {
    'Content-Type': /** @type {string} */ (CONTENT_TYPES[extension]),
    'Content-Length': String(Buffer.byteLength(text)),
    'Cache-Control': 'no-cache',
  });
  response.end(response.req.method === 'HEAD' ? undefined : text);
}

function notFound() {
  return new HttpError(404, 'not-found', 'No such file.');
}

function forbidden() {
  return new HttpError(403, 'forbidden', 'That path leads outside the served directory.');
}
