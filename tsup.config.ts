import { defineConfig, type Options } from 'tsup';
import { mangleProps } from './scripts/mangle.mjs';
import { stripProsePlugin } from './scripts/strip-prose.mjs';

const shared: Options = {
  entry: {
    index: 'src/index.ts',
    storage: 'src/plugins/storage/index.ts',
    connectivity: 'src/plugins/connectivity/index.ts',
    sync: 'src/plugins/sync/index.ts',
    collections: 'src/plugins/collections/index.ts',
    react: 'src/bindings/react/index.ts',
    dom: 'src/bindings/dom/index.ts',
    vue: 'src/bindings/vue/index.ts',
    testing: 'src/testing/index.ts',
    // Not package entries: the two targets of the `#file-driver` package import (package.json
    // "imports"): Node gets the file driver, every other environment a stub that says why not.
    'file-driver': 'src/plugins/storage/drivers/file-driver.ts',
    'file-driver-unavailable': 'src/plugins/storage/drivers/file-driver-unavailable.ts',
  },
  format: ['esm', 'cjs'],
  // Shared chunks keep one copy of the core, so `instanceof FluxyError` holds across entries.
  splitting: true,
  sourcemap: true,
  treeshake: true,
  target: 'es2022',
  platform: 'neutral',
  // Keep `node:` specifiers as written (tsup strips the prefix by default). Only Node-only modules
  // have them: the file driver (behind the `node` condition of #file-driver) and fluxy/testing.
  removeNodeProtocol: false,
  // Internal method names shortened in dist/ (scripts/mangle.mjs says which, and why it is safe).
  esbuildOptions(options) {
    options.mangleProps = mangleProps;
  },
  external: [
    'react',
    'vue',
    '#file-driver',
    'node:fs',
    'node:fs/promises',
    'node:path',
    'node:crypto',
    'node:os',
    'node:http',
  ],
};

// Two builds (`npm run build` empties dist/ first): the production build in dist/ — what the
// default export conditions give browsers' production bundles — leaves out the prose of errors and
// warnings (codes stay; docs/errors.md says what each means and what to do); the development
// build in dist/dev/, with the prose, is what the `development` and `node` conditions give.
export default defineConfig([
  { ...shared, outDir: 'dist', dts: true, esbuildPlugins: [stripProsePlugin()] },
  { ...shared, outDir: 'dist/dev', dts: false },
]);
