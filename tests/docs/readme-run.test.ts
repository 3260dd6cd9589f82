// The README's snippets that run in Node are run here, as written (readme-snippets.test.ts only
// type-checks them): the free names they use (`app`, `sync`) are given as an app would have them,
// and the Node snippet's example URL and folder point at a FaultServer and a temporary folder.
// The browser snippets (relative URLs, DOM elements) are run by tests/e2e and tests/bindings.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeEach, expect, it, vi } from 'vitest';
import { createApp } from '../../src/index.js';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import { SyncPlugin } from '../../src/plugins/sync/index.js';
import { FaultServer } from '../../src/testing/index.js';

const root = resolve(import.meta.dirname, '../..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'fluxy-readme-run-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The README's ```ts block that contains `marker`. */
function snippet(marker: string): string {
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1] as string);
  const found = blocks.filter((code) => code.includes(marker));
  expect(found, `one README block with ${marker}`).toHaveLength(1);
  return found[0] as string;
}

/** Runs `code` as a module of its own (a new file each time: modules run once). */
let runs = 0;
async function run(code: string): Promise<void> {
  const file = join(dir, `snippet-${++runs}.ts`);
  writeFileSync(file, `${code}\nexport {};\n`);
  await import(/* @vite-ignore */ file);
}

let server: FaultServer;
beforeEach(async () => {
  server = await FaultServer.start();
});
afterEach(async () => {
  vi.unstubAllGlobals();
  await server.close();
});

it('Controllers and optimistic updates: the snippet runs, renames the note and sends the PATCH', async () => {
  const app = createApp();
  app.register(new StoragePlugin({ driver: 'memory' }));
  app.register(new ConnectivityPlugin());
  app.register(new SyncPlugin({ baseUrl: server.url }));
  await app.ready();
  vi.stubGlobal('app', app);
  try {
    await run(snippet('class NotesController extends Controller'));
    await app.use(SyncPlugin).flush();
    expect(server.applied.map(({ method, path, body }) => ({ method, path, body }))).toStrictEqual([
      { method: 'PATCH', path: '/notes/n1', body: { title: 'Shopping' } },
    ]);
  } finally {
    await app.dispose();
  }
});

it('The core alone: the snippet runs and logs 0, then 2', async () => {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    await run(snippet("import { computed, createApp, effect, flux } from 'fluxy';"));
    expect(log.mock.calls).toStrictEqual([[0], [2]]);
  } finally {
    log.mockRestore();
  }
});

it('In Node: the snippet stores, sends and disposes', async () => {
  const code = snippet("driver: 'file', dir: '.fluxy'")
    .replaceAll('https://api.example.com', server.url)
    .replace("dir: '.fluxy'", `dir: ${JSON.stringify(join(dir, 'node-store'))}`);
  vi.stubEnv('FLUXY_SECRET', 'correct horse battery staple');
  try {
    await run(code);
  } finally {
    vi.unstubAllEnvs();
  }
  expect(server.applied.map(({ method, path, body }) => ({ method, path, body }))).toStrictEqual([
    { method: 'POST', path: '/notes', body: { title: 'Groceries' } },
  ]);
});

it('isFluxyError and isUnreadable: the snippet runs and tells an invalid URL by its code', async () => {
  const app = createApp();
  app.register(new StoragePlugin({ driver: 'memory' }));
  app.register(new ConnectivityPlugin());
  const sync = app.register(new SyncPlugin({ baseUrl: server.url }));
  await app.ready();
  vi.stubGlobal('sync', sync);
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
  try {
    await run(snippet("import { isFluxyError } from 'fluxy';\nimport { isUnreadable }"));
    expect(warn.mock.calls.map((call) => call[0])).toStrictEqual(['sync/invalid-url']);
  } finally {
    warn.mockRestore();
    await app.dispose();
  }
});

it("A collection's conflicts left out of sync.on('failed'): the snippet toasts a 400, not a 412 of todos", async () => {
  const app = createApp();
  app.register(new StoragePlugin({ driver: 'memory' }));
  app.register(new ConnectivityPlugin());
  const sync = app.register(new SyncPlugin({ baseUrl: server.url }));
  await app.ready();
  const toast = vi.fn();
  vi.stubGlobal('sync', sync);
  vi.stubGlobal('toast', toast);
  try {
    await run(snippet("operation.kind?.startsWith('todos.')"));
    server.script({ status: 412 }, { status: 400 }, { status: 404 });
    await sync.queue('PATCH', '/todos/t1', { body: { done: true }, kind: 'todos.update' });
    await sync.queue('POST', '/todos', { body: { text: '' }, kind: 'todos.insert' });
    await sync.queue('PATCH', '/notes/n1', { body: { title: 'x' }, kind: 'notes.update' });
    expect(await sync.flush()).toMatchObject({ failed: 3, remaining: 0 });
    expect(toast.mock.calls).toStrictEqual([['Could not save (400)'], ['Could not save (404)']]);
  } finally {
    await app.dispose();
  }
});
