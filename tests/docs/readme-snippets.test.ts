// Every TypeScript block of the README type-checks against the sources, as a user's module would
// (strict, moduleResolution bundler, top-level await). Blocks that summarise signatures are marked
// `<!-- signatures, not code -->` on the line before their fence and are skipped; nothing else is.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { blocks, typeCheck } from './doc-blocks.js';

/** The free names the snippets use, as an app would have them. */
const prelude = `import type { App } from 'fluxy';
import type { ConnectivityPlugin } from 'fluxy/connectivity';
import type { SyncPlugin } from 'fluxy/sync';
declare global {
  function passphraseFromLogin(): Promise<string>;
  const auth: { token(): Promise<string> };
  function toast(message: string): void;
  const statusBar: HTMLElement;
  const badge: HTMLElement;
  const bar: HTMLElement;
  const app: App;
  const sync: SyncPlugin;
  const connectivity: ConnectivityPlugin;
  interface Note { id: string; title: string }
}
`;

const dir = mkdtempSync(join(tmpdir(), 'fluxy-readme-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('every TypeScript snippet of the README type-checks', () => {
  const all = blocks('README.md');
  expect(all.filter((block) => !block.skipped).length).toBeGreaterThanOrEqual(6);
  expect(all.filter((block) => block.skipped)).toHaveLength(4); // the four API summaries
  expect(typeCheck('README.md', dir, prelude)).toStrictEqual([]);
}, 60_000);
