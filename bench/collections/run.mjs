// Collections benchmarks in headless Debian Chromium (persistent profile: IndexedDB on disk):
//
//   node bench/collections/run.mjs           # prints the figures, writes bench/collections/results.json
//   node bench/collections/run.mjs --profile [--plain] [--rounds=3]
//                                            # pulls under Chromium's CPU profiler (the pull alone):
//                                            # self and total time per function
//   node bench/collections/run.mjs --pull [--rounds=9]
//                                            # only the pull figures (encrypted, no secret), medians of N
//   node bench/collections/run.mjs --catchup [--rounds=9]
//                                            # only a tab's catch-up (changes answered in another
//                                            # tab whose message did not come): 1 and 50 at once
//   node bench/collections/run.mjs --cpu [--plain | --loop] [--rounds=10]
//                                            # CPU time of every Chromium thread during the pull
//                                            # alone (Linux /proc schedstat), by process and thread
//
// A feed server on 127.0.0.1 serves 10,000 generated notes in pages of 500 (GET /api/notes?since=)
// and the page. Each figure is a ratio against a baseline measured in the same page:
// - pull: a collection's pull() against a plain fetch loop over the same pages;
// - cold start: ready() of an app whose collection has the rows cached, against a raw IndexedDB
//   getAll() of the same rows;
// - update: the time from update() to `items` showing it (same frame), with 10,000 rows.

import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { chromiumArgs, chromiumPath } from '../../scripts/chromium.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes('--quick');
const profiling = process.argv.includes('--profile');
const cpuTimes = process.argv.includes('--cpu');
const pullOnly = process.argv.includes('--pull');
const TOTAL = 10_000;
const PAGE = 500;

const rows = Array.from({ length: TOTAL }, (_, n) => ({
  id: `n_${n + 1}`,
  title: `Note ${n + 1}`,
  body: `Body of note ${n + 1}: ${'lorem ipsum '.repeat(6)}`,
  createdAt: new Date(1_700_000_000_000 + n * 1000).toISOString(),
  version: 1,
}));

async function main() {
  const built = await build({
    entryPoints: [join(here, 'page.mjs')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    external: ['node:*'],
    logLevel: 'warning',
  });
  const script = built.outputFiles[0].text;
  const server = createServer((request, response) => {
    const url = new URL(request.url, 'http://localhost');
    if (url.pathname === '/api/notes' && url.searchParams.has('since')) {
      const since = Number(url.searchParams.get('since') || 0);
      const changes = rows.slice(since, since + PAGE);
      const body = JSON.stringify({
        changes,
        deleted: [],
        cursor: String(since + changes.length),
        more: since + changes.length < TOTAL,
      });
      response.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      return response.end(body);
    }
    if (url.pathname === '/page.js') {
      response.writeHead(200, { 'Content-Type': 'text/javascript' });
      return response.end(script);
    }
    if (url.pathname === '/') {
      response.writeHead(200, { 'Content-Type': 'text/html' });
      return response.end(
        '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module" src="/page.js"></script>',
      );
    }
    response.writeHead(404).end();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  const profile = await mkdtemp(join(tmpdir(), 'fluxy-bench-collections-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: [...chromiumArgs],
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (error) => console.error('page error:', error.message));
    await page.goto(origin);
    await page.waitForFunction(() => globalThis.collectionsBench?.ready === true, null, { timeout: 30_000 });
    const run = (fn, args) =>
      page.evaluate(([name, input]) => globalThis.collectionsBench[name](input), [fn, args]);
    if (profiling) return await cpuProfile(page, run);
    if (cpuTimes) return await threadTimes(page, run, profile);
    if (pullOnly) {
      // Only the two pull figures, with more rounds: for comparing one change against another.
      const rounds = Number(process.argv.find((arg) => arg.startsWith('--rounds='))?.slice(9) ?? 9);
      for (const secret of [true, false]) {
        const figure = await run('pull', { rounds, total: TOTAL, secret });
        console.log(
          `pull (${secret ? 'encrypted' : 'no secret'}): ${figure.ratio.toFixed(2)}× (ours ${figure.oursMs.toFixed(1)} ms, loop ${figure.loopMs.toFixed(1)} ms, medians of ${rounds})`,
        );
      }
      return;
    }
    if (process.argv.includes('--catchup')) {
      const rounds = Number(process.argv.find((arg) => arg.startsWith('--rounds='))?.slice(9) ?? 9);
      for (const changes of [1, 50]) {
        const figure = await run('catchUp', { rounds, total: TOTAL, changes });
        console.log(
          `catch-up of ${changes} change${changes > 1 ? 's' : ''} at once, ${TOTAL} cached rows (encrypted): ${figure.medianMs.toFixed(1)} ms (median of ${rounds}: ${figure.times.map((ms) => ms.toFixed(0)).join(', ')})`,
        );
      }
      return;
    }
    const rounds = quick ? 2 : 5;
    const results = {
      pull: await run('pull', { rounds, total: TOTAL }),
      pullPlain: await run('pull', { rounds, total: TOTAL, secret: false }),
      coldStartEncrypted: await run('coldStart', { rounds, total: TOTAL, secret: true }),
      coldStartPlain: await run('coldStart', { rounds, total: TOTAL, secret: false }),
      update: await run('update', { total: TOTAL, updates: quick ? 20 : 100 }),
    };
    const ms = (value) => `${value.toFixed(1)} ms`;
    for (const [label, figure] of [
      ['encrypted', results.pull],
      ['no secret', results.pullPlain],
    ]) {
      console.log(
        `pull of ${TOTAL} rows in pages of ${PAGE} (${label}): ${ms(figure.oursMs)} vs fetch loop ${ms(figure.loopMs)} → ${figure.ratio.toFixed(2)}× the loop's speed (goal ≥ 0.8×)`,
      );
    }
    for (const [label, figure] of [
      ['encrypted', results.coldStartEncrypted],
      ['no secret', results.coldStartPlain],
    ]) {
      console.log(
        `cold start with ${TOTAL} cached rows (${label}): ${ms(figure.oursMs)} vs raw getAll() ${ms(figure.rawMs)} → ${figure.ratio.toFixed(2)}× (goal ≤ 2×)`,
      );
    }
    console.log(
      `update() until items shows it, ${TOTAL} rows: median ${results.update.medianMs.toFixed(2)} ms, p95 ${results.update.p95Ms.toFixed(2)} ms (goal ≤ 2 ms)`,
    );
    if (!quick)
      await writeFile(
        join(here, 'results.json'),
        `${JSON.stringify({ at: new Date().toISOString(), ...results }, null, 2)}\n`,
      );
  } finally {
    await context.close();
    server.close();
    await rm(profile, { recursive: true, force: true });
  }
}

/**
 * Runs pulls (after a warm-up) under the CPU profiler, the profiler on for the pull alone (not the
 * set-up, the dispose or the fetch loop); prints self and total time per function, summed over
 * `--rounds=N` pulls (default 3), `--plain` for a database without a secret.
 */
async function cpuProfile(page, run) {
  const secret = !process.argv.includes('--plain');
  const rounds = Number(process.argv.find((arg) => arg.startsWith('--rounds='))?.slice(9) ?? 3);
  await run('pull', { rounds: 1, total: TOTAL, secret });
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
  const profiles = [];
  await page.exposeFunction('profilerControl', async (what) => {
    if (what === 'start') await cdp.send('Profiler.start');
    else profiles.push((await cdp.send('Profiler.stop')).profile);
  });
  const times = [];
  for (let round = 0; round < rounds; round++)
    times.push(await run('profiledPull', { total: TOTAL, secret }));
  const self = new Map();
  const inclusive = new Map();
  let total = 0;
  const label = ({ functionName, url, lineNumber }) =>
    `${functionName || '(anonymous)'} ${url.split('/').pop()}:${lineNumber + 1}`;
  for (const profile of profiles) {
    const byId = new Map(profile.nodes.map((node) => [node.id, node]));
    const parent = new Map();
    for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
    for (const id of profile.samples) {
      total++;
      const key = label(byId.get(id).callFrame);
      self.set(key, (self.get(key) ?? 0) + 1);
      const seen = new Set();
      for (let at = id; at !== undefined; at = parent.get(at)) {
        const name = label(byId.get(at).callFrame);
        if (seen.has(name)) continue;
        seen.add(name);
        inclusive.set(name, (inclusive.get(name) ?? 0) + 1);
      }
    }
  }
  console.log(
    `pull (${secret ? 'encrypted' : 'no secret'}): ${times.map((ms) => ms.toFixed(0)).join(', ')} ms`,
  );
  const top = (map, count) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([key, n]) => `${((n / total) * 100).toFixed(1).padStart(5)}%  ${key}`)
      .join('\n');
  console.log(`self time (share of the samples while pulling):\n${top(self, 30)}`);
  console.log(`total time (the function and what it calls):\n${top(inclusive, 40)}`);
}

/**
 * CPU time (ms) per process type and thread name of the Chromium started with `profileDir`, from
 * Linux's /proc/<pid>/task/<tid>/schedstat (nanoseconds, unlike the 10 ms ticks of /proc stat).
 */
function chromiumThreadTimes(profileDir) {
  const times = new Map();
  const read = (path) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined; // the process or thread ended meanwhile
    }
  };
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    const command = read(`/proc/${pid}/cmdline`);
    if (!command?.includes(profileDir)) continue;
    const service = command.match(/--utility-sub-type=[a-z]+\.mojom\.([A-Za-z]+)/)?.[1];
    const type = service ?? command.match(/--type=([a-z-]+)/)?.[1] ?? 'browser';
    let threads = [];
    try {
      threads = readdirSync(`/proc/${pid}/task`);
    } catch {}
    for (const tid of threads) {
      const ns = Number(read(`/proc/${pid}/task/${tid}/schedstat`)?.split(' ')[0] ?? 0);
      const name = `${type} / ${(read(`/proc/${pid}/task/${tid}/comm`) ?? '?')
        .trim()
        .replace(/\d+$/, '')
        .replace(/^chromium$/, 'main thread')}`;
      times.set(name, (times.get(name) ?? 0) + ns / 1e6);
    }
  }
  return times;
}

/**
 * Runs pulls (after a warm-up) and prints the CPU time every Chromium thread spent during the
 * pull alone, averaged over `--rounds=N` pulls (default 10): where the work of a pull goes,
 * including what the browser process does for IndexedDB, which the page's profiler cannot see.
 */
async function threadTimes(page, run, profileDir) {
  const secret = !process.argv.includes('--plain');
  const rounds = Number(process.argv.find((arg) => arg.startsWith('--rounds='))?.slice(9) ?? 10);
  await run('pull', { rounds: 1, total: TOTAL, secret });
  const sums = new Map();
  let before;
  await page.exposeFunction('profilerControl', (what) => {
    if (what === 'start') {
      before = chromiumThreadTimes(profileDir);
      return;
    }
    for (const [name, ms] of chromiumThreadTimes(profileDir)) {
      sums.set(name, (sums.get(name) ?? 0) + ms - (before.get(name) ?? 0));
    }
  });
  const times = [];
  const loop = process.argv.includes('--loop');
  for (let round = 0; round < rounds; round++)
    times.push(await run(loop ? 'profiledLoop' : 'profiledPull', { total: TOTAL, secret }));
  const total = [...sums.values()].reduce((sum, ms) => sum + ms, 0);
  console.log(
    `${loop ? 'fetch loop' : `pull (${secret ? 'encrypted' : 'no secret'})`}: ${times.map((ms) => ms.toFixed(0)).join(', ')} ms; Chromium CPU per pull ${(total / rounds).toFixed(1)} ms, by thread:`,
  );
  for (const [name, ms] of [...sums].sort((a, b) => b[1] - a[1])) {
    if (ms / rounds >= 0.5) console.log(`${(ms / rounds).toFixed(1).padStart(7)} ms  ${name}`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
