import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    environment: 'node',
    include: ['tests/**/*.test.ts'],
    exclude: ['tests/e2e/**', 'node_modules/**'],
    typecheck: { enabled: true, include: ['tests/**/*.test-d.ts'] },
    testTimeout: 20_000,
  },
});
