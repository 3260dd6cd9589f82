// 6. Rollback after a permanent failure that arrives after a reload: changes made offline are
// refused for good (422) by the server only once the page has been reloaded. The reloaded page
// rolls them back — the new note disappears, the renamed note shows the server's title again —
// and lists them as refused, with Retry and Discard. The server applied none of them.
//
// Offline as in offline-reload.e2e.ts: Chromium's offline switch, on from the first change until
// after the reload, which the app's service worker serves from its cache.
import { expect, test } from 'vitest';
import {
  addNote,
  editNote,
  goOnlineAfterPull,
  type Harness,
  harnessPerTest,
  injectFaults,
  noteId,
  openApp,
  queuedFaults,
  resumeSending,
  serverLog,
  setBrowserOffline,
  statusBar,
  titlesOnScreen,
  waitForApp,
  waitForPending,
  waitForServiceWorker,
} from './harness.js';

let harness: Harness;
harnessPerTest((started) => {
  harness = started;
});

test('rollback after a permanent failure that arrives after a reload', async () => {
  const page = await openApp(harness);
  const bar = statusBar(page);
  await expect.poll(() => bar.connection.textContent(), { message: 'the bar online' }).toBe('Online');
  await waitForServiceWorker(page); // the shell is cached: the page can now load offline

  // Note A is created online and saved: the server's copy is stored.
  await addNote(page, 'Plan A', 'first draft');
  await waitForPending(page, 0);
  await expect
    .poll(() => page.getByTestId('note-state').allTextContents(), { message: 'note A saved' })
    .toEqual([`saved · ${noteId(harness, 1)}`]);

  // Offline: rename A, create B.
  await setBrowserOffline(harness.context, true);
  await expect.poll(() => bar.connection.textContent(), { message: 'the bar offline' }).toBe('Offline');
  await editNote(page, 'Plan A', 'Plan A (renamed)');
  await addNote(page, 'Note B', 'made offline');
  await waitForPending(page, 2);
  expect(await titlesOnScreen(page)).toEqual(['Note B', 'Plan A (renamed)']);

  // Reload, still offline: both changes are still shown, still pending.
  await page.reload();
  await waitForApp(page);
  await expect
    .poll(() => bar.connection.textContent(), { message: 'the bar offline after the reload' })
    .toBe('Offline');
  await waitForPending(page, 2);
  expect(await titlesOnScreen(page)).toEqual(['Note B', 'Plan A (renamed)']);
  expect(await page.getByTestId('note-state').allTextContents()).toEqual(['saving…', 'saving…']);

  // Back online (sending held until the reconnect pull is done, so the faults meet the writes);
  // the server will refuse both writes for good.
  await goOnlineAfterPull(harness, page);
  await injectFaults(harness, [{ status: 422 }, { status: 422 }]);
  await resumeSending(page);

  // The reloaded page rolls both back: B is gone, A shows the server's title again.
  await waitForPending(page, 0);
  await expect.poll(() => bar.failed.textContent(), { message: '2 failed' }).toBe('2');
  await expect
    .poll(() => titlesOnScreen(page), { message: 'the new note removed, the rename undone' })
    .toEqual(['Plan A']);
  await expect
    .poll(() => page.getByTestId('note-state').allTextContents(), { message: 'note A saved again' })
    .toEqual([`saved · ${noteId(harness, 1)}`]);
  expect(await page.getByTestId('note-body').allTextContents()).toEqual(['first draft']);

  // …and lists the two refused changes, oldest first, each with Retry and Discard.
  const failed = page.getByTestId('failed-op');
  await expect.poll(() => failed.count(), { message: 'both refused changes listed' }).toBe(2);
  const labels = await failed.allTextContents();
  expect(labels[0]).toContain('Edit “Plan A (renamed)”');
  expect(labels[1]).toContain('Create “Note B”');
  for (const label of labels) expect(label).toContain('HTTP 422');
  expect(await failed.getByTestId('retry-op').count()).toBe(2);
  expect(await failed.getByTestId('discard-op').count()).toBe(2);
  // The notice comes from the rollback, which ran in the reloaded page.
  await expect
    .poll(() => page.getByTestId('notice').textContent(), { message: "the refusal's notice" })
    .toContain('was refused (HTTP 422)');
  // The bar says so too, in its warning state, with Retry and Discard for all of them.
  await expect.poll(() => bar.status.textContent(), { message: 'bar text' }).toBe('2 changes were refused');
  await expect
    .poll(() => page.getByTestId('status-bar').getAttribute('data-state'), { message: 'bar state' })
    .toBe('refused');
  await page.getByTestId('refused-actions').getByTestId('retry-all').waitFor({ timeout: 5_000 });
  await page.getByTestId('refused-actions').getByTestId('discard-all').waitFor({ timeout: 5_000 });

  // Both faults were used, and the server applied only A's original create.
  expect(await queuedFaults(harness)).toEqual([]);
  const log = await serverLog(harness);
  expect(log.map((entry) => `${entry.method} ${entry.path}`)).toEqual(['POST /api/notes']);
  expect((log[0]?.body as { title?: string } | null)?.title).toBe('Plan A');
  const notes = (await (await fetch(`${harness.server.url}/api/notes`)).json()) as Array<{ title: string }>;
  expect(notes.map((note) => note.title)).toEqual(['Plan A']);
});
