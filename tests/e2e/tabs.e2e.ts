// 3. Three tabs of the app queue offline; back online, exactly one request per operation leaves
// the browser (one tab sends, holding the Web Lock), and every tab ends with 0 pending.
import type { Page } from 'playwright-core';
import { expect, test } from 'vitest';
import {
  addNote,
  editNote,
  type Harness,
  harnessPerTest,
  openApp,
  pendingOperations,
  serverLog,
  setBrowserOffline,
  titlesOnScreen,
  waitForPending,
} from './harness.js';

let harness: Harness;
harnessPerTest((started) => {
  harness = started;
});

test('three tabs offline → online: one request per operation, no duplicates, every tab at 0 pending', async () => {
  const tabs: Page[] = [];
  for (let n = 0; n < 3; n++) tabs.push(await openApp(harness));

  // Every mutating request that leaves the browser, from any tab, with its Idempotency-Key.
  const requests: Array<{ key: string; tab: number }> = [];
  harness.context.on('request', (request) => {
    if (request.method() === 'GET' || !new URL(request.url()).pathname.startsWith('/api/notes')) return;
    requests.push({
      key: request.headers()['idempotency-key'] ?? '(none)',
      tab: tabs.indexOf(request.frame().page()),
    });
  });

  await setBrowserOffline(harness.context, true);
  await Promise.all(
    tabs.map(async (tab, n) => {
      await addNote(tab, `Tab ${n} first`);
      await addNote(tab, `Tab ${n} second`);
      await editNote(tab, `Tab ${n} first`, `Tab ${n} first (edited)`);
    }),
  );
  for (const tab of tabs) await waitForPending(tab, 9); // one shared queue, seen by every tab
  const queued = await pendingOperations(tabs[0] as Page);
  expect(queued).toHaveLength(9);
  // Every tab shows every tab's notes (from the shared queue).
  for (const tab of tabs)
    await expect
      .poll(async () => (await titlesOnScreen(tab)).length, { message: 'six notes in this tab' })
      .toBe(6);
  expect(requests).toEqual([]);

  await setBrowserOffline(harness.context, false);
  for (const tab of tabs) await waitForPending(tab, 0);

  const log = await serverLog(harness);
  const keys = log.map((entry) => entry.key);
  expect(new Set(keys).size).toBe(9);
  expect(keys).toEqual(queued.map((op) => op.id)); // applied once each, in queue order

  // Exactly one request per operation reached the network, all from one tab (the lock holder).
  expect(requests.map((request) => request.key).sort()).toEqual(queued.map((op) => op.id).sort());
  expect(new Set(requests.map((request) => request.tab)).size).toBe(1);

  // Each tab's own operations kept their order: create, create, edit.
  for (let n = 0; n < 3; n++) {
    const own = log.filter((entry) => JSON.stringify(entry.body ?? '').includes(`Tab ${n} `));
    expect(own.map((entry) => `${entry.method} ${(entry.body as { title: string }).title}`)).toEqual([
      `POST Tab ${n} first`,
      `POST Tab ${n} second`,
      `PATCH Tab ${n} first (edited)`,
    ]);
  }

  // Every tab ends with the server's copies of all six notes, and the status bar says so.
  for (const tab of tabs) {
    await expect
      .poll(() => tab.getByTestId('sync-status').textContent(), { message: 'this tab synced' })
      .toBe('All changes synced');
    await expect
      .poll(
        async () =>
          (await tab.getByTestId('note-state').allTextContents()).filter((s) => s.startsWith('saved')).length,
        { message: 'six notes saved in this tab' },
      )
      .toBe(6);
  }
});
