import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const source = (path: string): string => fileURLToPath(new URL(`./${path}`, import.meta.url));

export default defineConfig({
  resolve: {
    // The package's own specifiers point into dist/ (package.json "exports" and "imports"); the
    // tests run the sources (tsconfig.json "paths" says the same to TypeScript and esbuild).
    // Examples written as a user would (docs/testing.md) import 'fluxy/testing' and friends.
    alias: [
      { find: '#file-driver', replacement: source('src/plugins/storage/drivers/file-driver.ts') },
      { find: /^fluxy$/, replacement: source('src/index.ts') },
      {
        find: /^fluxy\/(storage|connectivity|sync|collections)$/,
        replacement: source('src/plugins/$1/index.ts'),
      },
      { find: /^fluxy\/(react|dom|vue)$/, replacement: source('src/bindings/$1/index.ts') },
      { find: /^fluxy\/testing$/, replacement: source('src/testing/index.ts') },
      // Solid's browser build: Node's conditions pick its server build, which runs no effects.
      { find: /^solid-js$/, replacement: source('node_modules/solid-js/dist/solid.js') },
    ],
  },
  test: {
    environment: 'node',
    include: ['tests/**/*.test.ts'],
    exclude: ['tests/e2e/**', 'node_modules/**'],
    typecheck: { enabled: true, include: ['tests/**/*.test-d.ts'] },
    testTimeout: 20_000,
  },
});
