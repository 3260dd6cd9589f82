// Measures the peers' comparable stacks with the settings of scripts/size.mjs (esbuild, minified,
// ESM, browser, es2022, NODE_ENV=production, one bundle, gzip level 9), so the README and
// bench/RESULTS.md compare like with like. Not part of CI: it installs the peers from the npm
// registry into a temporary folder (or --dir=<folder> where they are installed already).
//
//   node scripts/peers-size.mjs            # prints a Markdown table
//   node scripts/peers-size.mjs --json
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

/** Each peer stack: the packages (pinned) and the modules an app of that kind imports. */
export const PEERS = [
  {
    name: 'Legend-State core + sync + IndexedDB persistence',
    packages: ['@legendapp/state@3.0.0-beta.48'],
    modules: ['@legendapp/state', '@legendapp/state/sync', '@legendapp/state/persist-plugins/indexeddb'],
  },
  {
    name: 'TinyBase mergeable store + IndexedDB persister + BroadcastChannel synchronizer',
    packages: ['tinybase@10.0.1'],
    modules: [
      'tinybase/mergeable-store',
      'tinybase/persisters/persister-indexed-db',
      'tinybase/synchronizers/synchronizer-broadcast-channel',
    ],
  },
  {
    name: '@tanstack/offline-transactions',
    packages: ['@tanstack/offline-transactions@1.0.53'],
    modules: ['@tanstack/offline-transactions'],
  },
  {
    name: 'workbox-background-sync (Queue)',
    packages: ['workbox-background-sync@7.4.1'],
    modules: ['workbox-background-sync'],
  },
];

const KB = 1024;

async function measure(dir, modules) {
  const contents = modules.map((module) => `export * from '${module}';`).join('\n');
  const result = await build({
    absWorkingDir: dir,
    stdin: { contents, resolveDir: dir, loader: 'js' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    define: { 'process.env.NODE_ENV': '"production"' },
    write: false,
    logLevel: 'silent',
  });
  return gzipSync(result.outputFiles[0].contents, { level: 9 }).length;
}

async function main() {
  const given = process.argv.find((arg) => arg.startsWith('--dir='))?.slice('--dir='.length);
  const dir = given ?? join(tmpdir(), 'fluxy-peers');
  if (!given) {
    mkdirSync(dir, { recursive: true });
    if (!existsSync(join(dir, 'package.json')))
      writeFileSync(join(dir, 'package.json'), '{"private":true}\n');
    execFileSync(
      'npm',
      ['install', '--no-audit', '--no-fund', '--ignore-scripts', ...PEERS.flatMap((peer) => peer.packages)],
      { cwd: dir, stdio: 'inherit' },
    );
  }
  const rows = [];
  for (const peer of PEERS) {
    rows.push({ name: peer.name, packages: peer.packages, bytes: await measure(dir, peer.modules) });
  }
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(rows, null, 2));
    return;
  }
  console.log('| peer stack | version | min + gzip |');
  console.log('| --- | --- | ---: |');
  for (const row of rows) {
    console.log(`| ${row.name} | ${row.packages.join(', ')} | ${(row.bytes / KB).toFixed(2)} KB |`);
  }
}

await main();
