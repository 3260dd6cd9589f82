// The Node side of the benchmarks: bundled by bench/run.mjs with esbuild (packages external) and
// run in a child process, so the reference server (in the parent) does not share its event loop.
//   node <bundle> '<json config>'   → writes the results to config.outFile
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { IDBFactory } from 'fake-indexeddb';
import { summarizeProfiles } from '../profile-summary.mjs';
import {
  benchCrypto,
  benchEnqueue,
  benchFlush,
  enqueueSequential,
  log,
  now,
  openFluxy,
  RAW_VALUE,
  SECRET,
  summarizeAgainst,
  uniqueName,
  writeRound,
} from '../suite.mjs';

const config = JSON.parse(process.argv[2] ?? '{}');
const { serverUrl, echoUrl, slowEchoUrl, outFile, tmpDir, rounds = 3, profiling = false } = config;
const OFFLINE_URL = 'http://127.0.0.1:9/api/notes'; // never contacted: the app stays offline

/** The file driver's durable write, done by hand: temp file, fsync, rename, fsync the folder. */
async function rawDurableWrite(folder, key, value) {
  const file = join(folder, `k-${key}.rec`);
  const temp = `${file}.${Math.random().toString(16).slice(2)}.tmp`;
  const handle = await open(temp, 'wx');
  try {
    await handle.writeFile(value, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
  const dir = await open(folder, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Like benchEnqueue: all three open at once, timed in interleaved blocks, so disk hiccups hit all alike. */
async function enqueueFile({ ops, block = 25 }) {
  const labels = ['raw-fs', 'webcrypto', 'no-secret'];
  const results = Object.fromEntries(labels.map((l) => [l, []]));
  for (let round = 0; round < rounds; round++) {
    const subjects = new Map();
    for (const label of labels) {
      const dir = join(tmpDir, uniqueName(label));
      if (label === 'raw-fs') {
        await mkdir(dir, { recursive: true });
        for (let i = 0; i < 10; i++) await rawDurableWrite(dir, `w${i}`, RAW_VALUE);
        subjects.set(label, {
          write: async (start, count) => {
            const t0 = now();
            for (let i = start; i < start + count; i++) await rawDurableWrite(dir, `k${i}`, RAW_VALUE);
            return now() - t0;
          },
          close: () => rm(dir, { recursive: true, force: true }),
        });
      } else {
        const options = label === 'webcrypto' ? { secret: SECRET, engine: 'webcrypto' } : {};
        const fluxy = await openFluxy({ name: 'bench', driver: 'file', dir, ...options });
        await enqueueSequential(fluxy.sync, OFFLINE_URL, 10);
        subjects.set(label, {
          write: (start, count) => enqueueSequential(fluxy.sync, OFFLINE_URL, count, start),
          close: async () => {
            await fluxy.close();
            await rm(dir, { recursive: true, force: true });
          },
        });
      }
    }
    await writeRound({ labels, subjects, ops, block, round, rounds, results, name: 'file' });
  }
  return summarizeAgainst(results, 'raw-fs');
}

const resetOf = (origin) => async () => {
  const response = await fetch(`${origin}/api/_reset`, { method: 'POST' });
  await response.text();
  if (!response.ok) throw new Error(`reset: ${response.status}`);
};

const flushFakeIndexedDb = (origin, batch, flushRounds = rounds) =>
  benchFlush({
    rounds: flushRounds,
    ops: 1000,
    origin,
    resetServer: resetOf(origin),
    openApp: () =>
      openFluxy({ name: 'flush', indexedDB: new IDBFactory(), secret: SECRET, engine: 'webcrypto', batch }),
    closeApp: (fluxy) => fluxy.close(),
    profiling,
  });

const steps = {
  'node-enqueue-fake-indexeddb': () =>
    benchEnqueue({
      freshFactory: () => new IDBFactory(),
      rounds,
      ops: 300,
      url: OFFLINE_URL,
      variants: [
        { label: 'webcrypto', options: { secret: SECRET, engine: 'webcrypto' } },
        { label: 'no-secret', options: {} },
      ],
    }),
  'node-enqueue-file': () => enqueueFile({ ops: 300 }),
  'node-flush-reference': () => flushFakeIndexedDb(serverUrl),
  'node-flush-echo': () => flushFakeIndexedDb(echoUrl),
  // Batches of 100 (the server contract's POST of { ops }), against the same sequential fetch loop.
  'node-flush-batch-echo': () => flushFakeIndexedDb(echoUrl, { url: `${echoUrl}/api/batch`, max: 100 }),
  'node-flush-batch-echo-20ms': () =>
    flushFakeIndexedDb(slowEchoUrl, { url: `${slowEchoUrl}/api/batch`, max: 100 }, Math.min(rounds, 2)),
  'node-flush-file-echo': () =>
    benchFlush({
      rounds,
      ops: 1000,
      origin: echoUrl,
      resetServer: resetOf(echoUrl),
      openApp: async () => {
        const dir = join(tmpDir, uniqueName('flush-file'));
        const fluxy = await openFluxy({
          name: 'flush',
          driver: 'file',
          dir,
          secret: SECRET,
          engine: 'webcrypto',
        });
        return Object.assign(fluxy, { dir });
      },
      closeApp: async (fluxy) => {
        await fluxy.close();
        await rm(fluxy.dir, { recursive: true, force: true });
      },
      profiling,
    }),
  'node-crypto': async () => ({
    webcrypto: await benchCrypto({ engine: 'webcrypto', deriveRounds: 3, ops: 2000, rounds: 3 }),
    'crypto-js': await benchCrypto({ engine: 'crypto-js', deriveRounds: 1, ops: 400, rounds: 3 }),
  }),
};

/**
 * With --profile: the inspector's CPU profiler (every 100 µs) records what a step marks with
 * console.profile() (the flush steps: each drain); its summary is logged after the step.
 */
async function profiler() {
  const session = new Session();
  session.connect();
  const parts = [];
  session.on('Profiler.consoleProfileFinished', ({ params }) => parts.push(params.profile));
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  return {
    report() {
      if (parts.length === 0) return log('profile: the step marked nothing with console.profile()');
      log(`profile: the ${parts.length} part(s) the step marked with console.profile()`);
      for (const lines of summarizeProfiles(parts.splice(0))) log(lines);
    },
  };
}

const only = config.only ? new Set(config.only) : undefined;
const output = {};
const profile = profiling ? await profiler() : undefined;
for (const [name, run] of Object.entries(steps)) {
  if (only && !only.has(name)) continue;
  log(`node step ${name}…`);
  const t0 = now();
  try {
    output[name] = { ok: true, result: await run(), seconds: (now() - t0) / 1000 };
  } catch (error) {
    log(`  ${name} FAILED: ${error?.stack ?? error}`);
    output[name] = { ok: false, error: String(error?.stack ?? error), seconds: (now() - t0) / 1000 };
  }
  profile?.report();
  await writeFile(outFile, JSON.stringify(output));
}
process.exit(0);
