/**
 * The package as users get it: build, `npm pack`, unpack into a fresh project, then load every
 * entry of `exports` from child Node processes, in ESM and CJS, and type-check a consumer.
 *
 * The fresh project has no install step (CI may be offline): the tarball is unpacked to
 * `node_modules/fluxy` and the runtime dependencies are symlinked from this repo's node_modules.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

interface PackedPackage {
  name: string;
  exports: Record<string, unknown>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

let workDir = '';
let tarball = '';
let project = '';
let packed: PackedPackage;
/** Module specifiers of every code entry: 'fluxy', 'fluxy/storage', … */
let entries: string[] = [];

/** Run a script file with Node inside the fresh project; resolve with its parsed JSON output. */
async function node(script: string): Promise<unknown> {
  const { stdout } = await run(process.execPath, [script], { cwd: project, timeout: 15_000 });
  return JSON.parse(stdout);
}

function write(name: string, text: string): string {
  const path = join(project, name);
  writeFileSync(path, text);
  return path;
}

beforeAll(() => {
  execFileSync(npm, ['run', 'build'], { cwd: root, stdio: 'pipe' });
  workDir = mkdtempSync(join(tmpdir(), 'fluxy-pack-'));
  // Built just above: skip the prepack build (it would print into the JSON on stdout).
  const output = execFileSync(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', workDir], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const [packResult] = JSON.parse(output) as Array<{ filename: string }>;
  tarball = join(workDir, packResult?.filename ?? '');
  project = join(workDir, 'project');
  const installed = join(project, 'node_modules', 'fluxy');
  mkdirSync(installed, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  packed = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as PackedPackage;
  // Runtime dependencies, and the optional peers (react) a user of those entries installs.
  for (const dependency of Object.keys({ ...packed.dependencies, ...packed.peerDependencies })) {
    const target = join(project, 'node_modules', dependency);
    mkdirSync(dirname(target), { recursive: true });
    symlinkSync(join(root, 'node_modules', dependency), target, 'dir');
  }
  entries = Object.keys(packed.exports)
    .filter((key) => !key.endsWith('.json'))
    .map((key) => (key === '.' ? packed.name : `${packed.name}/${key.slice(2)}`));
}, 240_000);

afterAll(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('packed package', () => {
  it('ships only dist and docs, with every file that exports points to', () => {
    const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((line) => line.replace(/^package\//, ''));
    expect(
      files.filter((file) => !/^(dist\/|package\.json$|README\.md$|CHANGELOG\.md$|LICENSE)/.test(file)),
    ).toStrictEqual([]);
    const targets = JSON.stringify(packed.exports).match(/\.\/dist\/[^"]+/g) ?? [];
    expect(targets.length).toBeGreaterThan(0);
    for (const target of targets) expect(files, target).toContain(target.slice(2));
  });

  it('every entry loads with import() and with require(), exporting the same names', async () => {
    write(
      'load.mjs',
      `import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const result = {};
for (const entry of ${JSON.stringify(entries)}) {
  const esm = await import(entry);
  const cjs = require(entry);
  result[entry] = { esm: Object.keys(esm).filter((k) => k !== 'default').sort(), cjs: Object.keys(cjs).sort() };
}
console.log(JSON.stringify(result));`,
    );
    const result = (await node(join(project, 'load.mjs'))) as Record<
      string,
      { esm: string[]; cjs: string[] }
    >;
    expect(Object.keys(result)).toStrictEqual(entries);
    for (const entry of entries) {
      expect(result[entry]?.esm.length, entry).toBeGreaterThan(0);
      expect(result[entry]?.cjs, entry).toStrictEqual(result[entry]?.esm);
    }
    expect(result[packed.name]?.esm).toEqual(
      expect.arrayContaining([
        'createApp',
        'register',
        'use',
        'ready',
        'dispose',
        'FluxyPlugin',
        'FluxyError',
        'isFluxyError',
        'flux',
        'computed',
        'effect',
        'batch',
        'untracked',
      ]),
    );
  });

  it.each(['esm', 'cjs'] as const)('importing every entry has no side effects (%s)', async (format) => {
    // The optional peers (react, vue) are loaded first: what they do on import (vue reads
    // window/document and sets __VUE_* globals) is theirs, and happens in any app that uses them.
    const peers = Object.keys(packed.peerDependencies ?? {});
    const probe = `for (const peer of ${JSON.stringify(peers)}) await load(peer);
const browserGlobals = ['window', 'navigator', 'document', 'self', 'location', 'localStorage', 'sessionStorage', 'indexedDB'];
const touched = [];
for (const name of browserGlobals) {
  Object.defineProperty(globalThis, name, { configurable: true, get() { touched.push(name); return undefined; } });
}
const globalsBefore = new Set(Reflect.ownKeys(globalThis).map(String));
const resourcesBefore = process.getActiveResourcesInfo();
for (const entry of ${JSON.stringify(entries)}) await load(entry);
const globalsAdded = Reflect.ownKeys(globalThis).map(String).filter((key) => !globalsBefore.has(key));
const resourcesAdded = process.getActiveResourcesInfo();
for (const resource of resourcesBefore) resourcesAdded.splice(resourcesAdded.indexOf(resource), 1);
// Exit explicitly: a leaked timer is reported above instead of hanging the test.
process.stdout.write(JSON.stringify({ touched, globalsAdded, resourcesAdded }), () => process.exit(0));`;
    const script =
      format === 'esm'
        ? write('side-effects.mjs', `const load = (entry) => import(entry);\n${probe}`)
        : write(
            'side-effects.cjs',
            `const load = async (entry) => require(entry);\n(async () => {\n${probe}\n})();`,
          );
    expect(await node(script)).toStrictEqual({ touched: [], globalsAdded: [], resourcesAdded: [] });
  });

  it.each(['esm', 'cjs'] as const)(
    'errors are instanceof the one FluxyError, across entries (%s)',
    async (format) => {
      const body = `const result = { thrown: null, errorClasses: [], pluginErrors: [] };
try { core.createApp().use('missing'); } catch (error) {
  result.thrown = { instance: error instanceof core.FluxyError, error: error instanceof Error, code: error.code, is: core.isFluxyError(error, 'plugin/not-registered') };
}
for (const entry of ${JSON.stringify(entries)}) {
  const mod = await load(entry);
  for (const [name, value] of Object.entries(mod)) {
    if (typeof value === 'function' && (value === Error || value.prototype instanceof Error)) {
      result.errorClasses.push({ entry, name, fluxy: value === core.FluxyError || value.prototype instanceof core.FluxyError });
    }
    // Bad options must throw a FluxyError from the core's one class (shared chunk, no copy).
    if (typeof value === 'function' && value.prototype instanceof core.FluxyPlugin) {
      let thrown;
      try { new value(42); } catch (error) { thrown = error; }
      result.pluginErrors.push({ entry, name, fluxy: thrown instanceof core.FluxyError });
    }
  }
}
console.log(JSON.stringify(result));`;
      const script =
        format === 'esm'
          ? write(
              'errors.mjs',
              `import * as core from 'fluxy';\nconst load = (entry) => import(entry);\n${body}`,
            )
          : write(
              'errors.cjs',
              `const core = require('fluxy');\nconst load = async (entry) => require(entry);\n(async () => {\n${body}\n})();`,
            );
      const result = (await node(script)) as {
        thrown: unknown;
        errorClasses: Array<{ entry: string; name: string; fluxy: boolean }>;
        pluginErrors: Array<{ entry: string; name: string; fluxy: boolean }>;
      };
      expect(result.thrown).toStrictEqual({
        instance: true,
        error: true,
        code: 'plugin/not-registered',
        is: true,
      });
      expect(result.errorClasses).toContainEqual({ entry: packed.name, name: 'FluxyError', fluxy: true });
      for (const errorClass of result.errorClasses) {
        expect(errorClass, errorClass.name).toMatchObject({ fluxy: true });
      }
      expect(result.pluginErrors).toStrictEqual(
        result.pluginErrors.map((pluginError) => ({ ...pluginError, fluxy: true })),
      );
      // Every plugin entry (all but the core and the bindings) exports a plugin class to check.
      const bindings = [`${packed.name}/react`, `${packed.name}/dom`, `${packed.name}/vue`];
      expect(new Set(result.pluginErrors.map((pluginError) => pluginError.entry))).toStrictEqual(
        new Set(entries.filter((entry) => entry !== packed.name && !bindings.includes(entry))),
      );
    },
  );

  it('bundles for browsers with no configuration: esbuild sees no node: import from any entry', async () => {
    const { build } = await import('esbuild');
    const source = write(
      'browser-entry.mjs',
      entries
        .filter((entry) => entry !== `${packed.name}/testing`) // Node only: a real HTTP server for tests
        .map((entry, i) => `import * as e${i} from '${entry}'; console.log(e${i});`)
        .join('\n'),
    );
    const result = await build({
      entryPoints: [source],
      absWorkingDir: project,
      bundle: true,
      format: 'esm',
      platform: 'browser',
      external: ['react', 'vue'], // peers of fluxy/react and fluxy/vue, installed by their users
      write: false,
      logLevel: 'silent',
      splitting: true,
      outdir: join(project, 'out'),
    });
    expect(result.errors).toStrictEqual([]);
    const code = result.outputFiles.map((file) => file.text).join('\n');
    expect(code.match(/(?:from|import|require)\s*\(?\s*['"]node:[^'"]*['"]/g) ?? []).toStrictEqual([]);
    // The `default` branch of #file-driver (the production build: its code, not its prose).
    expect(code).toMatch(/storage\/unavailable/);
    expect(code).not.toContain('The file driver needs Node');
  });

  it('in Node, #file-driver is the real file driver (the `node` condition), from ESM and CJS', async () => {
    const body = `const { StoragePlugin } = await load('fluxy/storage');
const { createApp } = await load('fluxy');
const app = createApp();
const storage = app.register(new StoragePlugin({ driver: 'file', dir: 'data-' + format }));
await app.ready();
await storage.set('k', { v: 1 });
const files = fs.readdirSync('data-' + format + '/fluxy').filter((f) => f.endsWith('.rec')).length;
await app.dispose();
console.log(JSON.stringify({ driver: storage.driver, files }));`;
    for (const format of ['esm', 'cjs']) {
      const script =
        format === 'esm'
          ? write(
              'file-driver.mjs',
              `import fs from 'node:fs';\nconst format = 'esm';\nconst load = (e) => import(e);\n${body}`,
            )
          : write(
              'file-driver.cjs',
              `const fs = require('node:fs');\nconst format = 'cjs';\nconst load = async (e) => require(e);\n(async () => {\n${body}\n})();`,
            );
      // Two records: the key, and the database's generation (a random id written at creation).
      expect(await node(script), format).toStrictEqual({ driver: 'file', files: 2 });
    }
  });

  it('after dispose() no timer keeps the process alive: it exits by itself', async () => {
    const script = write(
      'lifecycle.mjs',
      `import { createApp } from 'fluxy';
const app = createApp();
let ticks = 0;
app.register({
  name: 'clock',
  init(ctx) {
    const timer = setInterval(() => ticks++, 5);
    ctx.onDispose(() => clearInterval(timer));
  },
});
await app.ready();
await app.dispose();
console.log(JSON.stringify({ disposed: app.disposed, timers: process.getActiveResourcesInfo().filter((r) => r === 'Timeout') }));`,
    );
    const child = spawn(process.execPath, [script], { cwd: project, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    // No timeout here: if the interval leaked the child would never exit and the test times out.
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((done) =>
      child.on('exit', (exitCode, exitSignal) => done([exitCode, exitSignal])),
    );
    expect([code, signal]).toStrictEqual([0, null]);
    expect(JSON.parse(stdout)).toStrictEqual({ disposed: true, timers: [] });
  }, 30_000);

  it('the timer check above does see a leaked interval (control)', async () => {
    const script = write(
      'leaky.mjs',
      `import { createApp } from 'fluxy';
const app = createApp();
app.register({ name: 'leaky', init() { setInterval(() => {}, 5); } });
await app.ready();
await app.dispose();
console.log(JSON.stringify({ timers: process.getActiveResourcesInfo().filter((r) => r === 'Timeout') }));
process.exit(0);`,
    );
    expect(await node(script)).toStrictEqual({ timers: ['Timeout'] });
  });

  // The three resolution modes that read `exports` (node10 does not; the README says so).
  const typeModes = {
    node16: { module: 'Node16', moduleResolution: 'Node16', files: ['consumer.mts', 'consumer.cts'] },
    nodenext: { module: 'NodeNext', moduleResolution: 'NodeNext', files: ['consumer.mts', 'consumer.cts'] },
    bundler: { module: 'ESNext', moduleResolution: 'Bundler', files: ['consumer.mts'] },
  } as const;

  it.each(Object.keys(typeModes) as Array<keyof typeof typeModes>)(
    'types: a TypeScript consumer type-checks with moduleResolution %s, including FluxyPlugins augmentation',
    async (mode) => {
      const { files, ...resolution } = typeModes[mode];
      write(
        `tsconfig.${mode}.json`,
        JSON.stringify({
          compilerOptions: {
            ...resolution,
            target: 'ES2022',
            lib: ['ES2022', 'DOM'],
            strict: true,
            noEmit: true,
            types: [],
            skipLibCheck: false,
          },
          files,
        }),
      );
      const everyEntry = entries
        .map((entry, index) => `import * as entry${index} from '${entry}';`)
        .join('\n');
      const used = entries.map((_entry, index) => `entry${index}`).join(', ');
      write(
        'consumer.mts',
        `import { createApp, FluxyError, FluxyPlugin, flux, isFluxyError, type Plugin, type ReadonlySignal } from 'fluxy';
${everyEntry}
export const entries = [${used}];

class NotesPlugin extends FluxyPlugin {
  readonly name = 'notes';
  readonly count: ReadonlySignal<number> = flux(0);
}
declare module 'fluxy' {
  interface FluxyPlugins { notes: NotesPlugin }
  interface FluxyEvents { 'notes:changed': { id: string } }
}
const app = createApp();
app.register(new NotesPlugin());
export const byName: NotesPlugin = app.use('notes');
export const byClass: NotesPlugin = app.use(NotesPlugin);
export const other: Plugin = app.use('other');
app.events.emit('notes:changed', { id: 'n1' });
// @ts-expect-error the payload of an augmented event is typed
app.events.emit('notes:changed', { id: 1 });
// @ts-expect-error a ReadonlySignal cannot be written
byName.count.value = 1;
// The plugin entries augment FluxyPlugins for their users: use('sync') is a SyncPlugin.
import type { SyncPlugin } from 'fluxy/sync';
import type { StoragePlugin } from 'fluxy/storage';
import type { ConnectivityPlugin } from 'fluxy/connectivity';
export const sync: SyncPlugin = app.use('sync');
export const storage: StoragePlugin = app.use('storage');
export const connectivity: ConnectivityPlugin = app.use('connectivity');
// @ts-expect-error use('sync') is not a StoragePlugin
export const wrong: StoragePlugin = app.use('sync');
export const failure: unknown = new FluxyError('sync/invalid-url', 'y');
// The plugin entries add their codes (FluxyErrorCodes augmentation, rewritten to 'fluxy' in dist).
if (isFluxyError(failure, 'sync/invalid-url')) {
  const code: 'sync/invalid-url' = failure.code;
  console.log(code);
}
export const storageCode: boolean = isFluxyError(failure, 'storage/quota-exceeded');
// @ts-expect-error an unknown code does not compile
isFluxyError(failure, 'sync/no-such-code');
// The guard of unreadable operations, and namespaces typed by their caller.
import { isUnreadable } from 'fluxy/sync';
export const guard: (op: Parameters<typeof isUnreadable>[0]) => boolean = isUnreadable;
export const notes = storage.namespace<{ title: string }>('notes');
// @ts-expect-error a namespace's values have the caller's type
notes.set('n1', { title: 1 });
`,
      );
      write(
        'consumer.cts',
        `import { createApp, type Plugin } from 'fluxy';
${everyEntry}
const plugin: Plugin = createApp().register({ name: 'cjs' });
export = [plugin, ${used}];
`,
      );
      const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
      const result = await run(process.execPath, [tsc, '-p', join(project, `tsconfig.${mode}.json`)], {
        cwd: project,
      }).catch((error: { stdout: string }) => ({ stdout: error.stdout }));
      expect(result.stdout).toBe('');
    },
    60_000,
  );
});

/**
 * The strings of five words or more (prose) in the JavaScript files directly in `dir`, as
 * `file: text`: string literals and the pieces of template literals, not comments.
 */
function proseIn(dir: string, skip: RegExp): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir).filter((file) => /\.c?js$/.test(file) && !skip.test(file))) {
    const visit = (node: ts.Node): void => {
      if (
        (ts.isStringLiteral(node) ||
          ts.isNoSubstitutionTemplateLiteral(node) ||
          ts.isTemplateLiteralToken(node)) &&
        node.text.trim().split(/\s+/).length >= 5
      ) {
        found.push(`${name}: ${node.text}`);
      }
      ts.forEachChild(node, visit);
    };
    const text = readFileSync(join(dir, name), 'utf8');
    visit(ts.createSourceFile(name, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS));
  }
  return found;
}

describe('the production build carries error codes, not prose (DESIGN "Package")', () => {
  // fluxy/testing keeps its prose (FaultServer answers it as JSON), and so does the file driver:
  // Node-only (the `node` condition of #file-driver), it is the one the development build loads.
  const kept = /^(testing|file-driver)\.c?js$/;

  it('no string of five words or more in dist/*.js and dist/*.cjs; dist/dev has the messages', () => {
    const dist = join(project, 'node_modules', 'fluxy', 'dist');
    expect(proseIn(dist, kept)).toStrictEqual([]);
    // Calibration: the same scan finds the development build's messages, these two among them
    // (a binary body's read failure, a sync.read() GET without an answer: missed once).
    const development = proseIn(join(dist, 'dev'), kept);
    expect(development.length).toBeGreaterThan(200);
    for (const message of [
      '); nothing was stored. A File changed or removed on disk since it was picked cannot be read: pick it again.',
      ' timed out or was aborted.',
    ]) {
      expect(
        development.some((found) => found.endsWith(`: ${message}`)),
        message,
      ).toBe(true);
    }
  });
});
