// Zero-config bundling, proved on the package as users get it (`npm run test:bundlers`):
//
// 1. `npm pack` from a tree without dist/ (so the tarball proves that `prepack` builds), unpacked
//    into a fresh project whose dependencies are symlinked from this repository (no network).
// 2. tests/bundlers/fixture/app.js (every entry, the outbox on IndexedDB) bundled for the browser
//    by esbuild, Vite, Rollup (+ node-resolve, commonjs) and webpack 5, each with its defaults:
//    no `external`, no `fallback`, no aliases. Each build is loaded in Chromium: an operation is
//    queued while the browser is offline, the page is closed, and a new page (online) delivers it
//    with the same Idempotency-Key.
// 3. Node, ESM and CJS, with no configuration (the file driver): queue offline in one process,
//    deliver from a second one.
//
//   node tests/bundlers/run.mjs [esbuild|vite|rollup|webpack|node …]   # default: all
import { execFile } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromiumArgs, chromiumPath } from '../../scripts/chromium.mjs';

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const fixture = join(root, 'tests', 'bundlers', 'fixture');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const all = ['esbuild', 'vite', 'rollup', 'webpack', 'node'];
const selected = process.argv.slice(2).length > 0 ? process.argv.slice(2) : all;
for (const name of selected) if (!all.includes(name)) throw new Error(`unknown fixture ${name}`);

/** Resolves with `promise`, or rejects after `ms` naming what was awaited. */
function within(ms, label, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${label}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

const started = performance.now();
const timings = [];
/** Things worth knowing that are not failures (a resend the server contract absorbed). */
const notes = [];
async function timed(label, step) {
  const start = performance.now();
  try {
    return await step();
  } finally {
    timings.push([label, Math.round(performance.now() - start)]);
  }
}

// ── 1. Pack and install ────────────────────────────────────────────────────────────────────
const work = mkdtempSync(join(tmpdir(), 'fluxy-bundlers-'));
const project = join(work, 'project');

async function packAndInstall() {
  rmSync(join(root, 'dist'), { recursive: true, force: true });
  // prepack runs `npm run build`; its output would mix with ours, so it is kept for errors only.
  await run(npm, ['pack', '--pack-destination', work], { cwd: root, maxBuffer: 64 * 1024 * 1024 });
  const tarball = readdirSync(work).find((name) => name.endsWith('.tgz'));
  check(tarball, 'npm pack wrote no tarball');
  const installed = join(project, 'node_modules', 'fluxy');
  mkdirSync(installed, { recursive: true });
  await run('tar', ['-xzf', join(work, tarball), '-C', installed, '--strip-components=1']);
  check(
    readdirSync(join(installed, 'dist')).includes('index.js'),
    'the tarball has no dist/index.js: prepack did not build',
  );
  const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
  // Runtime dependencies, and the optional peers the fixture uses (react for fluxy/react).
  for (const name of [
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}),
  ]) {
    const target = join(project, 'node_modules', name);
    mkdirSync(dirname(target), { recursive: true });
    symlinkSync(join(root, 'node_modules', name), target, 'dir');
  }
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'fixture', private: true }));
  cpSync(fixture, project, { recursive: true });
}

// ── 2. Bundlers ────────────────────────────────────────────────────────────────────────────
const html = (script, type) =>
  `<!doctype html><html><head><meta charset="utf-8"><title>fixture</title></head><body><output id="status"></output><script ${type === 'module' ? 'type="module" ' : ''}src="${script}"></script></body></html>`;

/** Each bundler builds app.js into its own folder, with its defaults; returns the folder. */
const bundlers = {
  async esbuild() {
    // = `esbuild app.js --bundle --outdir=out-esbuild` (platform browser, format iife).
    const { build } = await import('esbuild');
    const out = join(project, 'out-esbuild');
    await build({
      absWorkingDir: project,
      entryPoints: ['app.js'],
      bundle: true,
      outdir: out,
      logLevel: 'error',
    });
    writeFileSync(join(out, 'index.html'), html('app.js', 'classic'));
    return out;
  },
  async vite() {
    // = `vite build` with an index.html that loads app.js (no vite.config).
    const { build } = await import('vite');
    writeFileSync(join(project, 'index.html'), html('/app.js', 'module'));
    const out = join(project, 'out-vite');
    await build({ root: project, configFile: false, logLevel: 'error', build: { outDir: out } });
    return out;
  },
  async rollup() {
    // = `rollup app.js -d out-rollup -f es -p node-resolve -p commonjs`: the two plugins every
    // Rollup app that uses npm packages has (localforage and crypto-js are CommonJS).
    const { rollup } = await import('rollup');
    const { nodeResolve } = await import('@rollup/plugin-node-resolve');
    const { default: commonjs } = await import('@rollup/plugin-commonjs');
    const out = join(project, 'out-rollup');
    const bundle = await rollup({
      input: join(project, 'app.js'),
      plugins: [nodeResolve(), commonjs()],
      onwarn() {},
    });
    await bundle.write({ dir: out, format: 'es' });
    await bundle.close();
    // React's own CommonJS entry reads process.env.NODE_ENV, which Rollup leaves as is (React's
    // docs add @rollup/plugin-replace); Fluxy needs nothing, so the page defines it instead.
    writeFileSync(
      join(out, 'index.html'),
      html('app.js', 'module').replace(
        '<script type="module"',
        `<script>globalThis.process = { env: { NODE_ENV: 'production' } };</script><script type="module"`,
      ),
    );
    return out;
  },
  async webpack() {
    // = `webpack --mode production ./app.js` (target web, no resolve.fallback, no externals).
    const { default: webpack } = await import('webpack');
    const out = join(project, 'out-webpack');
    const compiler = webpack({
      mode: 'production',
      context: project,
      entry: './app.js',
      output: { path: out },
    });
    const stats = await new Promise((done, fail) =>
      compiler.run((error, result) => (error ? fail(error) : compiler.close(() => done(result)))),
    );
    check(!stats.hasErrors(), `webpack: ${stats.toString({ all: false, errors: true })}`);
    writeFileSync(join(out, 'index.html'), html('main.js', 'classic'));
    return out;
  },
};

const types = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.map': 'application/json',
};

/**
 * Serves `dir` and records every POST to /api/notes, applying each Idempotency-Key once (the
 * server contract): a browser may resend a POST whose keep-alive connection the server closed
 * under it, with the same key, which such a server absorbs.
 */
async function startServer(dir) {
  const received = [];
  const applied = [];
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (request.method === 'POST' && url.pathname === '/api/notes') {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        const entry = { key: request.headers['idempotency-key'], body: JSON.parse(body) };
        // Which connection and when: tells a browser's resend on a new socket from a second send.
        received.push({ ...entry, port: request.socket.remotePort, at: Date.now() });
        if (!applied.some((done) => done.key === entry.key)) applied.push(entry);
        response.writeHead(201, { 'content-type': 'application/json' }).end('{"ok":true}');
      });
      return;
    }
    if (request.method === 'GET' && url.pathname === '/api/todos') {
      // The fixture's collection: no rows (a pull of one page).
      const page = { changes: [], deleted: [], cursor: 'c1', more: false };
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(page));
      return;
    }
    const file = normalize(join(dir, url.pathname === '/' ? 'index.html' : url.pathname));
    if (!file.startsWith(dir)) return response.writeHead(403).end();
    try {
      const data = readFileSync(file);
      response
        .writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' })
        .end(data);
    } catch {
      response.writeHead(404).end();
    }
  });
  server.keepAliveTimeout = 60_000; // fewer idle sockets closed under a request on a slow machine
  await new Promise((listening) => server.listen(0, '127.0.0.1', listening));
  const { port } = server.address();
  const close = () => {
    server.closeAllConnections();
    return new Promise((done) => server.close(done));
  };
  return { url: `http://127.0.0.1:${port}`, received, applied, close };
}

async function openFixture(context, url, label) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  await page.goto(url);
  await within(
    15_000,
    `${label}: the fixture app starts (window.fixture)`,
    page.waitForFunction(() => window.fixture !== undefined || window.fixtureError !== undefined, null, {
      timeout: 0,
    }),
  );
  const failure = await page.evaluate(() => window.fixtureError);
  check(failure === undefined, `${label}: the app failed to start: ${failure} ${errors.join('\n')}`);
  return page;
}

async function browserFixture(browser, name) {
  const out = await timed(`${name}: build`, () => bundlers[name]());
  const server = await startServer(out);
  const context = await browser.newContext();
  try {
    await timed(`${name}: offline → reload → delivered (Chromium)`, async () => {
      const first = await openFixture(context, server.url, name);
      const facts = await first.evaluate(() => ({
        driver: window.fixture.driver,
        entries: window.fixture.entries,
      }));
      check(facts.driver === 'indexeddb', `${name}: driver ${facts.driver}, expected indexeddb`);
      for (const [entry, count] of Object.entries(facts.entries))
        check(count > 0, `${name}: ${entry} exports nothing`);
      await within(
        10_000,
        `${name}: the collection pulled at start`,
        first.waitForFunction(() => window.fixture.pulled(), null, { timeout: 0 }),
      );
      // The chunks fetched after start-up arrive while online: wait for the network to settle.
      await first.waitForLoadState('networkidle', { timeout: 15_000 });
      await context.setOffline(true);
      const offlineAt = Date.now();
      await within(
        10_000,
        `${name}: isOnline turns false`,
        first.waitForFunction(() => !window.fixture.isOnline(), null, { timeout: 0 }),
      );
      const queuedAt = Date.now();
      const id = await first.evaluate(() => window.fixture.queue('written offline'));
      // A page that lost the network after it started still discards, queues a Blob and a
      // temporary id: the package fetched the chunks those need while it was online.
      const failures = await first.evaluate(() => window.fixture.offlineExtras());
      check(failures.length === 0, `${name}: offline, after the page started: ${failures.join('; ')}`);
      check((await first.evaluate(() => window.fixture.pending())) === 1, `${name}: the op is not pending`);
      // Unload the app while the page is still offline, then close it: closing detaches the
      // page's DevTools session, which lifts the offline emulation for the renderer's last moments.
      await first.goto('about:blank');
      await first.close();
      check(
        server.received.length === 0,
        `${name}: something reached the server while offline (offline at ${offlineAt}, queued at ${queuedAt}): ${JSON.stringify(server.received)}`,
      );
      await context.setOffline(false);
      const second = await openFixture(context, server.url, `${name} (reloaded)`);
      await within(
        15_000,
        `${name}: the op queued offline is delivered after the reload`,
        second.waitForFunction(() => window.fixture.pending() === 0, null, { timeout: 0 }),
      );
      check(
        JSON.stringify(server.applied) ===
          JSON.stringify([{ key: id, body: { title: 'written offline' } }]) &&
          server.received.every((request) => request.key === id),
        `${name}: the server received ${JSON.stringify(server.received)}, expected the op queued offline (key ${id}), applied once`,
      );
      if (server.received.length > 1) {
        notes.push(
          `${name}: the op reached the server ${server.received.length} times (same key, applied once): ${JSON.stringify(server.received.map(({ port, at }) => ({ port, at })))}`,
        );
      }
      await second.close();
    });
  } finally {
    await context.close();
    await server.close();
  }
}

// ── 3. Node ────────────────────────────────────────────────────────────────────────────────
async function nodeFixtures() {
  const server = await startServer(project);
  try {
    for (const script of ['node-app.mjs', 'node-app.cjs']) {
      await timed(`node: ${script} offline → restart → delivered`, async () => {
        const node = async (phase) =>
          JSON.parse(
            (
              await run(process.execPath, [script, phase, `${server.url}/api`], {
                cwd: project,
                timeout: 20_000,
              })
            ).stdout,
          );
        const queued = await node('queue');
        check(
          queued.driver === 'file' && queued.pending === 1,
          `${script}: queue phase ${JSON.stringify(queued)}`,
        );
        check(server.received.length === 0, `${script}: something was sent while offline`);
        const delivered = await node('deliver');
        check(
          delivered.driver === 'file' && delivered.pending === 0,
          `${script}: deliver phase ${JSON.stringify(delivered)}`,
        );
        const sent = server.received.splice(0);
        const applied = server.applied.splice(0);
        check(
          applied.length === 1 &&
            applied[0].key === queued.id &&
            sent.every((request) => request.key === queued.id),
          `${script}: the server received ${JSON.stringify(sent)}, expected the op queued offline (key ${queued.id}), applied once`,
        );
      });
    }
  } finally {
    await server.close();
  }
}

try {
  await timed('npm pack (prepack build) + install', packAndInstall);
  const browserNames = selected.filter((name) => name !== 'node');
  if (browserNames.length > 0) {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: [...chromiumArgs],
    });
    try {
      for (const name of browserNames) await browserFixture(browser, name);
    } finally {
      await browser.close();
    }
  }
  if (selected.includes('node')) await nodeFixtures();
  for (const [label, ms] of timings) console.log(`ok  ${label}  ${(ms / 1000).toFixed(1)} s`);
  for (const note of notes) console.log(`note: ${note}`);
  console.log(`bundler fixtures passed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
} catch (error) {
  for (const [label, ms] of timings) console.log(`    ${label}  ${(ms / 1000).toFixed(1)} s`);
  console.error(error);
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
