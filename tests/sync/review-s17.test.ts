// Sync as a new user tries it (review, session 17): what the docs say of the production build.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { stripProse } from '../../scripts/strip-prose.mjs';

describe('an operation error in the production build', () => {
  it("has the code and the status, and '' as its message (docs/sync.md, README: show code or status)", async () => {
    // The README's failed handler once showed `Could not save: ${error.message}`: an empty toast
    // in production. What the docs now say: the prose is the development build's only.
    const path = new URL('../../src/plugins/sync/transport.ts', import.meta.url).pathname;
    const production = stripProse(await readFile(path, 'utf8'), path);
    expect(production).toContain("return { code: 'sync/http-error', message: '', status, at };");
    // (sync/network-error, sync/timeout, sync/headers-failed: one error, its code from the kind.)
    expect(production).toMatch(
      /code: `sync\/\$\{result\.kind === 'network' \? 'network-error' : result\.kind\}`,\s+(\/\/.*\s+)*message: '',\s+at,/,
    );
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).not.toMatch(/\$\{error\.message\}/);
  });
});
