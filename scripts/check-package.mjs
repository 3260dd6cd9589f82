// The package as published, linted (`npm run check:package`, run by CI after `npm run build`):
// packs dist/ into a tarball, then runs publint (strict: warnings fail) and
// @arethetypeswrong/cli (profile node16: every entry under node16 ESM, node16 CJS and bundler
// resolution; node10, which cannot read `exports`, is not supported — see the README) on it.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { publicApiProblems } from './mangle.mjs';

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

if (!existsSync(join(root, 'dist', 'index.js'))) {
  console.error('check-package: dist/ is missing: run `npm run build` first.');
  process.exit(1);
}
const work = mkdtempSync(join(tmpdir(), 'fluxy-check-package-'));
let failed = false;
// The builds shorten the internal names of scripts/mangle.mjs: none may be in the public API.
const mangled = publicApiProblems(join(root, 'dist'));
console.log(`── mangled names: ${mangled.length === 0 ? 'none in the public API' : 'FAILED'}`);
for (const problem of mangled) console.log(problem);
if (mangled.length > 0) failed = true;
try {
  // dist/ was just built: skip the prepack build.
  await run(npm, ['pack', '--ignore-scripts', '--pack-destination', work], { cwd: root });
  const tarball = join(work, readdirSync(work).find((name) => name.endsWith('.tgz')) ?? 'missing.tgz');
  for (const [name, args] of [
    ['publint', [bin('publint'), 'run', tarball, '--strict']],
    [
      'attw',
      [bin('attw'), tarball, '--profile', 'node16', '--no-emoji', '--no-color', '--format', 'table-flipped'],
    ],
  ]) {
    const started = performance.now();
    const result = await run(args[0], args.slice(1), { cwd: work }).then(
      ({ stdout, stderr }) => ({ ok: true, output: stdout + stderr }),
      (error) => ({ ok: false, output: `${error.stdout ?? ''}${error.stderr ?? ''}` || String(error) }),
    );
    console.log(
      `── ${name} (${((performance.now() - started) / 1000).toFixed(1)} s): ${result.ok ? 'clean' : 'FAILED'}`,
    );
    console.log(result.output.trim());
    if (!result.ok) failed = true;
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
