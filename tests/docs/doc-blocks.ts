// The ```ts blocks of a docs/ page, and a type-check of them against the sources as a user's
// module would be checked (strict, moduleResolution bundler, top-level await). Blocks that
// summarise signatures are marked `<!-- signatures, not code -->` on the line before their fence
// and are skipped; nothing else is. Used by the docs/*.md snippet tests.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';

export const root = resolve(import.meta.dirname, '../..');
const marker = '<!-- signatures, not code -->';

export interface Block {
  line: number;
  code: string;
  skipped: boolean;
}

/** The ```ts blocks of `page` (a path from the repository's root), with their first line. */
export function blocks(page: string): Block[] {
  const lines = readFileSync(join(root, page), 'utf8').split('\n');
  const found: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```ts') continue;
    const end = lines.indexOf('```', i + 1);
    found.push({ line: i + 1, code: lines.slice(i + 1, end).join('\n'), skipped: lines[i - 1] === marker });
    i = end;
  }
  return found;
}

/**
 * Type-checks the blocks of `page` that are not skipped, each as a module of its own in `dir`,
 * with `prelude` (a .d.ts declaring the free names they use). Returns the problems as
 * `page:line: message`.
 */
export function typeCheck(page: string, dir: string, prelude: string): string[] {
  const checked = blocks(page).filter((block) => !block.skipped);
  writeFileSync(join(dir, 'prelude.d.ts'), prelude);
  const files = checked.map((block) => {
    const file = join(dir, `block-line-${block.line}.ts`);
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
      'fluxy/testing': entry('src/testing/index.ts'),
      'fluxy/collections': entry('src/plugins/collections/index.ts'),
      'fluxy/dom': entry('src/bindings/dom/index.ts'),
      'fluxy/react': entry('src/bindings/react/index.ts'),
      'fluxy/vue': entry('src/bindings/vue/index.ts'),
      // The blocks live in a temporary folder, outside the repository's node_modules.
      'solid-js': [join(root, 'node_modules', 'solid-js')],
      preact: [join(root, 'node_modules', 'preact')],
      '@preact/signals': [join(root, 'node_modules', '@preact/signals')],
      vue: [join(root, 'node_modules', 'vue')],
      '#file-driver': entry('src/plugins/storage/drivers/file-driver.ts'),
    },
  });
  return ts
    .getPreEmitDiagnostics(program)
    .filter((diagnostic) => diagnostic.file?.fileName.startsWith(dir))
    .map((diagnostic) => {
      const { line } = diagnostic.file!.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
      const block = /block-line-(\d+)/.exec(diagnostic.file!.fileName)?.[1];
      return `${page}:${Number(block) + 1 + line}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`;
    });
}
