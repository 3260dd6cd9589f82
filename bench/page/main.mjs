// The benchmark page: bundled by bench/run.mjs with esbuild, served from the reference server
// (so flushes are same-origin) and driven step by step through `globalThis.fluxyBench`.
import {
  BODY_BYTES,
  benchCrypto,
  benchEnqueue,
  benchFlush,
  enqueueSequential,
  idbDelete,
  idbOpen,
  idbPut,
  idbTransaction,
  log,
  median,
  noteBody,
  now,
  openFluxy,
  opsPerSecond,
  prefill,
  RAW_VALUE,
  rawPutsSequential,
  rotate,
  SECRET,
  summarizeAgainst,
  uniqueName,
} from '../suite.mjs';

const URL_PATH = '/api/notes';
const idb = globalThis.indexedDB;
/** State kept between steps: the database holding 10,000 pending operations. */
const state = { deepDb: undefined, deepCount: 0, created: new Set() };

const secretOptions = { secret: SECRET, engine: 'webcrypto' };

async function open(name, options = secretOptions) {
  state.created.add(name);
  return openFluxy({ name, ...options });
}

async function dropDb(name) {
  state.created.delete(name);
  await idbDelete(idb, name);
}

/** 1. Sequential awaited queue() against one put per transaction. */
async function enqueue({ rounds, ops }) {
  return benchEnqueue({
    factory: idb,
    rounds,
    ops,
    url: URL_PATH,
    variants: [
      { label: 'webcrypto', options: { secret: SECRET, engine: 'webcrypto' } },
      { label: 'crypto-js', options: { secret: SECRET, engine: 'crypto-js' } },
      { label: 'no-secret', options: {} },
    ],
  });
}

/**
 * 2. Time per queue() at several depths. One app per depth, pre-filled through queue(); each
 * round times `batch` sequential enqueues per depth (rotating order), then discards them again
 * so the depth stays put. The deepest database is kept for the cold-start and memory steps.
 */
async function depth({ depths, batch, rounds }) {
  const apps = new Map();
  try {
    for (const d of depths) {
      const name = uniqueName(`depth${d}`);
      const fluxy = await open(name);
      apps.set(d, { name, fluxy });
      if (d > 0) {
        log(`  pre-filling depth ${d} through queue()…`);
        await prefill(fluxy.sync, URL_PATH, d, { label: `depth ${d}` });
      }
      const warmup = [];
      for (let i = 0; i < 20; i++)
        warmup.push((await fluxy.sync.queue('POST', URL_PATH, { body: noteBody(i) })).id);
      for (const id of warmup) await fluxy.sync.discard(id);
      if (fluxy.sync.pendingCount.value !== d) throw new Error(`depth ${d}: pendingCount wrong`);
    }
    const perOp = Object.fromEntries(depths.map((d) => [d, []]));
    for (let round = 0; round < rounds; round++) {
      for (const d of rotate(depths, round)) {
        const { fluxy } = apps.get(d);
        const ids = [];
        const t0 = now();
        for (let i = 0; i < batch; i++) {
          ids.push((await fluxy.sync.queue('POST', URL_PATH, { body: noteBody(i) })).id);
        }
        perOp[d].push((now() - t0) / batch);
        for (const id of ids) await fluxy.sync.discard(id);
      }
      log(
        `  depth round ${round + 1}/${rounds}: ${depths.map((d) => `${d}: ${perOp[d].at(-1).toFixed(3)} ms/op`).join(', ')}`,
      );
    }
    const deepest = Math.max(...depths);
    state.deepDb = apps.get(deepest).name;
    state.deepCount = deepest;
    const result = {};
    for (const d of depths) {
      const ratios = perOp[d].map((ms, i) => ms / perOp[depths[0]][i]);
      result[d] = { msPerOp: median(perOp[d]), runs: perOp[d], ratioToDepth0: median(ratios) };
    }
    return result;
  } finally {
    for (const [d, { name, fluxy }] of apps) {
      await fluxy.close();
      if (name !== state.deepDb || d !== state.deepCount) await dropDb(name);
    }
  }
}

/** 3. 1,000 concurrent queue() calls, against 1,000 concurrent put transactions and one transaction. */
async function burst({ rounds, count }) {
  const results = { 'raw-concurrent': [], 'raw-one-transaction': [], fluxy: [] };
  for (let round = 0; round < rounds; round++) {
    for (const label of rotate(Object.keys(results), round)) {
      const name = uniqueName(`burst-${label}`);
      if (label === 'fluxy') {
        const fluxy = await open(name);
        await enqueueSequential(fluxy.sync, URL_PATH, 20);
        const t0 = now();
        await Promise.all(
          Array.from({ length: count }, (_, i) => fluxy.sync.queue('POST', URL_PATH, { body: noteBody(i) })),
        );
        results.fluxy.push(opsPerSecond(count, now() - t0));
        if (fluxy.sync.pendingCount.value !== count + 20) throw new Error('burst: pendingCount wrong');
        await fluxy.close();
      } else {
        state.created.add(name);
        const db = await idbOpen(idb, name);
        await rawPutsSequential(db, 20, 'w');
        const t0 = now();
        if (label === 'raw-concurrent') {
          await Promise.all(
            Array.from({ length: count }, (_, i) =>
              idbTransaction(db, 'readwrite', (s) => s.put(RAW_VALUE, `k${i}`)),
            ),
          );
        } else {
          await idbTransaction(db, 'readwrite', (s) => {
            let last;
            for (let i = 0; i < count; i++) last = s.put(RAW_VALUE, `k${i}`);
            return last;
          });
        }
        results[label].push(opsPerSecond(count, now() - t0));
        db.close();
      }
      await dropDb(name);
    }
    log(
      `  burst round ${round + 1}/${rounds}: ${Object.entries(results)
        .map(([l, s]) => `${l} ${s.at(-1).toFixed(0)}/s`)
        .join(', ')}`,
    );
  }
  return summarizeAgainst(results, 'raw-concurrent');
}

/**
 * 4. Cold start over the database of step 2 (10,000 pending): a new app over it until
 * pendingCount is right, against opening it raw and count() (and getAllKeys() for reference).
 */
async function coldStart({ rounds }) {
  if (!state.deepDb)
    throw new Error('needs the 10,000-op database of the depth step, which did not complete');
  const name = state.deepDb;
  const results = { 'raw-count': [], 'raw-getAllKeys': [], fluxy: [] };
  for (let round = 0; round < rounds; round++) {
    for (const label of rotate(Object.keys(results), round)) {
      const t0 = now();
      if (label === 'fluxy') {
        const fluxy = await openFluxy({ name, ...secretOptions });
        const pending = fluxy.sync.pendingCount.value;
        results.fluxy.push(now() - t0);
        await fluxy.close();
        if (pending !== state.deepCount)
          throw new Error(`cold start: pendingCount ${pending}, expected ${state.deepCount}`);
      } else {
        const db = await idbOpen(idb, name, 'records');
        const read = label === 'raw-count' ? (s) => s.count() : (s) => s.getAllKeys();
        const result = await idbTransaction(db, 'readonly', read, 'records');
        results[label].push(now() - t0);
        db.close();
        const n = typeof result === 'number' ? result : result.length;
        if (n < state.deepCount) throw new Error(`raw ${label} saw ${n} records`);
      }
    }
  }
  // Ratios of times: lower is better, so the ratio is fluxy / raw-count.
  const summary = {};
  for (const [label, series] of Object.entries(results)) {
    summary[label] = {
      medianMs: median(series),
      runs: series,
      ratio: median(series.map((ms, i) => ms / results['raw-count'][i])),
    };
  }
  log(
    `  cold start: fluxy ${summary.fluxy.medianMs.toFixed(1)} ms, raw count() ${summary['raw-count'].medianMs.toFixed(1)} ms, raw getAllKeys() ${summary['raw-getAllKeys'].medianMs.toFixed(1)} ms`,
  );
  return { ops: state.deepCount, ...summary };
}

async function settleHeap() {
  for (let i = 0; i < 4; i++) {
    globalThis.gc?.();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return performance.memory?.usedJSHeapSize ?? Number.NaN;
}

/**
 * 7. JS heap of an app holding 10,000 pending ops (the database of step 2) against an empty
 * app, and against the same ops held as an in-memory array (what a naive queue keeps).
 */
async function memory() {
  if (!state.deepDb)
    throw new Error('needs the 10,000-op database of the depth step, which did not complete');
  if (typeof globalThis.gc !== 'function') throw new Error('gc() is not exposed (--js-flags=--expose-gc)');
  const base = await settleHeap();
  const emptyName = uniqueName('memory-empty');
  const empty = await open(emptyName);
  const withEmpty = await settleHeap();
  const deep = await openFluxy({ name: state.deepDb, ...secretOptions });
  if (deep.sync.pendingCount.value !== state.deepCount) throw new Error('memory: pendingCount wrong');
  const withDeep = await settleHeap();
  let array = Array.from({ length: state.deepCount }, (_, i) => ({
    id: `${i}`.padStart(35, '0'),
    method: 'POST',
    url: URL_PATH,
    body: JSON.stringify(noteBody(i)),
    createdAt: Date.now(),
  }));
  const withArray = await settleHeap();
  const kept = array.length;
  array = undefined;
  await deep.close();
  await empty.close();
  await dropDb(emptyName);
  const result = {
    ops: state.deepCount,
    bodyBytesTotal: state.deepCount * BODY_BYTES,
    emptyAppBytes: withEmpty - base,
    pendingOpsBytes: withDeep - withEmpty,
    inMemoryArrayBytes: withArray - withDeep,
    arrayLength: kept,
  };
  log(
    `  memory: empty app ${(result.emptyAppBytes / 1024).toFixed(0)} KB, +10k pending ${(result.pendingOpsBytes / 1024).toFixed(0)} KB, naive array ${(result.inMemoryArrayBytes / 1024).toFixed(0)} KB`,
  );
  return result;
}

/**
 * 5. Draining 1,000 ops to the server serving the page (same origin) against a plain fetch loop;
 * with `batch`, in batches sent to `batch.path` on that server. With --profile, the drains alone.
 */
async function flush({ rounds, ops, loopOps, batch, profiling = false }) {
  const options = batch
    ? { ...secretOptions, batch: { url: `${location.origin}${batch.path}`, max: batch.max } }
    : secretOptions;
  return benchFlush({
    rounds,
    ops,
    loopOps,
    profiling,
    origin: location.origin,
    resetServer: async () => {
      const response = await fetch('/api/_reset', { method: 'POST' });
      if (!response.ok) throw new Error(`reset: ${response.status}`);
    },
    openApp: () => open(uniqueName('flush'), options),
    closeApp: async (fluxy) => {
      await fluxy.close();
      await dropDb(fluxy.storage.databaseName);
    },
  });
}

/**
 * Stamps, with performance.now(), what a timeline looks at: fetch and its response, IndexedDB
 * transactions and their completion, a response body's last read, WebCrypto calls. Wraps the
 * platform's functions (nothing in the library changes); returns the marks and an undo.
 */
function traceCalls() {
  const marks = [];
  const mark = (label) => marks.push([label, performance.now()]);
  const restore = [];
  const wrap = (target, name, around) => {
    const original = target[name];
    target[name] = around(original);
    restore.push(() => {
      target[name] = original;
    });
  };
  wrap(
    globalThis,
    'fetch',
    (original) =>
      async function (...args) {
        mark('fetch');
        const response = await original.apply(this, args);
        mark('response');
        return response;
      },
  );
  wrap(
    IDBDatabase.prototype,
    'transaction',
    (original) =>
      function (...args) {
        const mode = args[1] ?? 'readonly';
        mark(`${mode} tx`);
        const transaction = original.apply(this, args);
        transaction.addEventListener('complete', () => mark(`${mode} done`));
        return transaction;
      },
  );
  wrap(
    ReadableStreamDefaultReader.prototype,
    'read',
    (original) =>
      async function (...args) {
        const result = await original.apply(this, args);
        if (result.done) mark('body read');
        return result;
      },
  );
  for (const name of ['decrypt', 'encrypt', 'sign'])
    wrap(
      crypto.subtle,
      name,
      (original) =>
        async function (...args) {
          mark(name);
          const result = await original.apply(this, args);
          mark(`${name} done`);
          return result;
        },
    );
  const undo = () => {
    for (const step of restore.reverse()) step();
  };
  return { marks, mark, undo };
}

/** Adds the time between each pair of consecutive marks from `from` to `to` into `steps`. */
function addSteps(steps, marks, from, to) {
  for (let j = from + 1; j <= to; j++) {
    const key = `${marks[j - 1][0]} → ${marks[j][0]}`;
    steps.set(key, (steps.get(key) ?? 0) + marks[j][1] - marks[j - 1][1]);
  }
}

const formatSteps = (steps, count) =>
  [...steps]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .map(([key, ms]) => `${(ms / count).toFixed(3).padStart(7)} ms  ${key}`)
    .join('\n');

/**
 * A per-operation timeline of a flush (`node bench/run.mjs --only=flushTimeline`), against the
 * constant-cost server. fetch, IndexedDB transactions, the body's last read and WebCrypto calls
 * are wrapped (nothing in the library changes) and stamped with performance.now(). The drain runs
 * in blocks of `block` ops (paused between), each followed by as many requests of a plain fetch
 * loop, so a machine that slows down hits both alike. Prints the median and mean time from one
 * request to the next on each side, and, for Fluxy, the mean time per op of every step between a
 * response and the next request. With --profile nothing is wrapped, the blocks of the drain
 * alone are profiled (with no block of the fetch loop), and no timeline is printed.
 */
async function flushTimeline({ ops, block = 50, profiling = false }) {
  const { marks, undo } = profiling ? { marks: [], undo() {} } : traceCalls();
  // Wrapped first: the app binds fetch when it starts.
  const app = await open(uniqueName('timeline'));
  const fluxyGaps = [];
  const loopGaps = [];
  const steps = new Map();
  let cycles = 0;
  /** The gaps between consecutive requests of `from` on; for Fluxy, the steps in between too. */
  const collect = (from, gaps, split) => {
    let previous;
    for (let i = from; i < marks.length; i++) {
      if (marks[i][0] !== 'fetch') continue;
      if (previous !== undefined) {
        gaps.push(marks[i][1] - marks[previous][1]);
        if (split) {
          cycles++;
          addSteps(
            steps,
            marks,
            marks.findIndex(([label], j) => j > previous && label === 'response'),
            i,
          );
        }
      }
      previous = i;
    }
  };
  try {
    await prefill(app.sync, `${location.origin}${URL_PATH}`, ops, { label: 'timeline prefill' });
    await fetch('/api/_reset', { method: 'POST' });
    let target = 0;
    let sent = 0;
    const off = app.sync.on('sent', () => {
      if (++sent >= target) app.sync.pause();
    });
    app.sync.pause();
    app.connectivity.setOnline(true);
    for (let done = 0; done < ops; done += block) {
      target = Math.min(ops, done + block);
      let start = marks.length;
      if (profiling) console.profile('drain');
      app.sync.resume();
      while (app.sync.pendingCount.value > ops - target) await app.sync.flush();
      if (profiling) console.profileEnd('drain');
      collect(start, fluxyGaps, true);
      if (profiling) continue;
      start = marks.length;
      for (let i = done; i < target; i++) {
        const response = await fetch(`${location.origin}${URL_PATH}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'Idempotency-Key': `loop-${i}-${Date.now()}` },
          body: JSON.stringify(noteBody(i)),
        });
        await response.text();
      }
      collect(start, loopGaps, false);
    }
    off();
    if (app.sync.pendingCount.value !== 0) throw new Error('timeline: ops left');
    if (profiling) return {};
    const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;
    const result = {
      fluxy: { medianMs: median(fluxyGaps), meanMs: mean(fluxyGaps) },
      fetch: { medianMs: median(loopGaps), meanMs: mean(loopGaps) },
    };
    result.ratioOfMedians = result.fetch.medianMs / result.fluxy.medianMs;
    result.ratioOfMeans = result.fetch.meanMs / result.fluxy.meanMs;
    log(
      `  timeline: request to request, median ${result.fluxy.medianMs.toFixed(3)} ms (fetch loop ${result.fetch.medianMs.toFixed(3)}: ${result.ratioOfMedians.toFixed(3)}×), mean ${result.fluxy.meanMs.toFixed(3)} ms (${result.fetch.meanMs.toFixed(3)}: ${result.ratioOfMeans.toFixed(3)}×); Fluxy from a response to the next request, per op:\n${formatSteps(steps, cycles)}`,
    );
    result.steps = Object.fromEntries([...steps].map(([key, ms]) => [key, ms / cycles]));
    return result;
  } finally {
    undo();
    await app.close();
    await dropDb(app.storage.databaseName);
  }
}

/**
 * Where one sequential `queue()` spends its time (`node bench/run.mjs --only=enqueueTimeline`),
 * one variant (`webcrypto` or `no-secret`) against a raw put per transaction, alternating op by
 * op. With --profile nothing is wrapped, so the CPU profile shows that variant alone.
 */
async function enqueueTimeline({ ops, variant = 'webcrypto', profiling = false }) {
  const app = await open(uniqueName(`timeline-${variant}`), variant === 'no-secret' ? {} : secretOptions);
  const rawName = uniqueName('timeline-raw');
  state.created.add(rawName);
  const db = await idbOpen(idb, rawName);
  await enqueueSequential(app.sync, URL_PATH, 20);
  await rawPutsSequential(db, 20, 'w');
  const trace = profiling ? undefined : traceCalls();
  const steps = new Map();
  let fluxyMs = 0;
  let rawMs = 0;
  try {
    for (let i = 0; i < ops; i++) {
      const start = trace?.marks.length;
      trace?.mark('queue()');
      const t0 = now();
      await app.sync.queue('POST', URL_PATH, { body: noteBody(i) });
      fluxyMs += now() - t0;
      if (trace) {
        trace.mark('resolved');
        addSteps(steps, trace.marks, start, trace.marks.length - 1);
      }
      const t1 = now();
      await idbPut(db, `k${i}`, RAW_VALUE);
      rawMs += now() - t1;
    }
  } finally {
    trace?.undo();
    db.close();
    await app.close();
    await dropDb(rawName);
    await dropDb(app.storage.databaseName);
  }
  const result = { variant, msPerOp: fluxyMs / ops, rawMsPerOp: rawMs / ops, ratio: rawMs / fluxyMs };
  log(
    `  ${variant}: queue() ${result.msPerOp.toFixed(3)} ms, raw put ${result.rawMsPerOp.toFixed(3)} ms (${result.ratio.toFixed(3)}×)${trace ? `; per op:\n${formatSteps(steps, ops)}` : ''}`,
  );
  return { ...result, steps: Object.fromEntries([...steps].map(([key, ms]) => [key, ms / ops])) };
}

/** 6. Encryption per engine. */
async function cryptoStep({ webcrypto, cryptojs }) {
  return {
    webcrypto: await benchCrypto({ engine: 'webcrypto', ...webcrypto }),
    'crypto-js': await benchCrypto({ engine: 'crypto-js', ...cryptojs }),
  };
}

/**
 * 9. The naive queue of most tutorials: the whole queue as one array in one IndexedDB record,
 * read, appended to and rewritten on every enqueue (in one transaction, its most favourable form).
 */
async function naive({ depths, rounds, perDepth }) {
  const name = uniqueName('naive');
  state.created.add(name);
  const db = await idbOpen(idb, name);
  const op = (i) => ({
    id: `${i}`.padStart(35, '0'),
    method: 'POST',
    url: URL_PATH,
    body: JSON.stringify(noteBody(i)),
    createdAt: Date.now(),
  });
  const append = (value) =>
    idbTransaction(db, 'readwrite', (s) => {
      const request = s.get('queue');
      request.onsuccess = () => {
        const queue = request.result ?? [];
        queue.push(value);
        s.put(queue, 'queue');
      };
      return request;
    });
  const perOp = Object.fromEntries(depths.map((d) => [d, []]));
  try {
    for (let round = 0; round < rounds; round++) {
      for (const d of rotate(depths, round)) {
        const count = perDepth[d] ?? 10;
        await idbTransaction(db, 'readwrite', (s) =>
          s.put(
            Array.from({ length: d }, (_, i) => op(i)),
            'queue',
          ),
        );
        await append(op(d)); // warm-up
        const t0 = now();
        for (let i = 0; i < count; i++) await append(op(d + i + 1));
        perOp[d].push((now() - t0) / count);
      }
      log(
        `  naive round ${round + 1}/${rounds}: ${depths.map((d) => `${d}: ${perOp[d].at(-1).toFixed(2)} ms/op`).join(', ')}`,
      );
    }
  } finally {
    db.close();
    await dropDb(name);
  }
  return Object.fromEntries(depths.map((d) => [d, { msPerOp: median(perOp[d]), runs: perOp[d] }]));
}

/** Deletes every database this page created (the run's last step). */
async function cleanup() {
  const names = [...state.created];
  for (const name of names) await dropDb(name);
  return { deleted: names.length };
}

globalThis.fluxyBench = {
  ready: true,
  bodyBytes: BODY_BYTES,
  enqueue,
  depth,
  burst,
  coldStart,
  memory,
  flush,
  flushTimeline,
  enqueueTimeline,
  crypto: cryptoStep,
  naive,
  cleanup,
};
