import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { MANGLED, mangleProblems, mangleProps } from '../../scripts/mangle.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('internal names shortened by the builds (scripts/mangle.mjs)', () => {
  it('lists only names that are never strings in src/ nor names of the platform or a dependency', () => {
    expect(MANGLED.length).toBeGreaterThan(30);
    expect(mangleProblems(root)).toStrictEqual([]);
  });

  it('the check is calibrated: a platform name, a name written as a string, an export, an unused name, a name the file driver uses are refused', () => {
    const listed = [...MANGLED];
    try {
      (MANGLED as string[]).push(
        'postMessage',
        'unreadable',
        'stageChunkRemoval',
        'notAnInternalNameAnywhere',
        'onGone',
      );
      expect(mangleProblems(root)).toStrictEqual([
        'postMessage is a name of the platform or of a dependency',
        'unreadable is written as a string in src/',
        'stageChunkRemoval is exported by a module of src/',
        'notAnInternalNameAnywhere is not used in src/',
        // dist/dev calls the production file driver's methods by their names.
        'onGone crosses the #file-driver boundary (dist/dev loads the production file driver)',
      ]);
    } finally {
      (MANGLED as string[]).splice(0, MANGLED.length, ...listed);
    }
  });

  it('shortens exactly the listed names, consistently across the lazy chunks', async () => {
    const result = await build({
      absWorkingDir: root,
      entryPoints: ['src/plugins/sync/index.ts'],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      splitting: true,
      outdir: 'mangle-out',
      write: false,
      packages: 'external',
      external: ['#file-driver', 'node:*'],
      mangleProps,
      logLevel: 'silent',
    });
    const text = result.outputFiles.map((file) => file.text).join('\n');
    for (const name of ['stageRemoval', 'loadTempIds', 'referencesIn']) expect(text).not.toMatch(`.${name}(`);
    // Public and stored names stay as written.
    for (const name of ['pendingCount', 'idempotencyKey', 'nextAttemptAt', 'tempId'])
      expect(text).toContain(name);
  });
});
