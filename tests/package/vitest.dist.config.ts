import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The tests of sync, storage and collections again, with Fluxy's entries (and createApp) taken
// from the built package instead of the sources (`npm run test:dist`, after `npm run build`):
// dist/dev, the build Node gets, which shortens internal names as the production build does
// (scripts/mangle.mjs) and keeps the prose the tests read. A name shortened in one place and not
// in another fails here, not in an app. (Modules a test imports directly, such as the engine in
// tests/sync/harness.ts, stay sources: those tests exercise the package only where they go
// through an entry.)
const root = fileURLToPath(new URL('../..', import.meta.url));
const dist = (file: string): string => `${root}dist/dev/${file}`;

export default defineConfig({
  root,
  resolve: {
    alias: [
      { find: '#file-driver', replacement: dist('file-driver.js') },
      { find: /^(?:\.\.\/)+src\/(?:index|core\/app)\.js$|^fluxy$/, replacement: dist('index.js') },
      {
        find: /^(?:\.\.\/)+src\/plugins\/(storage|connectivity|sync|collections)\/index\.js$|^fluxy\/(storage|connectivity|sync|collections)$/,
        replacement: dist('$1$2.js'),
      },
      { find: /^(?:\.\.\/)+src\/testing\/index\.js$|^fluxy\/testing$/, replacement: dist('testing.js') },
    ],
  },
  test: {
    environment: 'node',
    include: [
      'tests/sync/*.test.ts',
      'tests/collections/*.test.ts',
      'tests/storage/*.test.ts',
      'tests/testing/testing.test.ts',
      'tests/testing/fault-server-collections.test.ts',
      'tests/docs/notes-collection.test.ts',
      'tests/docs/readme-snippets.test.ts',
    ],
    testTimeout: 20_000,
  },
});
