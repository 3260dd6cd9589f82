import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// End-to-end tests: the notes app in Chromium against the reference server.
// Run with `node tests/e2e/run.mjs` (or `npx vitest run --config tests/e2e/vitest.e2e.config.ts`).
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['tests/e2e/**/*.e2e.ts'],
    environment: 'node',
    globalSetup: ['tests/e2e/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // expect.poll() gives up after 1 s by default: too short for a browser on a busy machine
    // (a reconnect probe, a flush). Each poll names what it waits for (its message).
    expect: { poll: { timeout: 10_000, interval: 50 } },
    fileParallelism: false,
  },
});
