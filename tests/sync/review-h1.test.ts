import { readdir, readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { stripProse } from '../../scripts/strip-prose.mjs';
import type { FetchFunction } from '../../src/plugins/sync/index.js';
import { createTestApp, type TestApp, type TestAppOptions } from '../../src/testing/index.js';
import { silentLogger } from './harness.js';

// Regressions for the defects left open by session 14 in fluxy/sync (each test failed before its fix).

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function testApp(options: TestAppOptions): Promise<TestApp> {
  const t = await createTestApp({ app: { logger: silentLogger }, ...options });
  cleanups.push(() => t.dispose());
  return t;
}

describe('read() and the headers option', () => {
  it('checks what a headers function returns as the queue does: headers-failed (cause invalid-headers), nothing sent', async () => {
    let result: unknown;
    const fetch = vi.fn<FetchFunction>(
      async () => new Response('{}', { headers: { 'Content-Type': 'application/json' } }),
    );
    const t = await testApp({
      sync: { baseUrl: 'http://127.0.0.1:9', fetch, headers: () => result as Record<string, string> },
    });
    for (const bad of [
      { 'X-Count': 42 }, // sent as "42" before the fix
      { 'X-A': { toString: () => 'x' } },
      { 'X-A': '1', 'x-a': '2' }, // merged into "1, 2" before
      { 'Idempotency-Key': 'mine' },
      null, // read as "no headers" before; the queue refuses it
      'abc',
      42,
    ]) {
      result = bad;
      const error = await t.sync.read('/notes').then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error, JSON.stringify(bad)).toMatchObject({
        code: 'sync/headers-failed',
        cause: { code: 'sync/invalid-headers' },
      });
    }
    expect(fetch).not.toHaveBeenCalled();
    // What is valid is still sent: credentials belong here, undefined means none.
    for (const good of [{ Authorization: 'Bearer t' }, undefined, {}]) {
      result = good;
      expect((await t.sync.read('/notes')).status).toBe(200);
    }
    expect(fetch).toHaveBeenCalledTimes(3);
    expect(new Headers(fetch.mock.calls[0]?.[1]?.headers).get('Authorization')).toBe('Bearer t');
  });
});

describe('the production build', () => {
  it('leaves no log line of src/ with nothing but an empty message', async () => {
    // Before the fix: the engine's line for an unreadable record was logger.error('') in dist/.
    const root = new URL('../../src/', import.meta.url);
    const empty: string[] = [];
    for (const folder of ['plugins', 'core', 'bindings', 'testing']) {
      const files = (await readdir(new URL(folder, root), { recursive: true })) as string[];
      for (const file of files.filter((name) => name.endsWith('.ts'))) {
        const path = new URL(`${folder}/${file}`, root).pathname;
        const stripped = stripProse(await readFile(path, 'utf8'), path);
        for (const [call] of stripped.matchAll(/\.(?:warn|error|info|debug)\(\s*(?:''|"")\s*,?\s*\)/g))
          empty.push(`${folder}/${file}: ${call}`);
      }
    }
    expect(empty).toStrictEqual([]);
  });
});
