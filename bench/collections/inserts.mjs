// Offline inserts as they pile up, in Node (memory storage, no secret): the time of 500 insert()s
// made offline on top of 0 and 1,500 pending changes. Two figures per case: the synchronous work
// of the 500 calls (the loop that makes them, before any resolves: what blocks a frame), and the
// wall time until all 500 resolved (the outbox's writes and listings included).
//
//   node bench/collections/inserts.mjs [--rounds=5] [--pending=0,1500] [--inserts=500]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const flag = (name, fallback) =>
  process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const rounds = Number(flag('rounds', 5));
const inserts = Number(flag('inserts', 500));
const pendings = flag('pending', '0,1500').split(',').map(Number);

const dir = await mkdtemp(join(tmpdir(), 'fluxy-bench-inserts-'));
try {
  const file = join(dir, 'entry.mjs');
  await build({
    stdin: {
      contents: `export { createTestApp } from './src/testing/index.ts';
        export { Collection } from './src/plugins/collections/index.ts';`,
      resolveDir: root,
      loader: 'ts',
    },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'es2022',
    outfile: file,
    external: ['node:*', '#file-driver'],
    logLevel: 'warning',
  });
  const { createTestApp, Collection } = await import(pathToFileURL(file).href);
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  for (const pending of pendings) {
    const sync = [];
    const wall = [];
    for (let round = 0; round < rounds; round++) {
      const t = await createTestApp({ sync: { baseUrl: 'http://127.0.0.1:9/api' }, online: false });
      const notes = t.app.register(
        new Collection('notes', { url: '/notes', pullIntervalMs: 0, locks: false }),
      );
      await t.app.ready();
      for (let n = 0; n < pending; n += 100)
        await Promise.all(
          Array.from({ length: Math.min(100, pending - n) }, (_, k) =>
            notes.insert({ title: `old ${n + k}` }),
          ),
        );
      const start = performance.now();
      const calls = [];
      for (let n = 0; n < inserts; n++) calls.push(notes.insert({ title: `new ${n}`, body: 'x'.repeat(40) }));
      sync.push(performance.now() - start);
      await Promise.all(calls);
      wall.push(performance.now() - start);
      if (notes.unconfirmed.value !== pending + inserts)
        throw new Error(`unconfirmed ${notes.unconfirmed.value}`);
      await t.dispose();
    }
    console.log(
      `${inserts} offline inserts on top of ${pending} pending: synchronous ${median(sync).toFixed(0)} ms (${sync.map((ms) => ms.toFixed(0)).join(', ')}), until resolved ${median(wall).toFixed(0)} ms (${wall.map((ms) => ms.toFixed(0)).join(', ')}); medians of ${rounds}`,
    );
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
