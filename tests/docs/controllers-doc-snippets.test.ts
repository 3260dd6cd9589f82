// docs/controllers-and-bindings.md's TypeScript blocks type-check against the sources as a user's
// module would (see doc-blocks.ts); the free names they use (`app`, `sync`, the DOM elements…)
// are declared as an app would have them. What they do runs in tests/controller, tests/sync
// (mutation.test.ts) and tests/bindings.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { blocks, typeCheck } from './doc-blocks.js';

const dir = mkdtempSync(join(tmpdir(), 'fluxy-controllers-doc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const prelude = `import type { App, ReadonlySignal } from 'fluxy';
import type { ConnectivityPlugin } from 'fluxy/connectivity';
import type { SyncPlugin } from 'fluxy/sync';
declare global {
  const app: App;
  const sync: SyncPlugin;
  const connectivity: ConnectivityPlugin;
  const badge: HTMLElement;
  const banner: HTMLElement;
  const saveButton: HTMLElement;
  const link: HTMLElement;
  const notes: { selectedId: ReadonlySignal<string>; create(input: { title: string }): Promise<void> };
  function newLocalId(): string;
  function randomHex(bytes: number): string;
  interface Note { id: string; title: string; saving: boolean }
}
`;

it('every TypeScript block of docs/controllers-and-bindings.md type-checks', () => {
  expect(blocks('docs/controllers-and-bindings.md')).toHaveLength(5); // (the React block is tsx)
  expect(typeCheck('docs/controllers-and-bindings.md', dir, prelude)).toStrictEqual([]);
}, 60_000);
