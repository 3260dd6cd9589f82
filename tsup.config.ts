import { defineConfig } from 'tsup';

export default defineConfig({
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
  dts: true,
  // Shared chunks keep one copy of the core, so `instanceof FluxyError` holds across entries.
  splitting: true,
  sourcemap: true,
  clean: true,
  treeshake: true,
  target: 'es2022',
  platform: 'neutral',
  // Keep `node:` specifiers as written (tsup strips the prefix by default). Only Node-only modules
  // have them: the file driver (behind the `node` condition of #file-driver) and fluxy/testing.
  removeNodeProtocol: false,
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
});
