// docs/sync.md's TypeScript blocks, as readme-snippets.test.ts and readme-run.test.ts treat the
// README's: every block type-checks against the sources as a user's module would (strict,
// moduleResolution bundler, top-level await), and the blocks that run in Node run here, as
// written, against a FaultServer — the free names they use (`sync`, `render`, `notes`…) given as
// an app would have them. Blocks that summarise signatures are marked
// `<!-- signatures, not code -->` on the line before their fence and are skipped; nothing else is.
// (The first block, the browser set-up with relative URLs and a passphrase prompt, is type-checked
// only: the README's Node snippet runs the same calls.)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, expect, it, vi } from 'vitest';
import { type App, createApp } from '../../src/index.js';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import { SyncPlugin } from '../../src/plugins/sync/index.js';
import { FaultServer } from '../../src/testing/index.js';
import { type Block, blocks, typeCheck } from './doc-blocks.js';

const dir = mkdtempSync(join(tmpdir(), 'fluxy-sync-doc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The block that contains `text` (exactly one). */
function snippet(text: string): string {
  const found = blocks('docs/sync.md').filter((block) => !block.skipped && block.code.includes(text));
  expect(found, `one docs/sync.md block with ${text}`).toHaveLength(1);
  return (found[0] as Block).code;
}

/** The free names the blocks use, as an app would have them. */
const prelude = `import type { Operation, SyncPlugin, UnreadableOperation } from 'fluxy/sync';
declare global {
  function passphraseFromLogin(): Promise<string>;
  const auth: { freshToken(): Promise<string> };
  const sync: SyncPlugin;
  const title: string;
  const fileInput: HTMLInputElement;
  function render(page: readonly (Operation | UnreadableOperation)[]): void;
  function newTempId(prefix?: string): string; // defined by the block before the one that uses it
  const notes: { confirm(tempId: string, serverId: string): void; drop(tempId: string): void };
}
`;

it('every TypeScript block of docs/sync.md type-checks', () => {
  const all = blocks('docs/sync.md');
  expect(all.filter((block) => !block.skipped).length).toBeGreaterThanOrEqual(6);
  expect(all.filter((block) => block.skipped)).toHaveLength(2); // the API and the Operation shape
  expect(typeCheck('docs/sync.md', dir, prelude)).toStrictEqual([]);
}, 60_000);

/** Runs `code` as a module of its own (a new file each time: modules run once). */
let runs = 0;
async function run(code: string): Promise<void> {
  const file = join(dir, `run-${++runs}.ts`);
  writeFileSync(file, `${code}\nexport {};\n`);
  await import(/* @vite-ignore */ file);
}

let server: FaultServer;
let app: App | undefined;
beforeEach(async () => {
  server = await FaultServer.start();
});
afterEach(async () => {
  vi.unstubAllGlobals();
  await app?.dispose();
  app = undefined;
  await server.close();
});

/** An app as the doc's blocks assume one (`sync` registered and ready), on the fault server. */
async function startSync(options: ConstructorParameters<typeof SyncPlugin>[0] = {}): Promise<SyncPlugin> {
  app = createApp();
  app.register(new StoragePlugin({ driver: 'memory' }));
  app.register(new ConnectivityPlugin());
  const sync = app.register(new SyncPlugin({ baseUrl: server.url, ...options }));
  await app.ready();
  vi.stubGlobal('sync', sync);
  return sync;
}

it('paging: the loop renders every pending operation once, in send order', async () => {
  const sync = await startSync();
  sync.pause();
  for (let n = 0; n < 250; n++) await sync.queue('POST', '/notes', { body: { n } });
  const rendered: unknown[] = [];
  vi.stubGlobal('render', (page: Array<{ body?: unknown }>) => rendered.push(...page.map((op) => op.body)));
  await run(snippet('sync.pending({ limit: 100 })'));
  expect(rendered).toStrictEqual(Array.from({ length: 250 }, (_, n) => ({ n })));
});

it('batches: the constructor call is accepted (with an absolute baseUrl: Node has no page)', async () => {
  const code = snippet("batch: { url: '/batch', max: 100 }");
  await run(code.replace("baseUrl: '/api'", `baseUrl: ${JSON.stringify(`${server.url}/api`)}`));
});

it('temporary ids: the PATCH goes to the server id, after the create', async () => {
  await startSync();
  vi.stubGlobal('title', 'Groceries');
  const code = snippet("newTempId('tmp_note_')");
  await run(code);
  await app!.use(SyncPlugin).flush();
  expect(server.applied.map(({ method, path, body }) => ({ method, path, body }))).toStrictEqual([
    { method: 'POST', path: '/notes', body: { title: 'Groceries' } },
    { method: 'PATCH', path: '/notes/srv-1', body: { title: 'edited' } },
  ]);
});

it('binary bodies: the upload goes first, and the note carries its server id', async () => {
  // The block registers its own SyncPlugin on the default app; it uses newTempId, defined by the
  // temporary-id block above it in the page.
  const { register, dispose } = await import('../../src/index.js');
  register(new StoragePlugin({ driver: 'memory' }));
  register(new ConnectivityPlugin());
  const photo = new File([new Uint8Array([1, 2, 3])], 'beach.jpg', { type: 'image/jpeg' });
  vi.stubGlobal('fileInput', { files: [photo] });
  const newTempId = snippet("newTempId('tmp_note_')").split('\n\nconst tmp')[0] as string;
  const code = snippet('serverId: (response)').replace(
    "baseUrl: '/api'",
    `baseUrl: ${JSON.stringify(server.url)}`,
  );
  try {
    await run(`${newTempId}\n${code}\nawait sync.flush();`);
    expect(server.applied.map(({ method, path }) => `${method} ${path}`)).toStrictEqual([
      'POST /uploads',
      'POST /notes',
    ]);
    // The fault server answers { id }: the serverId function falls back to it.
    expect(server.applied[1]?.body).toStrictEqual({ title: 'Beach', photo: 'srv-1' });
    expect([...(server.received[0]?.bytes ?? [])]).toStrictEqual([1, 2, 3]);
  } finally {
    await dispose();
  }
});

it('outcome handlers: sent confirms the temporary id with the server id, failed drops it', async () => {
  const sync = await startSync();
  const seen: string[] = [];
  vi.stubGlobal('notes', {
    confirm: (tempId: string, serverId: string) => seen.push(`confirm ${tempId} ${serverId}`),
    drop: (tempId: string) => seen.push(`drop ${tempId}`),
  });
  await run(snippet("sync.handle('note.create'"));
  server.script('ok', { status: 422 });
  await sync.queue('POST', '/notes', { body: {}, tempId: 'tmp_note_aaaaaaaa', kind: 'note.create' });
  await sync.queue('POST', '/notes', { body: {}, tempId: 'tmp_note_bbbbbbbb', kind: 'note.create' });
  await sync.flush();
  await vi.waitFor(() => expect(seen).toHaveLength(2), { timeout: 2000 });
  expect(seen).toStrictEqual(['confirm tmp_note_aaaaaaaa srv-1', 'drop tmp_note_bbbbbbbb']);
});
