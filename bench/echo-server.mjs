// A constant-cost stand-in for the reference server, for the flush benchmarks: POST /api/notes
// answers 201 with the note, replays the stored answer for a repeated Idempotency-Key (a Map, so
// every request costs the same however many came before), POST /api/batch runs { ops } the same
// way (each op deduplicated by its id, stopping at the first failure: the server contract's
// batches), POST /api/_reset forgets everything, and the bench page's static files are served
// from `staticDir`. `delayMs` adds that latency to every API request (a slower network or
// server; the reference server's `delayMs` fault, for every request).
//
// Why: the reference server (examples/server) deep-copies its whole document on every write, so
// its time per request grows with the notes it holds (≈2 ms at the first request, ≈6 ms at the
// 1,000th here), which hides the client's own cost in a 1,000-op flush.

import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };

export async function createEchoServer({ staticDir, delayMs = 0 }) {
  const replies = new Map();
  let next = 1;
  const apply = (key, input) => {
    let reply = typeof key === 'string' ? replies.get(key) : undefined;
    if (!reply) {
      if (typeof input?.title !== 'string') {
        reply = { status: 400, body: '{"error":"title"}' };
      } else {
        const note = { id: `n${next++}`, title: input.title, body: input.body ?? '' };
        reply = { status: 201, body: JSON.stringify(note) };
      }
      if (typeof key === 'string') replies.set(key, reply);
    }
    return reply;
  };
  const server = createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', async () => {
      try {
        const url = new URL(request.url ?? '/', 'http://localhost');
        if (delayMs > 0 && url.pathname.startsWith('/api/') && !url.pathname.startsWith('/api/_'))
          await new Promise((resolve) => setTimeout(resolve, delayMs));
        if (request.method === 'POST' && url.pathname === '/api/notes') {
          const key = request.headers['idempotency-key'];
          const reply = replies.has(key)
            ? replies.get(key)
            : apply(key, JSON.parse(Buffer.concat(chunks).toString('utf8')));
          response.writeHead(reply.status, { 'Content-Type': 'application/json' });
          response.end(reply.body);
          return;
        }
        if (request.method === 'POST' && url.pathname === '/api/batch') {
          const results = [];
          for (const op of JSON.parse(Buffer.concat(chunks).toString('utf8')).ops) {
            const reply =
              op.method === 'POST' && op.url === '/api/notes'
                ? apply(op.id, op.body)
                : { status: 404, body: '{"error":"not-found"}' };
            results.push(`{"id":${JSON.stringify(op.id)},"status":${reply.status},"body":${reply.body}}`);
            if (reply.status > 299) break;
          }
          response.writeHead(200, { 'Content-Type': 'application/json' });
          response.end(`{"results":[${results.join(',')}]}`);
          return;
        }
        if (request.method === 'POST' && url.pathname === '/api/_reset') {
          replies.clear();
          response.writeHead(204).end();
          return;
        }
        if (request.method === 'GET' && staticDir) {
          const path = normalize(url.pathname === '/' ? '/index.html' : url.pathname);
          const type = TYPES[extname(path)];
          if (type && !path.includes('..')) {
            const body = await readFile(join(staticDir, path)).catch(() => undefined);
            if (body) {
              response.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-cache' });
              response.end(body);
              return;
            }
          }
        }
        response.writeHead(404, { 'Content-Type': 'application/json' }).end('{"error":"not-found"}');
      } catch {
        response.writeHead(400, { 'Content-Type': 'application/json' }).end('{"error":"bad-request"}');
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
