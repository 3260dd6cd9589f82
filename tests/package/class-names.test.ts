import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import * as core from '../../src/index.js';
import * as collections from '../../src/plugins/collections/index.js';
import * as connectivity from '../../src/plugins/connectivity/index.js';
import * as storage from '../../src/plugins/storage/index.js';
import * as sync from '../../src/plugins/sync/index.js';
import * as testing from '../../src/testing/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const entries = { core, storage, connectivity, sync, collections, testing };

/** The names of the classes the public entries export. */
function exportedClasses(): string[] {
  const names = new Set<string>();
  for (const entry of Object.values(entries)) {
    for (const [name, value] of Object.entries(entry)) {
      if (typeof value === 'function' && /^class\b/.test(Function.prototype.toString.call(value))) {
        names.add(name);
      }
    }
  }
  return [...names].sort();
}

describe("public classes keep their names in the package's build", () => {
  // esbuild writes `var X = class _X` for a class whose body refers to itself by name: in dist/,
  // `X.name` is then '_X', and Node prints an uncaught error as `_FluxyError: …`.
  it('no exported class is renamed by the bundler (its body does not name it)', async () => {
    const result = await build({
      absWorkingDir: root,
      entryPoints: [
        'src/index.ts',
        'src/plugins/storage/index.ts',
        'src/plugins/connectivity/index.ts',
        'src/plugins/sync/index.ts',
        'src/plugins/collections/index.ts',
        'src/testing/index.ts',
      ],
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      target: 'es2022',
      splitting: true,
      outdir: 'class-names-out',
      write: false,
      packages: 'external',
      external: ['#file-driver', 'node:*'],
      logLevel: 'silent',
    });
    const renamed = new Set<string>();
    for (const file of result.outputFiles) {
      for (const match of file.text.matchAll(/var (\w+) = class _\1\b/g)) renamed.add(match[1] as string);
    }
    const classes = exportedClasses();
    expect(classes).toEqual(
      expect.arrayContaining(['FluxyError', 'FaultServer', 'SyncPlugin', 'Collection']),
    );
    expect(classes.filter((name) => renamed.has(name))).toStrictEqual([]);
  });

  it('FluxyError and its instances print under their own name', () => {
    const error = new core.FluxyError('app/disposed', 'gone');
    expect(core.FluxyError.name).toBe('FluxyError');
    expect(error.constructor.name).toBe('FluxyError');
    expect(testing.FaultServer.name).toBe('FaultServer');
    // instanceof still works for the class, a subclass, and a branded error of another copy.
    class Sub extends core.FluxyError {}
    const sub = new Sub('app/disposed', 'x');
    expect(sub instanceof core.FluxyError).toBe(true);
    expect(sub instanceof Sub).toBe(true);
    expect(error instanceof Sub).toBe(false);
    expect(new Error('plain') instanceof core.FluxyError).toBe(false);
  });
});
