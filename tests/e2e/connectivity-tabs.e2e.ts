// Two tabs of the notes app while the network is down behind a browser that still says online
// (Wi-Fi without internet: `navigator.onLine` stays true; every request to the server fails). Only
// one tab sends the queue; the other sends nothing, so nothing of its own ever fails — it learns
// of the outage from the tab that does (connectivity's BroadcastChannel), and of the way back too.
import type { Page, Route } from 'playwright-core';
import { expect, test } from 'vitest';
import { addNote, type Harness, harnessPerTest, openApp, statusBar, waitForPending } from './harness.js';

let harness: Harness;
harnessPerTest((started) => {
  harness = started;
});

const bar = (page: Page, label: string, text: string) =>
  expect
    .poll(() => statusBar(page).connection.textContent(), { message: `${label}: ${text}`, timeout: 15_000 })
    .toBe(text);

test('the network down behind navigator.onLine: both tabs say Offline, then Online, and the change is sent once', async () => {
  const first = await openApp(harness);
  const second = await openApp(harness);
  await bar(first, 'first tab', 'Online');
  await bar(second, 'second tab', 'Online');

  // The far end is gone for the API and the probe (the app's files are loaded already).
  const down = (route: Route) => route.abort('internetdisconnected');
  const api = (url: URL) => url.pathname === '/health' || url.pathname.startsWith('/api/');
  await harness.context.route(api, down);

  // A change in the second tab: one tab sends it (the one holding the lock), and that fails.
  await addNote(second, 'Written in the outage');
  await bar(first, 'first tab', 'Offline');
  await bar(second, 'second tab', 'Offline');
  expect(await first.evaluate(() => navigator.onLine)).toBe(true);
  expect(await second.evaluate(() => navigator.onLine)).toBe(true);

  // Back: the first probe that answers, in whichever tab, brings both back, and the change goes.
  await harness.context.unroute(api, down);
  await bar(first, 'first tab', 'Online');
  await bar(second, 'second tab', 'Online');
  await waitForPending(first, 0);
  await waitForPending(second, 0);
  const posts = harness.requests.filter((line) => line.startsWith('POST /api/notes '));
  expect(posts, harness.requests.join('\n')).toHaveLength(1);
});
