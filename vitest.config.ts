import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // The `#file-driver` package import (package.json "imports") points into dist/; the tests
    // run the sources (tsconfig.json "paths" says the same to TypeScript and esbuild).
    alias: {
      '#file-driver': fileURLToPath(new URL('./src/plugins/storage/drivers/file-driver.ts', import.meta.url)),
    },
  },
  test: {
    environment: 'node',
    include: ['tests/**/*.test.ts'],
    exclude: ['tests/e2e/**', 'node_modules/**'],
    typecheck: { enabled: true, include: ['tests/**/*.test-d.ts'] },
    testTimeout: 20_000,
  },
});
