// The Sync plugin in a Node terminal: `npm run demo:cli`.
//
// A durable outbox in a folder (.fluxy-demo/): operations queued while offline survive the
// process exiting, and are sent — in order, exactly once — by the next run.
//
//   npm run demo:cli -- --offline-only   # 1. queue three operations offline, then exit
//   npm run demo:cli                     # 2. the queue is still there: go online and drain it
//   npm run demo:cli -- --reset          # start over (deletes .fluxy-demo/)
//
// Each run starts the reference server (examples/server) in this process, on a free port, and
// injects two faults so you can watch a retry that the server's idempotency makes harmless.
// Node cannot run the TypeScript sources directly, so the library is bundled with esbuild first
// (as examples/core-demo.mjs does); no `npm run build` needed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createServer } from './server/server.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = join(process.cwd(), '.fluxy-demo');
const offlineOnly = process.argv.includes('--offline-only');

if (process.argv.includes('--reset')) {
  rmSync(dataDir, { recursive: true, force: true });
  console.log(`Deleted ${relative(process.cwd(), dataDir) || dataDir}/`);
  process.exit(0);
}

/** Bundle the library's entry points (core, storage, connectivity, sync) for Node, then import it. */
async function loadFluxy() {
  const esbuild = await import('esbuild').catch(() => {
    console.error('This demo needs esbuild (a dev dependency): run `npm install` first.');
    process.exit(1);
  });
  const outDir = mkdtempSync(join(tmpdir(), 'fluxy-cli-demo-'));
  const outfile = join(outDir, 'fluxy.mjs');
  try {
    await esbuild.build({
      stdin: {
        contents: [
          "export * from './src/index.ts';",
          "export { StoragePlugin } from './src/plugins/storage/index.ts';",
          "export { ConnectivityPlugin } from './src/plugins/connectivity/index.ts';",
          "export { SyncPlugin } from './src/plugins/sync/index.ts';",
        ].join('\n'),
        resolveDir: root,
        sourcefile: 'fluxy-entry.ts',
        loader: 'ts',
      },
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      outfile,
      logLevel: 'error',
      // crypto-js and localforage are CommonJS: give the ESM bundle a require().
      banner: {
        js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
    });
    return await import(pathToFileURL(outfile).href);
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

const { createApp, effect, StoragePlugin, ConnectivityPlugin, SyncPlugin } = await loadFluxy();
const say = (line = '') => console.log(line);
const step = (title) => say(`\n── ${title}`);

// The server of this run. The queue stores URLs relative to baseUrl, so ops queued by an earlier
// run (against an earlier port) go to this server.
const server = await createServer({ port: 0, dataFile: null, staticDir: null });
const api = `${server.url}/api`;

const app = createApp();
app.register(
  new StoragePlugin({
    driver: 'file',
    dir: dataDir,
    name: 'cli-demo',
    // A demo passphrase: a real CLI would ask for one or read it from the OS keychain.
    secret: 'fluxy-cli-demo-secret',
    iterations: 100_000,
  }),
);
const connectivity = app.register(new ConnectivityPlugin());
const sync = app.register(
  new SyncPlugin({ baseUrl: api, retry: { baseDelayMs: 200, maxDelayMs: 1000, maxRetryAfterMs: 2000 } }),
);
// Node has no network events: this process says when it is offline.
connectivity.setOnline(false);
await app.ready();

step(`1. Storage: ${relative(process.cwd(), dataDir)}/ (file driver, encrypted), server: ${server.url}`);
const earlier = await sync.pending();
if (earlier.length > 0) {
  say(`   ${earlier.length} operation(s) queued by an earlier run survived the restart:`);
  for (const op of earlier) say(`     ${op.method} ${op.url}  (Idempotency-Key ${op.idempotencyKey})`);
} else {
  say('   The queue is empty (a first run, or everything was sent last time).');
}

step('2. Offline: queue a create and an edit of the note it creates, then another create');
const stamp = new Date().toLocaleTimeString();
const tempId = `tmp_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
await sync.queue('POST', '/notes', {
  body: { title: `Shopping list (${stamp})`, clientId: tempId },
  tempId, // later ops may use it; the server's id replaces it before they are sent
  kind: 'note.create',
});
await sync.queue('PATCH', `/notes/${tempId}`, { body: { body: 'milk, eggs, bread' } });
await sync.queue('POST', '/notes', { body: { title: `Call Ada (${stamp})` } });
say(`   queue() resolved three times: each op is on disk. pendingCount = ${sync.pendingCount.value}`);

if (offlineOnly) {
  step('3. Exiting while still offline (--offline-only)');
  say(`   ${sync.pendingCount.value} operation(s) stay queued in ${relative(process.cwd(), dataDir)}/.`);
  say('   Run `npm run demo:cli` again: it finds them and sends them.');
  await app.dispose();
  await server.close();
  process.exit(0);
}

step('3. The server will drop a connection after applying a request, then answer 503 once');
await fetch(`${server.url}/api/_faults`, {
  method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify(['drop-after', { status: 503, retryAfter: '1' }]),
});
sync.on('retry', ({ operation, error, delayMs }) =>
  say(`   retry  ${operation.method} ${operation.url}: ${error.message}; again in ${delayMs} ms, same key`),
);
sync.on('sent', ({ operation, status, serverId }) =>
  say(
    `   sent   ${operation.method} ${operation.url} → ${status}${serverId ? ` (server id ${serverId})` : ''}`,
  ),
);

step('4. Online: the queue drains, one operation at a time, in order');
const total = sync.pendingCount.value;
const stopProgress = effect(() => {
  const pending = sync.pendingCount.value;
  say(`   progress: ${total - pending}/${total} sent, ${pending} pending, status ${sync.status.value}`);
});
const drained = new Promise((resolve) => {
  const stop = effect(() => {
    if (sync.pendingCount.value === 0 && !sync.isSyncing.value) queueMicrotask(() => resolve(stop()));
  });
});
connectivity.setOnline(true);
await drained;
stopProgress();

step('5. What the server applied (GET /api/_log): each operation once, in queue order');
const log = await (await fetch(`${server.url}/api/_log`)).json();
for (const entry of log) say(`   #${entry.seq} ${entry.method} ${entry.path}  key ${entry.key}`);
const keys = log.map((entry) => entry.key);
say(`   ${keys.length} applied, ${new Set(keys).size} distinct keys, failed: ${sync.failedCount.value}`);

await app.dispose();
await server.close();
say(
  '\nDone. `npm run demo:cli -- --offline-only` then `npm run demo:cli` shows the queue surviving a restart.',
);
