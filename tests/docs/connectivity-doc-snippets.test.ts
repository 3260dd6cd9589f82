// docs/connectivity.md's TypeScript blocks type-check against the sources as a user's module
// would (see doc-blocks.ts); the free names they use (`banner`, `NetInfo`…) are declared as an app
// would have them. The two signature summaries are marked and skipped. They are browser and
// React Native code (relative probe URLs, `location`): tests/connectivity runs the same calls.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { blocks, typeCheck } from './doc-blocks.js';

const dir = mkdtempSync(join(tmpdir(), 'fluxy-connectivity-doc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const prelude = `import type { ConnectivityPlugin } from 'fluxy/connectivity';
declare global {
  const banner: HTMLElement;
  const connectivity: ConnectivityPlugin;
  const NetInfo: { addEventListener(listener: (state: { isConnected: boolean | null }) => void): () => void };
  const Network: {
    addListener(event: 'networkStatusChange', listener: (status: { connected: boolean }) => void): unknown;
  };
}
`;

it('every TypeScript block of docs/connectivity.md type-checks', () => {
  const all = blocks('docs/connectivity.md');
  expect(all.filter((block) => !block.skipped)).toHaveLength(3);
  expect(all.filter((block) => block.skipped)).toHaveLength(2); // the options and the API
  expect(typeCheck('docs/connectivity.md', dir, prelude)).toStrictEqual([]);
}, 60_000);
