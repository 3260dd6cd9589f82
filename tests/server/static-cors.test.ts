import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createServer } from '../../examples/server/server.mjs';
import { rawGet, send, startServer, tempDir } from './helpers.js';

/** A site folder with one file of each served type, and a secret beside it. */
async function site() {
  const dir = await tempDir();
  const root = join(dir, 'site');
  await mkdir(join(root, 'assets'), { recursive: true });
  await mkdir(join(root, 'docs'));
  await writeFile(join(dir, 'secret.txt'), 'TOP SECRET');
  await writeFile(join(root, 'index.html'), '<h1>Notes</h1>');
  await writeFile(join(root, 'docs', 'index.html'), '<h1>Docs</h1>');
  const files: Record<string, string> = {
    'assets/app.js': 'text/javascript; charset=utf-8',
    'assets/app.css': 'text/css; charset=utf-8',
    'assets/app.js.map': 'application/json; charset=utf-8',
    'assets/logo.png': 'image/png',
    'assets/logo.svg': 'image/svg+xml',
    'manifest.json': 'application/json; charset=utf-8',
    'data.bin': 'application/octet-stream',
  };
  for (const name of Object.keys(files)) await writeFile(join(root, name), `content of ${name}`);
  return { dir, root, files };
}

describe('static files', () => {
  it('serves index.html at / and files with their content types', async () => {
    const { root, files } = await site();
    const server = await startServer({ staticDir: root });

    const index = await fetch(`${server.url}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await index.text()).toBe('<h1>Notes</h1>');
    expect(await (await fetch(`${server.url}/docs/`)).text()).toBe('<h1>Docs</h1>');

    for (const [name, type] of Object.entries(files)) {
      const response = await fetch(`${server.url}/${name}`);
      expect(response.status, name).toBe(200);
      expect(response.headers.get('content-type'), name).toBe(type);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(await response.text()).toBe(`content of ${name}`);
    }
    const head = await fetch(`${server.url}/assets/app.js`, { method: 'HEAD' });
    expect(head.headers.get('content-length')).toBe(String('content of assets/app.js'.length));
    expect((await fetch(`${server.url}/missing.js`)).status).toBe(404);
    expect((await fetch(`${server.url}/assets/app.js`, { method: 'POST' })).status).toBe(405);
  });

  it.each([
    '/../secret.txt',
    '/..%2fsecret.txt',
    '/%2e%2e/secret.txt',
    '/%2e%2e%2fsecret.txt',
    '/assets/..%2f..%2fsecret.txt',
    '/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
    '/..%5csecret.txt',
    '/%00index.html',
    '/%E0%A4%A',
  ])('does not serve %s from outside the root', async (path) => {
    const { root } = await site();
    const server = await startServer({ staticDir: root });
    const response = await rawGet(server, path);
    expect([400, 403, 404]).toContain(response.status);
    expect(response.body).not.toContain('TOP SECRET');
  });

  it('refuses an encoded traversal with 403 (the check fires, not a lucky 404)', async () => {
    const { root } = await site();
    const server = await startServer({ staticDir: root });
    expect((await rawGet(server, '/..%2fsecret.txt')).status).toBe(403);
    // The same file under a legitimate name is served: the 403 is about the path only.
    await writeFile(join(root, 'secret.txt'), 'inside');
    expect(await rawGet(server, '/secret.txt')).toStrictEqual({ status: 200, body: 'inside' });
  });

  it('does not follow a symlink out of the root', async () => {
    const { dir, root } = await site();
    await symlink(join(dir, 'secret.txt'), join(root, 'link.txt'));
    const server = await startServer({ staticDir: root });
    const response = await rawGet(server, '/link.txt');
    expect(response.status).toBe(403);
    expect(response.body).not.toContain('TOP SECRET');
  });

  it('serves a placeholder page when the static directory does not exist yet', async () => {
    const dir = await tempDir();
    const server = await startServer({ staticDir: join(dir, 'not-built') });
    const response = await fetch(`${server.url}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await response.text()).toContain('has not been built yet');
    expect((await fetch(`${server.url}/app.js`)).status).toBe(404);
  });
});

describe('CORS', () => {
  const devOrigin = 'http://localhost:5174';

  it('approves a preflight from the configured origin with the headers Fluxy sends', async () => {
    const server = await startServer({ corsOrigin: devOrigin });
    const preflight = await fetch(`${server.url}/api/notes`, {
      method: 'OPTIONS',
      headers: {
        Origin: devOrigin,
        'Access-Control-Request-Method': 'PATCH',
        'Access-Control-Request-Headers': 'content-type, idempotency-key, authorization',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(devOrigin);
    expect(preflight.headers.get('vary')).toBe('Origin');
    const methods = preflight.headers.get('access-control-allow-methods')?.split(', ');
    expect(methods).toEqual(expect.arrayContaining(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']));
    const headers = preflight.headers.get('access-control-allow-headers')?.toLowerCase().split(', ');
    expect(headers).toEqual(expect.arrayContaining(['content-type', 'idempotency-key', 'authorization']));
  });

  it('lets the app read Idempotent-Replayed cross-origin', async () => {
    const server = await startServer({ corsOrigin: [devOrigin, 'http://127.0.0.1:4000'] });
    const headers = { Origin: devOrigin };
    await send(server, 'POST', '/api/notes', { title: 'a' }, { key: 'op-1', headers });
    const replay = await send(server, 'POST', '/api/notes', { title: 'a' }, { key: 'op-1', headers });
    expect(replay.headers.get('access-control-allow-origin')).toBe(devOrigin);
    expect(replay.headers.get('access-control-expose-headers')).toContain('Idempotent-Replayed');
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    const health = await fetch(`${server.url}/health`, { headers: { Origin: 'http://127.0.0.1:4000' } });
    expect(health.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:4000');
  });

  it('gives other origins no CORS approval', async () => {
    const server = await startServer({ corsOrigin: devOrigin });
    const preflight = await fetch(`${server.url}/api/notes`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'POST' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    expect(preflight.headers.get('access-control-allow-methods')).toBeNull();
    const response = await fetch(`${server.url}/api/notes`, { headers: { Origin: 'http://evil.example' } });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();

    const noCors = await startServer();
    const sameOriginOnly = await fetch(`${noCors.url}/api/notes`, { headers: { Origin: devOrigin } });
    expect(sameOriginOnly.headers.get('access-control-allow-origin')).toBeNull();
  });

  it.each(['*', 'localhost:5174', 'http://localhost:5174/app', ''])(
    'refuses corsOrigin %j',
    async (origin) => {
      await expect(createServer({ dataFile: null, corsOrigin: origin })).rejects.toThrow(/corsOrigin/);
    },
  );
});
