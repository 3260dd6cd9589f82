// Builds the browser notes app into examples/notes/dist with esbuild (a dev dependency):
//
//   node examples/notes/build.mjs
//
// `import … from 'fluxy'` (and 'fluxy/storage', 'fluxy/sync', …) resolve to the TypeScript
// sources in src/, so the example always runs against the library in this repository, with no
// `npm run build` needed. In your own app these imports resolve to the installed package.
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
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
 * Bundles examples/notes/src/main.ts and copies index.html and styles.css next to it.
 * @param {{ outdir?: string, logLevel?: import('esbuild').LogLevel }} [options]
 * @returns {Promise<string>} the output directory
 */
export async function buildNotes({ outdir = NOTES_DIST, logLevel = 'warning' } = {}) {
  const esbuild = await import('esbuild');
  await esbuild.build({
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
    logLevel,
  });
  await mkdir(outdir, { recursive: true });
  for (const file of ['index.html', 'styles.css']) await copyFile(join(here, file), join(outdir, file));
  return outdir;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outdir = await buildNotes({ logLevel: 'info' });
  console.log(`Built the notes app into ${outdir}`);
}
