// Benchmark code shared by the browser page (bench/page/main.mjs) and the Node side
// (bench/node/main.mjs). Bundled by esbuild from the TypeScript sources, never run directly.
// Every figure is a ratio against a baseline measured in the same process, round by round.
import { consoleLogger, createApp } from '../src/index.ts';
import { ConnectivityPlugin } from '../src/plugins/connectivity/index.ts';
import { loadCipher } from '../src/plugins/storage/cipher.ts';
import { StoragePlugin } from '../src/plugins/storage/index.ts';
import { deriveKeysFromSecret } from '../src/plugins/storage/record-keys.ts';
import { SealedCodec } from '../src/plugins/storage/sealed-codec.ts';
import { SyncPlugin } from '../src/plugins/sync/index.ts';

export const now = () => performance.now();
export const log = (...parts) => console.log('[bench]', ...parts);
export const SECRET = 'correct horse battery staple';
/** PBKDF2 iterations for bench databases: the library's floor, so set-up stays cheap (step 6 measures 600k). */
export const SETUP_ITERATIONS = 10_000;

const FILLER = 'lorem ipsum dolor sit amet, consectetur adipiscing elit; '.repeat(20).slice(0, 960);
/** A note as POST /api/notes takes it: about 1 KB of JSON. */
export const noteBody = (i) => ({ title: `Note ${i}`, body: FILLER });
export const BODY_BYTES = JSON.stringify(noteBody(0)).length;
/** The 1 KB value raw IndexedDB writes in the baselines. */
export const RAW_VALUE = JSON.stringify(noteBody(0));

export function median(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export const opsPerSecond = (count, ms) => (count * 1000) / ms;

/** Rotates `items` by `round`, so no variant always runs first (warm caches, GC debt). */
export const rotate = (items, round) => items.map((_, i) => items[(i + round) % items.length]);

let unique = 0;
export const uniqueName = (label) => `bench-${label}-${Date.now().toString(36)}-${unique++}`;

/**
 * A Fluxy app with Storage + Connectivity + Sync, ready. Offline by default, so a queue()
 * never starts a flush during an enqueue benchmark.
 */
export async function openFluxy({
  name,
  secret,
  engine,
  driver,
  dir,
  indexedDB,
  baseUrl,
  online = false,
  iterations = SETUP_ITERATIONS,
  batch,
}) {
  const app = createApp({ logger: consoleLogger('error') });
  const storageOptions = { name };
  if (secret !== undefined) Object.assign(storageOptions, { secret, iterations });
  if (engine !== undefined) storageOptions.engine = engine;
  if (driver !== undefined) storageOptions.driver = driver;
  if (dir !== undefined) storageOptions.dir = dir;
  if (indexedDB !== undefined) storageOptions.indexedDB = indexedDB;
  const storage = app.register(new StoragePlugin(storageOptions));
  const connectivity = app.register(new ConnectivityPlugin());
  connectivity.setOnline(online);
  const sync = app.register(
    new SyncPlugin({
      ...(baseUrl === undefined ? {} : { baseUrl }),
      ...(batch === undefined ? {} : { batch }),
    }),
  );
  await app.ready();
  return { app, storage, connectivity, sync, close: () => app.dispose() };
}

/** Sequential, awaited queue() calls; returns the elapsed ms. */
export async function enqueueSequential(sync, url, count, start = 0) {
  const t0 = now();
  for (let i = 0; i < count; i++) await sync.queue('POST', url, { body: noteBody(start + i) });
  return now() - t0;
}

/** Fills the queue through queue() itself, `concurrency` calls at a time, logging progress. */
export async function prefill(sync, url, count, { concurrency = 250, label = 'prefill' } = {}) {
  const t0 = now();
  let nextLog = 2000;
  for (let done = 0; done < count; ) {
    const size = Math.min(concurrency, count - done);
    const calls = [];
    for (let i = 0; i < size; i++) calls.push(sync.queue('POST', url, { body: noteBody(done + i) }));
    await Promise.all(calls);
    done += size;
    if (done >= nextLog || done === count) {
      if (count >= 2000) log(`  ${label}: ${done}/${count} (${((now() - t0) / 1000).toFixed(1)} s)`);
      nextLog += 2000;
    }
  }
}

// ——— raw IndexedDB (the baselines) ———

export function idbOpen(factory, name, store = 'kv') {
  return new Promise((resolve, reject) => {
    const request = factory.open(name);
    request.onupgradeneeded = () => {
      if (!request.result.objectStoreNames.contains(store)) request.result.createObjectStore(store);
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new Error(`open ${name} blocked`));
  });
}

/** Runs `work(store)` in one transaction; resolves with the last request's result on `complete`. */
export function idbTransaction(db, mode, work, store = 'kv') {
  return new Promise((resolve, reject) => {
    const transaction = db.transaction(store, mode);
    const request = work(transaction.objectStore(store));
    transaction.oncomplete = () => resolve(request?.result);
    transaction.onabort = () => reject(transaction.error ?? new Error('transaction aborted'));
    transaction.onerror = () => {};
  });
}

export const idbPut = (db, key, value) => idbTransaction(db, 'readwrite', (s) => s.put(value, key));

export function idbDelete(factory, name) {
  return new Promise((resolve) => {
    const request = factory.deleteDatabase(name);
    request.onsuccess = () => resolve(true);
    request.onerror = () => resolve(false);
    request.onblocked = () => resolve(false);
  });
}

/** Sequential one-put-per-transaction writes of the 1 KB value; returns the elapsed ms. */
export async function rawPutsSequential(db, count, prefix = 'k') {
  const t0 = now();
  for (let i = 0; i < count; i++) await idbPut(db, `${prefix}${i}`, RAW_VALUE);
  return now() - t0;
}

// ——— 1. enqueue: Fluxy variants against raw IndexedDB ———

/**
 * Rounds of: raw IndexedDB put-per-transaction and each Fluxy variant, each on a fresh database
 * warmed up with `warmup` untimed writes, all open at once; the `ops` writes of each are timed in
 * interleaved blocks of `block` (order rotating), so a drift of the machine's speed during a
 * round hits every variant alike. Returns ops/s per variant and round, and the ratios to raw.
 */
export async function benchEnqueue({
  factory,
  variants,
  rounds,
  ops,
  block = 50,
  warmup = 20,
  url,
  freshFactory,
}) {
  const labels = ['raw', ...variants.map((v) => v.label)];
  const results = Object.fromEntries(labels.map((label) => [label, []]));
  for (let round = 0; round < rounds; round++) {
    const subjects = new Map();
    for (const label of labels) {
      const idb = freshFactory ? freshFactory() : factory;
      const name = uniqueName(label);
      if (label === 'raw') {
        const db = await idbOpen(idb, name);
        await rawPutsSequential(db, warmup, 'w');
        subjects.set(label, {
          write: (start, count) => rawPutsSequential(db, count, `k${start}-`),
          close: async () => {
            db.close();
            await idbDelete(idb, name);
          },
        });
      } else {
        const variant = variants.find((v) => v.label === label);
        const fluxy = await openFluxy({ name, indexedDB: idb, ...variant.options });
        await enqueueSequential(fluxy.sync, url, warmup);
        subjects.set(label, {
          write: (start, count) => enqueueSequential(fluxy.sync, url, count, start),
          close: async () => {
            if (fluxy.sync.pendingCount.value !== ops + warmup)
              throw new Error(`${label}: pendingCount wrong`);
            await fluxy.close();
            if (variant.cleanup) await variant.cleanup(name);
            else await idbDelete(idb, name);
          },
        });
      }
    }
    await writeRound({ labels, subjects, ops, block, round, rounds, results, name: 'enqueue' });
  }
  return summarizeAgainst(results, 'raw');
}

/**
 * One round of interleaved writes: `ops` writes in blocks of `block`, the subjects taking turns
 * in an order that rotates with the round; each subject's ops/s is appended to `results`.
 */
export async function writeRound({ labels, subjects, ops, block, round, rounds, results, name }) {
  const elapsed = Object.fromEntries(labels.map((label) => [label, 0]));
  for (let done = 0, b = 0; done < ops; done += block, b++) {
    const count = Math.min(block, ops - done);
    for (const label of rotate(labels, round + b))
      elapsed[label] += await subjects.get(label).write(done, count);
  }
  for (const label of labels) {
    await subjects.get(label).close();
    results[label].push(opsPerSecond(ops, elapsed[label]));
  }
  log(
    `  ${name} round ${round + 1}/${rounds}: ${labels.map((l) => `${l} ${results[l].at(-1).toFixed(0)}/s`).join(', ')}`,
  );
}

/** Medians of each series and, for each, the median of its per-round ratio to `baseline`. */
export function summarizeAgainst(results, baseline) {
  const summary = {};
  for (const [label, series] of Object.entries(results)) {
    const ratios = series.map((value, i) => value / results[baseline][i]);
    summary[label] = { median: median(series), runs: series, ratio: label === baseline ? 1 : median(ratios) };
  }
  return summary;
}

// ——— 5. flush: Fluxy draining to the reference server against a plain fetch loop ———

/** A plain sequential fetch loop: same method, URL, headers (incl. a fresh Idempotency-Key), body. */
export async function fetchLoop(url, count, makeKey) {
  const t0 = now();
  for (let i = 0; i < count; i++) {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': makeKey(i) },
      body: JSON.stringify(noteBody(i)),
    });
    await response.text();
    if (!response.ok) throw new Error(`fetch loop: ${response.status}`);
  }
  return now() - t0;
}

/** Drains an already filled, offline app: goes online and waits until nothing is pending. */
export async function drain(fluxy, expected) {
  const t0 = now();
  fluxy.connectivity.setOnline(true);
  let sent = 0;
  for (let guard = 0; fluxy.sync.pendingCount.value > 0 && guard < 100; guard++) {
    sent += (await fluxy.sync.flush()).sent;
  }
  const ms = now() - t0;
  if (fluxy.sync.pendingCount.value !== 0 || fluxy.sync.failedCount.value !== 0) {
    throw new Error(
      `flush left ${fluxy.sync.pendingCount.value} pending, ${fluxy.sync.failedCount.value} failed (sent ${sent}/${expected})`,
    );
  }
  return ms;
}

/**
 * Rounds of: a plain fetch loop, and a Fluxy app filled offline then drained. With `profiling`, each
 * drain alone is marked for the CPU profiler (console.profile: see bench/node/main.mjs). The loop
 * sends `loopOps` requests (default `ops`): fewer where each costs the same and takes long.
 */
export async function benchFlush({
  rounds,
  ops,
  loopOps = ops,
  origin,
  resetServer,
  openApp,
  closeApp,
  profiling = false,
}) {
  const results = { fetch: [], fluxy: [] };
  const key = () => {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  };
  for (let round = 0; round < rounds; round++) {
    for (const label of rotate(['fetch', 'fluxy'], round)) {
      if (label === 'fetch') {
        await resetServer();
        const ms = await fetchLoop(`${origin}/api/notes`, loopOps, key);
        results.fetch.push(opsPerSecond(loopOps, ms));
      } else {
        const fluxy = await openApp();
        await prefill(fluxy.sync, `${origin}/api/notes`, ops, { label: 'flush prefill' });
        await resetServer();
        if (profiling) console.profile('drain');
        const ms = await drain(fluxy, ops);
        if (profiling) console.profileEnd('drain');
        await closeApp(fluxy);
        results.fluxy.push(opsPerSecond(ops, ms));
      }
    }
    log(
      `  flush round ${round + 1}/${rounds}: fetch loop ${results.fetch.at(-1).toFixed(0)}/s, fluxy ${results.fluxy.at(-1).toFixed(0)}/s`,
    );
  }
  return summarizeAgainst(results, 'fetch');
}

// ——— 6. encryption: the record codec per engine ———

export async function benchCrypto({ engine, iterations = 600_000, deriveRounds, ops, rounds }) {
  const cipher = await loadCipher(engine);
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const derive = [];
  let keys;
  for (let i = 0; i < deriveRounds; i++) {
    const t0 = now();
    keys = await deriveKeysFromSecret(cipher, SECRET, salt, iterations);
    derive.push(now() - t0);
  }
  const codec = new SealedCodec(cipher, keys);
  const json = RAW_VALUE;
  const roundTrip = async (count) => {
    const t0 = now();
    for (let i = 0; i < count; i++) {
      const key = `sync/p/${i}`;
      const value = await codec.decode(key, await codec.encode(key, json));
      if (value.title !== 'Note 0') throw new Error('round trip changed the value');
    }
    return now() - t0;
  };
  await roundTrip(Math.max(10, ops >> 4));
  const perSecond = [];
  for (let i = 0; i < rounds; i++) perSecond.push(opsPerSecond(ops, await roundTrip(ops)));
  log(
    `  ${engine}: PBKDF2 ${iterations} it ${median(derive).toFixed(0)} ms, 1 KB encrypt+decrypt ${median(perSecond).toFixed(0)}/s`,
  );
  return {
    engine,
    iterations,
    deriveMs: median(derive),
    deriveRuns: derive,
    roundTripsPerSecond: median(perSecond),
    runs: perSecond,
  };
}
