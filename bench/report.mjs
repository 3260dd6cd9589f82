// Renders bench/RESULTS.md from the results object of bench/run.mjs. Tolerates failed steps:
// their rows say so, and the error is listed at the end.
import { formatSizes } from '../scripts/size.mjs';

const n0 = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const n1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const n2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const ops = (x) => `${n0(x)} ops/s`;
const ms = (x) => (Number.isFinite(x) && x < 1 ? `${x.toFixed(3)} ms` : `${n1(x)} ms`);
const times = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : 'n/a');
const kib = (bytes) =>
  Number.isFinite(bytes)
    ? `${(bytes / 1024).toLocaleString('en-US', { maximumFractionDigits: 0 })} KB`
    : 'n/a';

/** 'met' / '**missed** (by …)' for a ratio target: `at least` or `at most`. */
function verdict(value, target, kind) {
  if (!Number.isFinite(value)) return 'n/a';
  const ok = kind === 'at least' ? value >= target : value <= target;
  if (ok) return 'met';
  const off = kind === 'at least' ? (1 - value / target) * 100 : (value / target - 1) * 100;
  return `**missed** (${off.toFixed(0)}% ${kind === 'at least' ? 'short' : 'over'})`;
}

export function renderResults(results) {
  const { steps, meta } = results;
  const ok = (id) => (steps[id]?.ok ? steps[id].result : undefined);
  const failedRow = (id, label) => {
    const step = steps[id];
    const why = step ? `failed: ${firstLine(step.error)}` : 'not run';
    return `| ${label} | ${why} | | | | |`;
  };
  const rows = [];
  const row = (label, fluxy, baseline, ratio, target, result) =>
    rows.push(`| ${label} | ${fluxy} | ${baseline} | ${ratio} | ${target} | ${result} |`);
  /** Rows of flushes (Fluxy against the same sequential fetch loop), with their goal. */
  const flushRows = (list, note = '') => {
    for (const [id, label, goal] of list) {
      const result = ok(id);
      if (result)
        row(
          label,
          ops(result.fluxy.median),
          `sequential fetch loop: ${ops(result.fetch.median)}`,
          times(result.fluxy.ratio),
          `≥ ${goal}×${note}`,
          verdict(result.fluxy.ratio, goal, 'at least'),
        );
      else rows.push(failedRow(id, label));
    }
  };

  // 1. enqueue
  const enqueue = ok('enqueue');
  if (enqueue) {
    const raw = `raw IndexedDB, 1 put/transaction: ${ops(enqueue.raw.median)}`;
    row(
      '1. enqueue, secret (WebCrypto)',
      ops(enqueue.webcrypto.median),
      raw,
      times(enqueue.webcrypto.ratio),
      '≥ 0.80×',
      verdict(enqueue.webcrypto.ratio, 0.8, 'at least'),
    );
    row(
      '1. enqueue, secret (crypto-js engine)',
      ops(enqueue['crypto-js'].median),
      raw,
      times(enqueue['crypto-js'].ratio),
      '—',
      'info',
    );
    row(
      '1. enqueue, no secret',
      ops(enqueue['no-secret'].median),
      raw,
      times(enqueue['no-secret'].ratio),
      '—',
      'info',
    );
  } else rows.push(failedRow('enqueue', '1. enqueue'));

  // 2. depth
  const depth = ok('depth');
  if (depth) {
    const depths = Object.keys(depth)
      .map(Number)
      .sort((a, b) => a - b);
    const [first] = depths;
    const deepest = depths.at(-1);
    for (const d of depths.slice(1)) {
      row(
        `2. enqueue at depth ${n0(d)}`,
        `${ms(depth[d].msPerOp)}/op`,
        `depth ${first}: ${ms(depth[first].msPerOp)}/op`,
        times(depth[d].ratioToDepth0),
        d === deepest ? '≤ 1.2×' : '—',
        d === deepest ? verdict(depth[d].ratioToDepth0, 1.2, 'at most') : 'info',
      );
    }
  } else rows.push(failedRow('depth', '2. enqueue against depth'));

  // 3. burst
  const burst = ok('burst');
  if (burst) {
    row(
      '3. burst: 1,000 concurrent queue()',
      ops(burst.fluxy.median),
      `1,000 concurrent put transactions: ${ops(burst['raw-concurrent'].median)}; all in one transaction: ${ops(burst['raw-one-transaction'].median)}`,
      `${times(burst.fluxy.ratio)} (${times(median(burst.fluxy.runs.map((v, i) => v / burst['raw-one-transaction'].runs[i])))} of one transaction)`,
      '—',
      'info: group commit (before it, commit 0ba66c1: 1,592 ops/s, 0.86× the concurrent baseline)',
    );
  } else rows.push(failedRow('burst', '3. burst enqueue'));

  // 4. cold start
  const cold = ok('coldStart');
  if (cold) {
    row(
      `4. cold start, ${n0(cold.ops)} stored ops → pendingCount`,
      ms(cold.fluxy.medianMs),
      `raw open + count(): ${ms(cold['raw-count'].medianMs)} (open + getAllKeys(): ${ms(cold['raw-getAllKeys'].medianMs)})`,
      times(cold.fluxy.ratio),
      '≤ 3×',
      verdict(cold.fluxy.ratio, 3, 'at most'),
    );
  } else rows.push(failedRow('coldStart', '4. cold start'));

  // 5. flush
  flushRows([
    ['flush', '5. flush 1,000 ops to the reference server', 0.85],
    ['flushEcho', '5. flush 1,000 ops to a constant-cost server', 0.85],
  ]);
  flushRows([
    ['flushBatchEcho', '5. flush 1,000 ops in batches of 100 to a constant-cost server', 5],
    ['flushBatchEcho20ms', '5. the same with 20 ms of server latency per request', 20],
  ]);

  // 6. crypto (Chromium)
  const crypto = ok('crypto');
  if (crypto) cryptoRows(row, crypto, 'Chromium');
  else rows.push(failedRow('crypto', '6. encryption (Chromium)'));

  // 7. memory
  const memory = ok('memory');
  if (memory) {
    const ratio = memory.pendingOpsBytes / memory.bodyBytesTotal;
    row(
      `7. JS heap with ${n0(memory.ops)} pending ops (1 KB bodies)`,
      `+${kib(memory.pendingOpsBytes)} over an empty app (${kib(memory.emptyAppBytes)})`,
      `bodies' total ${kib(memory.bodyBytesTotal)}; same ops as an in-memory array: +${kib(memory.inMemoryArrayBytes)}`,
      times(ratio),
      '≤ 0.25× ("well under")',
      verdict(ratio, 0.25, 'at most'),
    );
  } else rows.push(failedRow('memory', '7. memory'));

  // 8. size
  const size = ok('size');
  if (size) {
    for (const check of size.checks) {
      if (typeof check.actual !== 'number') {
        row(`8. size: ${check.name}`, check.actual, '', '', check.budget, check.ok ? 'met' : '**missed**');
        continue;
      }
      row(
        `8. size: ${check.name}`,
        `${n2(check.actual / 1024)} KB gz`,
        `budget ${(check.budget / 1024).toFixed(0)} KB gz`,
        times(check.actual / check.budget),
        '≤ 1.00×',
        verdict(check.actual / check.budget, 1, 'at most'),
      );
    }
  } else rows.push(failedRow('size', '8. size'));

  // 9. naive
  const naive = ok('naive');
  if (naive) {
    for (const d of Object.keys(naive)
      .map(Number)
      .sort((a, b) => a - b)) {
      const fluxyAt = depth?.[d]?.msPerOp;
      row(
        `9. naive queue (one array, one record) at depth ${n0(d)}`,
        `${ms(naive[d].msPerOp)}/enqueue`,
        Number.isFinite(fluxyAt) ? `Fluxy at that depth: ${ms(fluxyAt)}/op` : '',
        Number.isFinite(fluxyAt) ? `naive is ${times(naive[d].msPerOp / fluxyAt)} Fluxy` : '',
        '—',
        'info',
      );
    }
  } else rows.push(failedRow('naive', '9. naive queue'));

  // Node
  const fake = ok('node-enqueue-fake-indexeddb');
  if (fake) {
    const raw = `raw fake-indexeddb put/transaction: ${ops(fake.raw.median)}`;
    row(
      'Node: enqueue, fake-indexeddb, secret (WebCrypto)',
      ops(fake.webcrypto.median),
      raw,
      times(fake.webcrypto.ratio),
      '—',
      'info',
    );
    row(
      'Node: enqueue, fake-indexeddb, no secret',
      ops(fake['no-secret'].median),
      raw,
      times(fake['no-secret'].ratio),
      '—',
      'info',
    );
  } else rows.push(failedRow('node-enqueue-fake-indexeddb', 'Node: enqueue, fake-indexeddb'));
  const file = ok('node-enqueue-file');
  if (file) {
    const raw = `same durable write by hand (temp, fsync, rename, fsync dir): ${ops(file['raw-fs'].median)}`;
    row(
      'Node: enqueue, file driver, secret (WebCrypto)',
      ops(file.webcrypto.median),
      raw,
      times(file.webcrypto.ratio),
      '—',
      'info',
    );
    row(
      'Node: enqueue, file driver, no secret',
      ops(file['no-secret'].median),
      raw,
      times(file['no-secret'].ratio),
      '—',
      'info',
    );
  } else rows.push(failedRow('node-enqueue-file', 'Node: enqueue, file driver'));
  flushRows(
    [
      ['node-flush-reference', 'Node: flush 1,000 ops to the reference server, fake-indexeddb, secret', 0.85],
      ['node-flush-echo', 'Node: flush 1,000 ops to a constant-cost server, fake-indexeddb, secret', 0.85],
      ['node-flush-file-echo', 'Node: flush 1,000 ops to a constant-cost server, file driver, secret', 0.85],
      [
        'node-flush-batch-echo',
        'Node: flush 1,000 ops in batches of 100, constant-cost server, fake-indexeddb (in memory), secret',
        5,
      ],
      ['node-flush-batch-echo-20ms', 'Node: the same with 20 ms of server latency per request', 20],
    ],
    ' (browser target)',
  );
  const nodeCrypto = ok('node-crypto');
  if (nodeCrypto) cryptoRows(row, nodeCrypto, 'Node');
  else rows.push(failedRow('node-crypto', '6. encryption (Node)'));

  const lines = [
    '# Fluxy benchmarks',
    '',
    `Generated by \`node bench/run.mjs\` on ${meta.date} in ${meta.runtimeSeconds} s. Do not edit by hand: run it again.`,
    ...(meta.merged ?? []).map(
      (entry) =>
        `Steps ${entry.steps.join(', ')} run again on ${entry.date} (${entry.commit}) and merged in.`,
    ),
    '',
    `- **Machine:** ${meta.machine.cpu}, ${meta.machine.cores} cores, ${meta.machine.memoryGiB} GiB RAM, ${meta.machine.os}.`,
    `- **Versions:** ${Object.entries(meta.versions)
      .map(([name, version]) => `${name} ${version}`)
      .join(', ')}.`,
    '- **Browser:** headless Debian Chromium through playwright-core, a persistent profile in a fresh temporary folder (IndexedDB on disk; `launch()` + `newContext()` would keep it in memory), page served by the reference server on 127.0.0.1 (a secure context). Playwright is attached in every measurement, baseline included.',
    '- **Method:** every figure is a ratio to a baseline measured side by side in the same page (or Node process), in rounds whose order rotates; the table shows medians (of the values, and of the per-round ratios). Absolute ops/s are for orientation only: they depend on the machine. Performance is measured here, never asserted as wall-clock times in tests.',
    '',
    '## Summary',
    '',
    '| benchmark | Fluxy | baseline (same run) | ratio | target | result |',
    '| --- | --- | --- | ---: | --- | --- |',
    ...rows,
    '',
    'Notes on the rows:',
    '',
    `- Enqueue: sequential \`await sync.queue('POST', '/api/notes', { body })\` with a ~${results.meta.bodyBytes ?? '1,000'}-byte JSON body, the device offline (\`connectivity.setOnline(false)\`) so no flush runs; each variant on a fresh database after 20 untimed warm-up calls, all open at once and timed in interleaved blocks of 50 (rotating order) so a drift of the machine hits all alike; PBKDF2 set-up at the library's floor of 10,000 iterations (step 6 measures 600,000). The baseline puts a 1 KB string in its own readwrite transaction and awaits \`complete\`: the limit for a per-call durable enqueue.`,
    `- Depth: three apps pre-filled through \`queue()\` to each depth; each round times ${steps.depth?.args?.batch ?? 'a batch of'} sequential enqueues per depth (rotating order), then discards them, so the depth stays put.`,
    '- Burst: `Promise.all` of 1,000 `queue()` calls. Fluxy **group-commits**: writes made while a commit is in progress go to IndexedDB together in the next transaction (a lone write goes at once), each `queue()` still resolving after its own commit. Without it (the previous version) each operation was its own transaction and the ceiling was the concurrent put-per-transaction baseline; with it, the ceiling is the one-transaction figure, minus encryption and the per-operation work.',
    '- Cold start: `createApp()`, register Storage + Connectivity + Sync, `await app.ready()`, read `pendingCount` (checked equal to the stored count), over the database of step 2, in the same page; key derivation at the stored 10,000 iterations is included (with the default 600,000 add the PBKDF2 time of step 6). Baselines: open the same database raw and `count()` (or `getAllKeys()`) its store.',
    "- Flush: 1,000 queued ops (secret, WebCrypto) drained after going online, until `pendingCount` is 0, against a sequential `fetch` loop of the same requests (method, URL, JSON body, `Content-Type`, a fresh `Idempotency-Key`) from the same page, reading each response body; the server is reset before each side. Two servers: the reference server (`examples/server`, `dataFile: null`), whose time per write grows with the notes it holds (it deep-copies its whole document per write: ≈2 ms per request at first, ≈6 ms at the 1,000th on this machine), which flatters the ratio; and `bench/echo-server.mjs`, a constant-cost server (201 + the note, replay by Idempotency-Key from a Map), which shows the client's own cost. The page is served by the server it talks to (same origin).",
    '- Memory: `performance.memory.usedJSHeapSize` after `gc()` (Chromium with `--enable-precise-memory-info --js-flags=--expose-gc`): an empty app over the heap before it; then an app opened over the 10,000-op database over that; and, for reference, the same ops built as an in-memory array.',
    '- Naive queue: the whole queue as one array in one IndexedDB record, read, appended to and written back on every enqueue, in one transaction (its most favourable form); compared with Fluxy at the same depth from step 2.',
    '- Node: the Node side runs in a child process (the reference server stays in the parent). fake-indexeddb is in memory and pure JavaScript; the file driver writes a temp file, fsyncs it, renames it and fsyncs the folder per write, and the baseline does exactly that by hand.',
    "- Batches: the same 1,000 encrypted ops drained with `batch: { url: '/api/batch', max: 100 }` (ten requests of `{ ops }`, each op deduplicated by its id, the successes of a batch removed in one commit) against the same sequential fetch loop of single requests, both to the constant-cost server (`POST /api/batch` there runs each op as `POST /api/notes` would); then both against a second instance that waits 20 ms before answering every API request (the latency of a real network or a busy server), in two rounds. Measured in Chromium (IndexedDB on disk, the page served by that server) and in Node (fake-indexeddb, in memory and pure JavaScript, WebCrypto's per-call cost higher). In Chromium the 20 ms loop's rate is taken over its first 200 requests (each costs the same; 1,000 would take 25 s a round).",
    '',
  ];

  if (size) {
    lines.push('## 8. Bundle size (`node scripts/size.mjs`)', '', ...formatSizes(size), '');
    lines.push(
      '"own" = dependencies external; "critical path" = entry chunk + its static imports + the lazy chunks a browser with WebCrypto and IndexedDB loads at start-up (IndexedDB driver, WebCrypto cipher). crypto-js, localforage, the memory and the file drivers are lazy chunks that such a browser never loads (crypto-js and localforage are measured on their own). Each chunk is gzipped (level 9) on its own.',
      '',
    );
  }

  lines.push('## Details', '');
  for (const [id, step] of Object.entries(steps)) {
    if (id === 'size') continue;
    lines.push(
      `<details><summary>${step.title}: ${step.ok ? `${n1(step.seconds)} s` : '**failed**'}</summary>`,
      '',
    );
    lines.push(
      '```json',
      JSON.stringify(step.ok ? compact(step.result) : { error: step.error }, null, 1),
      '```',
      '',
      '</details>',
      '',
    );
  }
  const failures = Object.entries(steps).filter(([, step]) => !step.ok);
  if (failures.length > 0) {
    lines.push('## Failed steps', '');
    for (const [id, step] of failures) lines.push(`- **${id}** (${step.title}): ${firstLine(step.error)}`);
    lines.push('');
  }
  if (crypto || nodeCrypto) {
    lines.push(
      "Encryption rows: one round trip = `SealedCodec.encode` + `decode` of a 1 KB JSON value (AES-256-CBC with a random IV, HMAC-SHA256 over version, key, IV and ciphertext, checked before decrypting) through the storage plugin's own cipher classes; key derivation = PBKDF2-SHA256 to 64 bytes at 600,000 iterations (the default for a new database).",
      '',
    );
  }
  return `${lines.join('\n')}\n`;
}

function cryptoRows(row, result, where) {
  const web = result.webcrypto;
  const cjs = result['crypto-js'];
  row(
    `6. encrypt + decrypt 1 KB, ${where}`,
    `crypto-js: ${ops(cjs.roundTripsPerSecond)}`,
    `WebCrypto: ${ops(web.roundTripsPerSecond)}`,
    times(cjs.roundTripsPerSecond / web.roundTripsPerSecond),
    '—',
    'info',
  );
  row(
    `6. key derivation, PBKDF2-SHA256 ${n0(web.iterations)} it, ${where}`,
    `crypto-js: ${ms(cjs.deriveMs)}${cjs.iterations !== web.iterations ? ` (${n0(cjs.iterations)} it)` : ''}`,
    `WebCrypto: ${ms(web.deriveMs)}`,
    // Per iteration, in case the two engines ran different counts.
    `${times(cjs.deriveMs / cjs.iterations / (web.deriveMs / web.iterations))} slower`,
    '—',
    'info',
  );
}

function median(values) {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Rounds numbers for the details blocks. */
function compact(value) {
  return JSON.parse(
    JSON.stringify(value, (_, v) =>
      typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(4)) : v,
    ),
  );
}

function firstLine(text) {
  return String(text ?? '')
    .split('\n')[0]
    .replaceAll('|', '\\|');
}
