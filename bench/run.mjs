// Fluxy benchmarks: `node bench/run.mjs` (or `npm run bench`).
//
// Runs every step in headless Debian Chromium (a persistent profile, so IndexedDB is on disk) and
// in Node, then writes bench/RESULTS.md and bench/results.json. Each figure is a ratio against a
// baseline measured side by side in the same page or process, in alternating rounds (median).
//
//   node bench/run.mjs                 # everything (~3 minutes on 2 cores)
//   node bench/run.mjs --quick         # fewer rounds, smaller depths: a smoke test (prints, writes nothing)
//   node bench/run.mjs --only=enqueue,flush,node-crypto,size   # some steps (prints; add --write to write)
//   node bench/run.mjs --no-write      # print, do not write RESULTS.md / results.json
//   node bench/run.mjs --render        # rewrite RESULTS.md from results.json (after editing report.mjs)
//   node bench/run.mjs --only=node-flush-batch-echo --merge   # run some steps, merge them into results.json
//   node bench/run.mjs --only=flushEcho --quick --profile       # browser steps under Chromium's CPU
//                                      # profiler: self time per function and per source file (prints only)
//   node bench/run.mjs --only=node-flush-batch-echo --profile  # Node flush steps: the drains alone
//                                      # under the inspector's CPU profiler (prints only)
//   node bench/run.mjs --only=flushTimeline   # where the time between two requests of a flush goes
//   node bench/run.mjs --only=enqueueTimeline # where one queue() goes (webcrypto; enqueueTimelinePlain:
//                                      # no secret); with --profile, that variant alone under the profiler
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { createServer } from '../examples/server/server.mjs';
import { chromiumArgs, chromiumPath } from '../scripts/chromium.mjs';
import { formatSizes, measureSizes } from '../scripts/size.mjs';
import { createEchoServer } from './echo-server.mjs';
import { summarizeProfiles } from './profile-summary.mjs';
import { renderResults } from './report.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args
  .find((arg) => arg.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
// A partial or quick run prints its report instead of overwriting the full one (unless --write).
const merge = args.includes('--merge') && !quick && only !== undefined;
const write = merge || args.includes('--write') || (!quick && !only && !args.includes('--no-write'));
const selected = (id) => !only || only.includes(id);
const profiling = args.includes('--profile');
const started = Date.now();

const log = (...parts) =>
  console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s]`, ...parts);

/**
 * The browser steps, in run order: id, title, the page function and its arguments, a time limit,
 * and the server whose origin serves the page (`reference` unless said otherwise).
 */
const browserSteps = [
  {
    id: 'enqueue',
    title: '1. enqueue (sequential, awaited)',
    fn: 'enqueue',
    args: quick ? { rounds: 2, ops: 100 } : { rounds: 5, ops: 500 },
    timeoutMs: 120_000,
  },
  {
    id: 'burst',
    title: '3. burst enqueue (1,000 concurrent)',
    fn: 'burst',
    args: quick ? { rounds: 1, count: 300 } : { rounds: 3, count: 1000 },
    timeoutMs: 90_000,
  },
  {
    id: 'depth',
    title: '2. enqueue cost against queue depth',
    fn: 'depth',
    args: quick
      ? { depths: [0, 200, 1000], batch: 50, rounds: 2 }
      : { depths: [0, 1000, 10000], batch: 150, rounds: 5 },
    timeoutMs: 240_000,
  },
  {
    id: 'coldStart',
    title: '4. cold start with 10,000 stored ops',
    fn: 'coldStart',
    args: { rounds: quick ? 2 : 5 },
    timeoutMs: 60_000,
  },
  { id: 'memory', title: '7. memory with 10,000 pending ops', fn: 'memory', args: {}, timeoutMs: 60_000 },
  {
    id: 'naive',
    title: '9. naive queue (one array in one record)',
    fn: 'naive',
    args: quick
      ? { depths: [0, 1000], rounds: 1, perDepth: { 0: 20, 1000: 5 } }
      : { depths: [0, 1000, 10000], rounds: 3, perDepth: { 0: 50, 1000: 20, 10000: 5 } },
    timeoutMs: 120_000,
  },
  {
    id: 'flush',
    title: '5. flush to the reference server',
    fn: 'flush',
    args: { rounds: quick ? 1 : 3, ops: quick ? 200 : 1000 },
    timeoutMs: 180_000,
  },
  {
    id: 'flushEcho',
    title: '5. flush to a constant-cost server',
    fn: 'flush',
    server: 'echo',
    args: { rounds: quick ? 1 : 3, ops: quick ? 200 : 1000 },
    timeoutMs: 180_000,
  },
  {
    // Batches of 100 (the server contract's POST of { ops }), against the same fetch loop.
    id: 'flushBatchEcho',
    title: '5. flush in batches of 100 to a constant-cost server',
    fn: 'flush',
    server: 'echo',
    args: {
      rounds: quick ? 1 : 3,
      ops: quick ? 200 : 1000,
      batch: { path: '/api/batch', max: 100 },
      profiling,
    },
    timeoutMs: 180_000,
  },
  {
    // The same with 20 ms of latency per request. The fetch loop's rate is measured over its first
    // 200 requests: each costs the same (a constant-cost server), and 1,000 would take 25 s a round.
    id: 'flushBatchEcho20ms',
    title: '5. flush in batches of 100, 20 ms of latency',
    fn: 'flush',
    server: 'slowEcho',
    args: {
      rounds: quick ? 1 : 2,
      ops: quick ? 200 : 1000,
      loopOps: quick ? 50 : 200,
      batch: { path: '/api/batch', max: 100 },
      profiling,
    },
    timeoutMs: 180_000,
  },
  {
    // Only when asked for (--only=flushTimeline): where the time between two requests goes.
    id: 'flushTimeline',
    title: 'flush timeline (constant-cost server)',
    fn: 'flushTimeline',
    server: 'echo',
    optIn: true,
    args: { ops: quick ? 200 : 1000, profiling },
    timeoutMs: 120_000,
  },
  {
    // Only when asked for: where one queue() spends its time, one variant (webcrypto, no-secret).
    id: 'enqueueTimeline',
    title: 'enqueue timeline (webcrypto)',
    fn: 'enqueueTimeline',
    optIn: true,
    args: { ops: quick ? 300 : 2000, variant: 'webcrypto', profiling },
    timeoutMs: 120_000,
  },
  {
    id: 'enqueueTimelinePlain',
    title: 'enqueue timeline (no secret)',
    fn: 'enqueueTimeline',
    optIn: true,
    args: { ops: quick ? 300 : 2000, variant: 'no-secret', profiling },
    timeoutMs: 120_000,
  },
  {
    id: 'crypto',
    title: '6. encryption (Chromium)',
    fn: 'crypto',
    args: {
      webcrypto: { deriveRounds: quick ? 1 : 3, ops: quick ? 300 : 2000, rounds: 3 },
      cryptojs: {
        deriveRounds: 1,
        ops: quick ? 100 : 400,
        rounds: 3,
        ...(quick ? { iterations: 60_000 } : {}),
      },
    },
    timeoutMs: 120_000,
  },
];
const NODE_STEPS = [
  'node-enqueue-fake-indexeddb',
  'node-enqueue-file',
  'node-flush-reference',
  'node-flush-echo',
  'node-flush-batch-echo',
  'node-flush-batch-echo-20ms',
  'node-flush-file-echo',
  'node-crypto',
];

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms / 1000} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function packageVersion(name) {
  try {
    return JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

function gitDescribe() {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root })
      .toString()
      .trim();
    return dirty ? `${commit} (src/ with uncommitted changes)` : commit;
  } catch {
    return 'unknown';
  }
}

async function bundlePage(staticDir) {
  await build({
    absWorkingDir: root,
    entryPoints: { page: join(here, 'page/main.mjs') },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    splitting: true,
    outdir: staticDir,
    external: ['node:*'],
    logLevel: 'warning',
  });
  await writeFile(
    join(staticDir, 'index.html'),
    '<!doctype html><meta charset="utf-8"><title>Fluxy bench</title><link rel="icon" href="data:,">\n<script type="module" src="/page.js"></script>\n',
  );
}

async function bundleNode(outfile) {
  await build({
    absWorkingDir: root,
    entryPoints: [join(here, 'node/main.mjs')],
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    outfile,
    logLevel: 'warning',
  });
}

class Browser {
  constructor(profileDir, url) {
    this.profileDir = profileDir;
    this.url = url;
  }

  async start() {
    await rm(this.profileDir, { recursive: true, force: true });
    await mkdir(this.profileDir, { recursive: true });
    this.context = await chromium.launchPersistentContext(this.profileDir, {
      executablePath: chromiumPath,
      headless: true,
      args: [...chromiumArgs, '--enable-precise-memory-info', '--js-flags=--expose-gc'],
    });
    this.page = this.context.pages()[0] ?? (await this.context.newPage());
    this.page.on('console', (message) => {
      const text = message.text();
      if (text.startsWith('[bench]')) log(text.slice(8));
      else if (message.type() === 'error' || message.type() === 'warning')
        log(`page ${message.type()}: ${text}`);
    });
    this.page.on('pageerror', (error) => log(`page error: ${error.message}`));
    await this.load(this.url);
    this.userAgent = await this.page.evaluate(() => navigator.userAgent);
  }

  async load(url) {
    this.url = url;
    await this.page.goto(url, { waitUntil: 'load', timeout: 30_000 });
    await this.page.waitForFunction(() => globalThis.fluxyBench?.ready === true, null, { timeout: 30_000 });
  }

  /** Runs a page function, first moving the page to `url` if it is elsewhere (its state is lost then). */
  async run(fn, stepArgs, url = this.url) {
    if (url !== this.url) await this.load(url);
    return this.page.evaluate(([name, input]) => globalThis.fluxyBench[name](input), [fn, stepArgs]);
  }

  /** After a failed or timed-out step: reload the page (stops its work), or relaunch the browser. */
  async recover() {
    try {
      await this.load(this.url);
    } catch {
      log('page reload failed: relaunching the browser');
      await this.close();
      await this.start();
    }
  }

  async close() {
    await this.context?.close().catch(() => {});
    this.context = undefined;
  }
}

/**
 * Runs `run` under Chromium's CPU profiler (sampling every 100 µs) and logs the functions and the
 * source files with the most self time. Idle and garbage collection are shown as such.
 */
async function cpuProfile(browser, run) {
  const cdp = await browser.page.context().newCDPSession(browser.page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
  // A step may profile a part of itself: console.profile() … console.profileEnd() in the page.
  const parts = [];
  cdp.on('Profiler.consoleProfileFinished', ({ profile }) => parts.push(profile));
  await cdp.send('Profiler.start');
  let result;
  try {
    result = await run();
  } finally {
    const { profile: whole } = await cdp.send('Profiler.stop');
    await cdp.detach().catch(() => {});
    const profiles = parts.length > 0 ? parts : [whole];
    if (parts.length > 0) log(`profile: the ${parts.length} part(s) the step marked with console.profile()`);
    const [functions, files] = summarizeProfiles(profiles);
    log(functions);
    log(files);
  }
  return result;
}

function runNodeSide({ bundle, serverUrl, echoUrl, slowEchoUrl, outFile, tmpDir, steps }) {
  return new Promise((resolve, reject) => {
    const config = {
      serverUrl,
      echoUrl,
      slowEchoUrl,
      outFile,
      tmpDir,
      rounds: quick ? 1 : 3,
      only: steps,
      profiling,
    };
    const child = spawn(process.execPath, [bundle, JSON.stringify(config)], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let buffer = '';
    child.stdout.on('data', (data) => {
      buffer += data;
      const lines = buffer.split('\n');
      buffer = lines.pop();
      for (const line of lines) log(line.startsWith('[bench] ') ? line.slice(8) : line);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

async function main() {
  const results = { steps: {}, meta: {} };
  const record = (id, title, outcome) => {
    results.steps[id] = { title, ...outcome };
  };
  const runDir = join(here, 'results/tmp', `run-${process.pid}`);
  const staticDir = join(runDir, 'static');
  const fileTmp = join(runDir, 'files');
  const profileDir = await mkdtemp(join(tmpdir(), 'fluxy-bench-profile-'));
  await mkdir(staticDir, { recursive: true });
  await mkdir(fileTmp, { recursive: true });
  let server;
  let echo;
  let slowEcho;
  let browser;
  try {
    if (selected('size')) {
      log('size: building every entry with esbuild…');
      const t0 = Date.now();
      try {
        const sizes = await measureSizes();
        record('size', '8. bundle size', { ok: true, result: sizes, seconds: (Date.now() - t0) / 1000 });
        for (const line of formatSizes(sizes)) log(line);
      } catch (error) {
        log(`size FAILED: ${error.stack ?? error}`);
        record('size', '8. bundle size', { ok: false, error: String(error.stack ?? error) });
      }
    }

    log('bundling the bench page and the Node side with esbuild…');
    await bundlePage(staticDir);
    const nodeBundle = join(runDir, 'node-bench.mjs');
    await bundleNode(nodeBundle);
    server = await createServer({ port: 0, dataFile: null, staticDir });
    log(`reference server at ${server.url} (dataFile: null), serving the bench page`);
    echo = await createEchoServer({ staticDir });
    log(`constant-cost server at ${echo.url}, serving the bench page too`);
    slowEcho = await createEchoServer({ staticDir, delayMs: 20 });
    const origins = { reference: `${server.url}/`, echo: `${echo.url}/`, slowEcho: `${slowEcho.url}/` };

    const steps = browserSteps.filter((step) => selected(step.id) && (!step.optIn || only));
    if (steps.length > 0) {
      browser = new Browser(profileDir, `${server.url}/`);
      await browser.start();
      results.meta.userAgent = browser.userAgent;
      results.meta.bodyBytes = await browser.page.evaluate(() => globalThis.fluxyBench.bodyBytes);
      log(`browser: ${browser.userAgent}`);
      for (const step of steps) {
        log(`step ${step.title}…`);
        const t0 = Date.now();
        try {
          const url = origins[step.server ?? 'reference'];
          const running = profiling
            ? cpuProfile(browser, () => browser.run(step.fn, step.args, url))
            : browser.run(step.fn, step.args, url);
          const result = await withTimeout(running, step.timeoutMs, step.title);
          record(step.id, step.title, {
            ok: true,
            result,
            args: step.args,
            seconds: (Date.now() - t0) / 1000,
          });
        } catch (error) {
          log(`step ${step.title} FAILED: ${error.message ?? error}`);
          record(step.id, step.title, {
            ok: false,
            error: String(error.message ?? error),
            args: step.args,
            seconds: (Date.now() - t0) / 1000,
          });
          await browser.recover();
        }
      }
      await withTimeout(browser.run('cleanup', {}), 30_000, 'cleanup').catch(() => {});
      await browser.close();
      browser = undefined;
    }

    const nodeSteps = NODE_STEPS.filter(selected);
    if (nodeSteps.length > 0) {
      log('Node side (a child process; the reference server stays in this one)…');
      const outFile = join(runDir, 'node-results.json');
      const exit = await runNodeSide({
        bundle: nodeBundle,
        serverUrl: server.url,
        echoUrl: echo.url,
        slowEchoUrl: slowEcho.url,
        outFile,
        tmpDir: fileTmp,
        steps: nodeSteps,
      });
      const nodeResults = existsSync(outFile) ? JSON.parse(await readFile(outFile, 'utf8')) : {};
      for (const id of nodeSteps) {
        const title = `Node: ${id.replace(/^node-/, '')}`;
        if (nodeResults[id]) record(id, title, nodeResults[id]);
        else
          record(id, title, {
            ok: false,
            error: `the Node side exited (code ${exit.code}, signal ${exit.signal}) before this step finished`,
          });
      }
    }
  } finally {
    await browser?.close();
    await server?.close();
    await echo?.close();
    await slowEcho?.close();
    await rm(profileDir, { recursive: true, force: true });
    await rm(runDir, { recursive: true, force: true });
  }

  results.meta = {
    ...results.meta,
    date: new Date().toISOString(),
    runtimeSeconds: Math.round((Date.now() - started) / 1000),
    quick,
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      os: `${process.platform} ${release()}`,
    },
    versions: {
      fluxy: JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version,
      commit: gitDescribe(),
      node: process.version,
      chromium: /Chrome\/([\d.]+)/.exec(results.meta.userAgent ?? '')?.[1] ?? 'not run',
      'playwright-core': packageVersion('playwright-core'),
      esbuild: packageVersion('esbuild'),
      'fake-indexeddb': packageVersion('fake-indexeddb'),
      localforage: packageVersion('localforage'),
      'crypto-js': packageVersion('crypto-js'),
      '@preact/signals-core': packageVersion('@preact/signals-core'),
    },
  };
  if (merge) {
    // The other steps and the full run's meta stay; the merged steps are listed with their date.
    const full = JSON.parse(await readFile(join(here, 'results.json'), 'utf8'));
    const { date, versions } = results.meta;
    Object.assign(full.steps, results.steps);
    full.meta.merged = [
      ...(full.meta.merged ?? []).filter((entry) => !entry.steps.every((id) => only.includes(id))),
      { steps: only, date, commit: versions.commit },
    ];
    Object.assign(results, full);
  }
  const markdown = renderResults(results);
  if (write) {
    await writeFile(join(here, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
    await writeFile(join(here, 'RESULTS.md'), markdown);
    log('wrote bench/RESULTS.md and bench/results.json');
  } else {
    console.log(`\n${markdown}`);
  }
  const failed = Object.entries(results.steps).filter(([, step]) => !step.ok);
  log(
    `done in ${Math.round((Date.now() - started) / 1000)} s; ${failed.length} step(s) failed${failed.length ? `: ${failed.map(([id]) => id).join(', ')}` : ''}`,
  );
}

async function render() {
  const results = JSON.parse(await readFile(join(here, 'results.json'), 'utf8'));
  await writeFile(join(here, 'RESULTS.md'), renderResults(results));
  console.log('rewrote bench/RESULTS.md from bench/results.json');
}

(args.includes('--render') ? render() : main()).catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
