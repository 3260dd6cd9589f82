// Every TypeScript block of the README type-checks against the sources, as a user's module would
// (strict, moduleResolution bundler, top-level await). Blocks that summarise signatures are marked
// `<!-- signatures, not code -->` on the line before their fence and are skipped; nothing else is.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { afterAll, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const marker = '<!-- signatures, not code -->';

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

interface Block {
  line: number;
  code: string;
  skipped: boolean;
}

function blocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const found: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```ts') continue;
    const end = lines.indexOf('```', i + 1);
    found.push({ line: i + 1, code: lines.slice(i + 1, end).join('\n'), skipped: lines[i - 1] === marker });
    i = end;
  }
  return found;
}

const dir = mkdtempSync(join(tmpdir(), 'fluxy-readme-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('every TypeScript snippet of the README type-checks', () => {
  const all = blocks(readFileSync(join(root, 'README.md'), 'utf8'));
  const checked = all.filter((block) => !block.skipped);
  expect(checked.length).toBeGreaterThanOrEqual(6);
  expect(all.filter((block) => block.skipped)).toHaveLength(4); // the four API summaries
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'prelude.d.ts'), prelude);
  const files = checked.map((block) => {
    const file = join(dir, `readme-line-${block.line}.ts`);
    writeFileSync(file, `${block.code}\nexport {};\n`);
    return file;
  });
  const entry = (path: string) => [join(root, path)];
  const program = ts.createProgram([join(dir, 'prelude.d.ts'), ...files], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: ['node'],
    typeRoots: [join(root, 'node_modules', '@types')],
    paths: {
      fluxy: entry('src/index.ts'),
      'fluxy/storage': entry('src/plugins/storage/index.ts'),
      'fluxy/connectivity': entry('src/plugins/connectivity/index.ts'),
      'fluxy/sync': entry('src/plugins/sync/index.ts'),
      'fluxy/collections': entry('src/plugins/collections/index.ts'),
      'fluxy/dom': entry('src/bindings/dom/index.ts'),
      'fluxy/react': entry('src/bindings/react/index.ts'),
      'fluxy/vue': entry('src/bindings/vue/index.ts'),
      'fluxy/testing': entry('src/testing/index.ts'),
      '#file-driver': entry('src/plugins/storage/drivers/file-driver.ts'),
      // The snippets live in a temporary folder, outside the repository's node_modules.
      vue: [join(root, 'node_modules', 'vue')],
    },
  });
  const problems = ts
    .getPreEmitDiagnostics(program)
    .filter((diagnostic) => diagnostic.file?.fileName.startsWith(dir))
    .map((diagnostic) => {
      const { line } = diagnostic.file!.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
      const block = /readme-line-(\d+)/.exec(diagnostic.file!.fileName)?.[1];
      return `README.md:${Number(block) + 1 + line}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`;
    });
  expect(problems).toStrictEqual([]);
}, 60_000);
