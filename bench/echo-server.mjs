// A constant-cost stand-in for the reference server, for the flush benchmarks: POST /api/notes
// answers 201 with the note, replays the stored answer for a repeated Idempotency-Key (a Map, so
// every request costs the same however many came before), POST /api/_reset forgets everything,
// and the bench page's static files are served from `staticDir`.
//
// Why: the reference server (examples/server) deep-copies its whole document on every write, so
// its time per request grows with the notes it holds (≈2 ms at the first request, ≈6 ms at the
// 1,000th here), which hides the client's own cost in a 1,000-op flush.

import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };

export async function createEchoServer({ staticDir }) {
  const replies = new Map();
  let next = 1;
  const server = createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', async () => {
      try {
        const url = new URL(request.url ?? '/', 'http://localhost');
        if (request.method === 'POST' && url.pathname === '/api/notes') {
          const key = request.headers['idempotency-key'];
          let reply = typeof key === 'string' ? replies.get(key) : undefined;
          if (!reply) {
            const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            if (typeof input?.title !== 'string') {
              reply = { status: 400, body: '{"error":"title"}' };
            } else {
              const note = { id: `n${next++}`, title: input.title, body: input.body ?? '' };
              reply = { status: 201, body: JSON.stringify(note) };
            }
            if (typeof key === 'string') replies.set(key, reply);
          }
          response.writeHead(reply.status, { 'Content-Type': 'application/json' });
          response.end(reply.body);
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
