// 14. A collection's lazy chunk once the network is gone. The built package (dist/, as a browser's
// production bundle gets it: code split, `conflicts-*.js` loaded with import()) served as ES
// modules by the reference server. The conflicts chunk also holds the report of a failed pull
// (`lastError`), the follow-up of a discard and a tab's catch-up; those can run once the network is
// gone, when a page could not fetch a chunk it had not loaded yet. So a collection loads it after
// every pull or answer, online (80a5de2). Without that, the failed pull below rejects with the
// dynamic import's TypeError (`lastError` then set by the pull's catch-all, caused by the import),
// and the discard leaves the row's update pending. Needs `npm run build` first (CI builds before
// the e2e step).
import { cp, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterEach, beforeAll, beforeEach, expect, test } from 'vitest';
import type { RunningServer } from '../../examples/server/server.d.mts';
import { createServer } from '../../examples/server/server.mjs';
import { launchProfile, setBrowserOffline } from './harness.js';

const root = process.cwd();
const dist = join(root, 'dist');

/** The page: the production build of Fluxy's entries, through an import map for its dependencies. */
const indexHtml = `<!doctype html>
<meta charset="utf-8">
<title>collections offline</title>
<script type="importmap">
{ "imports": { "@preact/signals-core": "/vendor/signals-core.js", "mitt": "/vendor/mitt.js" } }
</script>
<script type="module" src="/app.js"></script>
`;

const appJs = `
import { createApp } from '/lib/index.js';
import { StoragePlugin } from '/lib/storage.js';
import { ConnectivityPlugin } from '/lib/connectivity.js';
import { SyncPlugin } from '/lib/sync.js';
import { Collection } from '/lib/collections.js';

const app = createApp({ logger: { debug() {}, info() {}, warn() {}, error: console.error } });
app.register(new StoragePlugin({ name: 'chunks' }));
const connectivity = app.register(new ConnectivityPlugin());
const sync = app.register(new SyncPlugin({ baseUrl: '/api', timeoutMs: 5000, retry: { baseDelayMs: 200 } }));
const notes = app.register(new Collection('notes', { url: '/notes', pullIntervalMs: 0 }));
await app.ready();
globalThis.fluxy = { app, connectivity, sync, notes };
document.documentElement.dataset.ready = 'true';
`;

/** What app.js puts on `globalThis.fluxy` (only what the tests read). */
interface PageHandle {
  connectivity: { isOnline: { value: boolean } };
  sync: {
    pendingCount: { value: number };
    failedCount: { value: number };
    discard(id: string): Promise<void>;
    pending(): Promise<Array<{ id: string; kind?: string }>>;
  };
  notes: {
    items: { value: Array<{ id: string; title: string }> };
    pending: { value: Map<string, string> };
    isPulling: { value: boolean };
    lastPulledAt: { value: number | null };
    lastError: { value: { code: string; cause?: unknown } | null };
    pull(): Promise<void>;
    insert(row: { title: string }): Promise<{ id: string }>;
    update(id: string, patch: { title: string }): Promise<unknown>;
  };
}

let dir: string;
let site: string;
let dataFile: string;
let server: RunningServer;
let requests: string[];
let context: BrowserContext;
/** Errors the page did not handle (a failed import() of a chunk in a `void` path shows here). */
let pageErrors: string[];

/** The reference server serving the site and the API; on `port` to come back where it was. */
async function serve(port = 0): Promise<RunningServer> {
  return createServer({ port, dataFile, staticDir: site, log: (line) => requests.push(line) });
}

/** The newest modification time of a file under `folder`. */
async function newest(folder: string): Promise<number> {
  let latest = 0;
  for (const path of await readdir(folder, { recursive: true })) {
    latest = Math.max(latest, (await stat(join(folder, path))).mtimeMs);
  }
  return latest;
}

beforeAll(async () => {
  // The build, not the sources, is what is tested here: a missing or stale one would test nothing.
  const built = await stat(join(dist, 'collections.js')).catch(() => undefined);
  if (!built) throw new Error('dist/collections.js is missing: run `npm run build` before the e2e tests.');
  if ((await newest(join(root, 'src'))) > built.mtimeMs)
    throw new Error('dist/ is older than src/: run `npm run build` before the e2e tests.');
});

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fluxy-e2e-chunks-'));
  site = join(dir, 'site');
  dataFile = join(dir, 'db.json');
  await mkdir(join(site, 'lib'), { recursive: true });
  await mkdir(join(site, 'vendor'));
  for (const file of await readdir(dist)) {
    if (file.endsWith('.js')) await cp(join(dist, file), join(site, 'lib', file));
  }
  await cp(
    join(root, 'node_modules/@preact/signals-core/dist/signals-core.mjs'),
    join(site, 'vendor/signals-core.js'),
  );
  await cp(join(root, 'node_modules/mitt/dist/mitt.mjs'), join(site, 'vendor/mitt.js'));
  await writeFile(join(site, 'index.html'), indexHtml);
  await writeFile(join(site, 'app.js'), appJs);
  requests = [];
  pageErrors = [];
  server = await serve();
  context = await launchProfile(join(dir, 'profile'));
});

afterEach(async () => {
  await context?.close().catch(() => undefined);
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

/**
 * Open the page and complete a pull online: `pull()` resolves once the pull is over, conflicts
 * resolved (none here) included — the step after which the collection has its lazy chunk.
 */
async function openPage(): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(`${server.url}/`);
  await page.locator('html[data-ready="true"]').waitFor({ state: 'attached', timeout: 20_000 });
  await page.evaluate(() => (globalThis as unknown as { fluxy: PageHandle }).fluxy.notes.pull());
  return page;
}

/** The lines of the server's log for the lazy conflicts chunk. */
const chunkRequests = (): string[] => requests.filter((line) => /\/lib\/conflicts-[\w-]+\.js/.test(line));

async function createNote(title: string): Promise<void> {
  const answer = await fetch(`${server.url}/api/notes`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ title }),
  });
  expect(answer.status).toBe(201);
}

test('the server unreachable after a pull (the browser still online): a pull fails into lastError, and works once it is back', async () => {
  await createNote('Groceries');
  const page = await openPage();
  expect(
    await page.evaluate(() =>
      (globalThis as unknown as { fluxy: PageHandle }).fluxy.notes.items.value.map((row) => row.title),
    ),
  ).toStrictEqual(['Groceries']);

  // The network's far end is gone: connection refused for the API and for any file not loaded yet.
  const { port } = new URL(server.url);
  await server.close();
  const failed = await page.evaluate(async () => {
    const { notes, connectivity } = (globalThis as unknown as { fluxy: PageHandle }).fluxy;
    const error = await notes.pull().then(
      () => null,
      (thrown: { code?: string; name?: string; message?: string }) => ({
        code: thrown.code ?? null,
        name: thrown.name ?? null,
      }),
    );
    const lastError = notes.lastError.value;
    return {
      online: connectivity.isOnline.value,
      error,
      lastError: lastError?.code ?? null,
      // (Without the chunk, lastError was set by the pull's catch-all, its cause the import's error.)
      causeIsImport: /dynamically imported module/.test(String((lastError?.cause as Error)?.message)),
    };
  });
  expect(failed).toStrictEqual({
    online: true,
    error: { code: 'collections/pull-failed', name: 'FluxyError' },
    lastError: 'collections/pull-failed',
    causeIsImport: false,
  });

  // Back: the next pull brings what changed meanwhile and clears lastError.
  server = await serve(Number(port));
  await createNote('Books');
  const after = await page.evaluate(async () => {
    const { notes } = (globalThis as unknown as { fluxy: PageHandle }).fluxy;
    await notes.pull();
    return { titles: notes.items.value.map((row) => row.title), lastError: notes.lastError.value };
  });
  expect(after).toStrictEqual({ titles: ['Groceries', 'Books'], lastError: null });
  expect(chunkRequests(), 'the conflicts chunk, fetched once, online').toHaveLength(1);
  expect(pageErrors).toStrictEqual([]);
});

test("offline after a pull (context.setOffline): discarding an insert also discards its row's update", async () => {
  const page = await openPage();
  await setBrowserOffline(context, true);
  const result = await page.evaluate(async () => {
    const { notes, sync, connectivity } = (globalThis as unknown as { fluxy: PageHandle }).fluxy;
    const row = await notes.insert({ title: 'Draft' });
    await notes.update(row.id, { title: 'Draft 2' });
    const [insert] = await sync.pending();
    await sync.discard((insert as { id: string }).id);
    return { online: connectivity.isOnline.value, pending: sync.pendingCount.value };
  });
  expect(result.online).toBe(false);
  await expect
    .poll(
      () =>
        page.evaluate(() => {
          const { notes, sync } = (globalThis as unknown as { fluxy: PageHandle }).fluxy;
          return {
            pending: sync.pendingCount.value,
            rows: notes.items.value.length,
            changes: notes.pending.value.size,
          };
        }),
      { timeout: 5_000, interval: 50, message: 'the insert and its update discarded' },
    )
    .toStrictEqual({ pending: 0, rows: 0, changes: 0 });

  // Back online: nothing of the discarded row is sent (its update would have failed as
  // sync/dependency-failed), and the collection goes on.
  await setBrowserOffline(context, false);
  await page.evaluate(async () => {
    const { notes } = (globalThis as unknown as { fluxy: PageHandle }).fluxy;
    await notes.insert({ title: 'Kept' });
  });
  await expect
    .poll(
      () =>
        page.evaluate(() => {
          const { notes, sync } = (globalThis as unknown as { fluxy: PageHandle }).fluxy;
          return {
            pending: sync.pendingCount.value,
            failed: sync.failedCount.value,
            titles: notes.items.value.map((row) => row.title),
          };
        }),
      { timeout: 10_000, interval: 50, message: 'the new note sent' },
    )
    .toStrictEqual({ pending: 0, failed: 0, titles: ['Kept'] });
  const onServer = (await (await fetch(`${server.url}/api/notes`)).json()) as Array<{ title: string }>;
  expect(onServer.map((note) => note.title)).toStrictEqual(['Kept']);
  expect(chunkRequests(), 'the conflicts chunk, fetched once, online').toHaveLength(1);
  expect(pageErrors).toStrictEqual([]);
});
