// Builds the browser notes app into examples/notes/dist with esbuild (a dev dependency):
//
//   node examples/notes/build.mjs
//
// `import … from 'fluxy'` (and 'fluxy/storage', 'fluxy/sync', …) resolve to the TypeScript
// sources in src/, so the example always runs against the library in this repository, with no
// `npm run build` needed. In your own app these imports resolve to the installed package.
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');

/** The directory the app is built into (git-ignored). */
export const NOTES_DIST = join(here, 'dist');

/** Package entry points → source files (the same map as package.json "exports"). */
const entries = {
  fluxy: 'src/index.ts',
  'fluxy/storage': 'src/plugins/storage/index.ts',
  'fluxy/connectivity': 'src/plugins/connectivity/index.ts',
  'fluxy/sync': 'src/plugins/sync/index.ts',
  'fluxy/collections': 'src/plugins/collections/index.ts',
  'fluxy/dom': 'src/bindings/dom/index.ts',
  'fluxy/react': 'src/bindings/react/index.ts',
};

/** @type {import('esbuild').Plugin} */
const fluxySources = {
  name: 'fluxy-sources',
  setup(build) {
    build.onResolve({ filter: /^fluxy(\/[a-z]+)?$/ }, (args) => {
      const file = entries[/** @type {keyof typeof entries} */ (args.path)];
      return file ? { path: join(root, file) } : { errors: [{ text: `unknown Fluxy entry ${args.path}` }] };
    });
  },
};

/**
 * Bundles examples/notes/src/main.ts, copies index.html and styles.css next to it, and writes the
 * service worker (sw.js) that precaches them.
 * @param {{ outdir?: string, logLevel?: import('esbuild').LogLevel }} [options]
 * @returns {Promise<string>} the output directory
 */
export async function buildNotes({ outdir = NOTES_DIST, logLevel = 'warning' } = {}) {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [join(here, 'src', 'main.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outdir,
    sourcemap: true,
    plugins: [fluxySources],
    // The storage plugin's file driver (Node only) loads node:fs and node:path with a dynamic
    // import() that never runs in a browser; leave those imports alone.
    external: ['node:*'],
    metafile: true, // lists the outputs, for the service worker's shell
    absWorkingDir: root, // the metafile's paths are relative to it
    logLevel,
  });
  await mkdir(outdir, { recursive: true });
  const copied = ['index.html', 'styles.css'];
  for (const file of copied) await copyFile(join(here, file), join(outdir, file));

  // The app shell: every file the page needs to start. Source maps are left out (only DevTools
  // reads them, and they are most of the bytes).
  const bundled = Object.keys(result.metafile.outputs)
    .map((output) => relative(outdir, resolve(root, output)).split('\\').join('/'))
    .filter((file) => !file.endsWith('.map'));
  const shell = [...copied, ...bundled].sort();
  await writeServiceWorker(outdir, shell);
  return outdir;
}

/**
 * Writes dist/sw.js: examples/notes/sw.js with its `const BUILD = …;` line replaced by this
 * build's shell and a hash of it (and of the worker itself), which names the cache. A new build
 * changes the hash, so browsers install the new worker, which drops the old cache.
 * @param {string} outdir
 * @param {string[]} shell file names relative to outdir
 */
async function writeServiceWorker(outdir, shell) {
  const source = await readFile(join(here, 'sw.js'), 'utf8');
  const line = /^const BUILD = .*;$/m;
  if (!line.test(source))
    throw new Error(`${basename(here)}/sw.js has no "const BUILD = …;" line to fill in.`);
  const hash = createHash('sha256').update(source);
  for (const file of shell) hash.update(`\0${file}\0`).update(await readFile(join(outdir, file)));
  const build = { version: hash.digest('hex').slice(0, 12), shell };
  await writeFile(
    join(outdir, 'sw.js'),
    source.replace(line, () => `const BUILD = ${JSON.stringify(build)};`),
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outdir = await buildNotes({ logLevel: 'info' });
  console.log(`Built the notes app into ${outdir}`);
}
