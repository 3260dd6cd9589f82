// The localStorage fallback, in real Chromium (IndexedDB on disk, real Web Locks) against the
// reference server. A run whose IndexedDB cannot be opened falls back to localStorage; what it
// queued there is merged into IndexedDB at the next start where IndexedDB opens, and sent then,
// once each. A tab still running on the fallback holds it back (Web Lock `fluxy-fallback:<name>`).
//
// The fault: an init script of that page only makes `indexedDB.open()` throw, as a browser whose
// IndexedDB is broken does (Firefox private windows before 115, a corrupt profile).
import type { Page } from 'playwright-core';
import { expect, test } from 'vitest';
import {
  addNote,
  goOffline,
  type Harness,
  harnessPerTest,
  openApp,
  serverLog,
  setBrowserOffline,
  statusBar,
  testQuery,
  titlesOnScreen,
  waitForPending,
  waitForServiceWorker,
} from './harness.js';

let harness: Harness;
harnessPerTest((started) => {
  harness = started;
});

/** The storage name the notes app uses, and the key a fallback marks it with. */
const marker = 'fluxy:fallback:fluxy-notes';

/** The notes app in a new tab whose IndexedDB cannot be opened: it runs on localStorage. */
async function openOnFallback(): Promise<Page> {
  const page = await harness.context.newPage();
  await recordNetwork(page);
  await page.addInitScript(() => {
    IDBFactory.prototype.open = () => {
      throw new DOMException('IndexedDB made unavailable by the test', 'UnknownError');
    };
  });
  await openApp(harness, testQuery, page);
  // The tabs opened next load offline: from the shell the service worker has cached.
  await waitForServiceWorker(page);
  return page;
}

/** What a tab reports of its storage, and whether the fallback's marker is in localStorage. */
function storageFacts(page: Page): Promise<{ driver: string | undefined; marked: boolean }> {
  return page.evaluate((key) => {
    const { storage } = (globalThis as unknown as { fluxyNotes: { storage: { driver: string | undefined } } })
      .fluxyNotes;
    return { driver: storage.driver, marked: localStorage.getItem(key) !== null };
  }, marker);
}

/**
 * Diagnostics for the "nothing sent while offline" checks: what a tab saw of the network
 * (`navigator.onLine` when its document started, then each online/offline event), read with
 * `networkSeen`. A failure then tells a browser that was not offline from a send while offline.
 */
async function recordNetwork(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const start = performance.now();
    const seen = [`start onLine=${navigator.onLine}`];
    (globalThis as unknown as { networkSeen: string[] }).networkSeen = seen;
    for (const type of ['online', 'offline']) {
      addEventListener(type, () => seen.push(`${type} at ${Math.round(performance.now() - start)} ms`));
    }
  });
}

function networkSeen(page: Page): Promise<string> {
  return page.evaluate(() => {
    const { networkSeen = [], fluxyNotes } = globalThis as unknown as {
      networkSeen?: string[];
      fluxyNotes?: { connectivity?: { reason?: { value: string } } };
    };
    return `${networkSeen.join(', ')}; connectivity reason now: ${fluxyNotes?.connectivity?.reason?.value}`;
  });
}

/** The POSTs of new notes the server received, by title, in order. */
async function postedTitles(): Promise<string[]> {
  const log = await serverLog(harness);
  return log
    .filter((entry) => entry.method === 'POST' && entry.path === '/api/notes')
    .map((entry) => (entry.body as { title: string }).title);
}

test('notes written on the localStorage fallback are merged at the next start on IndexedDB and sent once each, in order', async () => {
  const fallback = await openOnFallback();
  expect(await storageFacts(fallback)).toEqual({ driver: 'localstorage', marked: true });
  // Online first (its probe answered), so that going offline is a change the tab sees.
  await expect
    .poll(() => statusBar(fallback).connection.textContent(), { message: 'the bar online' })
    .toBe('Online');
  await goOffline(harness, fallback);
  await addNote(fallback, 'fallback one');
  await addNote(fallback, 'fallback two');
  await waitForPending(fallback, 2);
  const fallbackSaw = await networkSeen(fallback);
  await fallback.close();

  // The next start: IndexedDB opens; the fallback's queue is merged before ready() (still offline).
  const next = await harness.context.newPage();
  await recordNetwork(next);
  const page = await openApp(harness, testQuery, next);
  expect(await storageFacts(page)).toEqual({ driver: 'indexeddb', marked: false });
  await waitForPending(page, 2);
  expect(await titlesOnScreen(page)).toEqual(['fallback two', 'fallback one']);
  const sentOffline = await postedTitles();
  expect(
    sentOffline,
    `sent while the browser was offline. Fallback tab saw: ${fallbackSaw}. Next tab saw: ${await networkSeen(page)}. Server: ${harness.requests.join(' | ')}`,
  ).toEqual([]);

  await setBrowserOffline(harness.context, false);
  await waitForPending(page, 0);
  await expect
    .poll(postedTitles, { timeout: 15_000, interval: 50, message: 'both notes posted' })
    .toEqual(['fallback one', 'fallback two']);

  // Reloaded: nothing left to merge, nothing sent again.
  await openApp(harness, testQuery, page);
  await waitForPending(page, 0);
  expect(await storageFacts(page)).toEqual({ driver: 'indexeddb', marked: false });
  expect(await postedTitles()).toEqual(['fallback one', 'fallback two']);
});

test('a tab still running on the fallback holds the merge back (Web Lock); once it is closed, the next start merges', async () => {
  const fallback = await openOnFallback();
  await goOffline(harness, fallback);
  await addNote(fallback, 'kept on the fallback');
  await waitForPending(fallback, 1);

  // Another tab starts on IndexedDB while the fallback's tab runs: it merges nothing.
  const other = await openApp(harness);
  expect(await storageFacts(other)).toEqual({ driver: 'indexeddb', marked: true });
  await waitForPending(other, 0);
  expect(await titlesOnScreen(other)).toEqual([]);

  await fallback.close();
  // A closed tab's locks are released by the browser a moment later: wait for it.
  await expect
    .poll(
      () =>
        other.evaluate(async (name) => {
          const { held = [], pending = [] } = await navigator.locks.query();
          return [...held, ...pending].some((lock) => lock.name === name);
        }, `fluxy-fallback:fluxy-notes`),
      { timeout: 10_000, interval: 50, message: "the closed tab's fallback lock released" },
    )
    .toBe(false);
  await openApp(harness, testQuery, other);
  expect(await storageFacts(other)).toEqual({ driver: 'indexeddb', marked: false });
  await waitForPending(other, 1);

  await setBrowserOffline(harness.context, false);
  await waitForPending(other, 0);
  await expect
    .poll(postedTitles, { timeout: 15_000, interval: 50, message: 'the note posted' })
    .toEqual(['kept on the fallback']);
});
