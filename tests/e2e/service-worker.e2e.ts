// 7. The notes app's service worker (examples/notes/sw.js): served from the root so it controls
// the whole app, it caches the shell under the build's hash, a new build replaces that cache,
// and it never answers for the API or the connectivity probe.
import { appendFile, cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { expect, test } from 'vitest';
import { NOTES_DIST } from '../../examples/notes/build.mjs';
import { createServer } from '../../examples/server/server.mjs';
import {
  type Harness,
  harnessPerTest,
  openApp,
  setBrowserOffline,
  waitForApp,
  waitForServiceWorker,
} from './harness.js';

let harness: Harness;
harnessPerTest((started) => {
  harness = started;
});

/** The build hash that build.mjs wrote into sw.js. */
function buildVersion(source: string): string {
  const match = /^const BUILD = \{"version":"([0-9a-f]{12})","shell":\[.*\]\};$/m.exec(source);
  if (!match?.[1]) throw new Error('sw.js has no filled-in BUILD line');
  return match[1];
}

function cacheNames(page: Page): Promise<string[]> {
  return page.evaluate(() => caches.keys());
}

test('sw.js is served from the root as JavaScript, revalidated on every load, and controls the app', async () => {
  const response = await fetch(`${harness.server.url}/sw.js`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
  expect(response.headers.get('cache-control')).toBe('no-cache');
  const source = await response.text();
  expect(source).toContain('"shell":["index.html","main.js","styles.css"]');

  const page = await openApp(harness);
  expect(await waitForServiceWorker(page)).toBe(`${harness.server.url}/sw.js`);
  expect(await page.evaluate(async () => (await navigator.serviceWorker.ready).scope)).toBe(
    `${harness.server.url}/`,
  );
  expect(await cacheNames(page)).toEqual([`fluxy-notes-shell-${buildVersion(source)}`]);

  // The API and the probe are answered by the server, never from the worker's cache: offline,
  // they fail, while the shell still loads.
  await setBrowserOffline(harness.context, true);
  const offline = await page.evaluate(async () => {
    const outcome = (url: string) =>
      fetch(url).then(
        (answer) => `HTTP ${answer.status}`,
        () => 'network error',
      );
    return {
      health: await outcome('/health'),
      api: await outcome('/api/notes'),
      styles: await outcome('/styles.css'),
    };
  });
  expect(offline).toEqual({ health: 'network error', api: 'network error', styles: 'HTTP 200' });
});

test('a new build replaces the cached shell: the new worker takes over and deletes the old cache', async () => {
  // A copy of the built app, served by a second server, so this test can "rebuild" it.
  const dir = await mkdtemp(join(tmpdir(), 'fluxy-e2e-build-'));
  await cp(NOTES_DIST, dir, { recursive: true });
  const server = await createServer({ port: 0, dataFile: null, staticDir: dir });
  try {
    const page = await openApp({ ...harness, server });
    await waitForServiceWorker(page);
    const worker = join(dir, 'sw.js');
    const source = await readFile(worker, 'utf8');
    expect(await cacheNames(page)).toEqual([`fluxy-notes-shell-${buildVersion(source)}`]);

    // The rebuild: a changed stylesheet, and the sw.js that build.mjs writes for it (a new hash).
    await appendFile(join(dir, 'styles.css'), '\n/* rebuilt */\n');
    const next = '0123456789ab';
    await writeFile(worker, source.replace(/"version":"[0-9a-f]{12}"/, `"version":"${next}"`));

    // The browser finds the new sw.js (as it does on each navigation); it installs and, once
    // activated (old caches deleted), controls the open page.
    const controlled = await page.evaluate(async () => {
      const registration = await navigator.serviceWorker.ready;
      const activated = new Promise<ServiceWorker>((resolve) => {
        registration.addEventListener(
          'updatefound',
          () => {
            const worker = registration.installing as ServiceWorker;
            worker.addEventListener('statechange', () => {
              if (worker.state === 'activated') resolve(worker);
            });
          },
          { once: true },
        );
      });
      await registration.update();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const worker = await Promise.race([
        activated,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error('timed out after 15000 ms: the new service worker activated')),
            15_000,
          );
        }),
      ]).finally(() => clearTimeout(timer));
      return navigator.serviceWorker.controller === worker;
    });
    expect(controlled).toBe(true);
    expect(await cacheNames(page)).toEqual([`fluxy-notes-shell-${next}`]);

    // Offline, the reloaded page gets the new files, from the new cache.
    await setBrowserOffline(harness.context, true);
    await page.reload();
    await waitForApp(page);
    const styles = await page.evaluate(async () => (await fetch('/styles.css')).text());
    expect(styles).toContain('/* rebuilt */');
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
