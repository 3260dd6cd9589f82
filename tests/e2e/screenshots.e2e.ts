// 5. The app in each state — offline with pending changes, syncing, synced, a change refused
// with Retry/Discard — checked through the DOM and saved as screenshots to test-results/e2e
// (git-ignored). `UPDATE_SCREENSHOTS=1 node tests/e2e/run.mjs tests/e2e/screenshots.e2e.ts`
// also writes them to docs/screenshots, the images docs/examples.md and the README show.
import { expect, test } from 'vitest';
import {
  addNote,
  editNote,
  goOnlineAfterPull,
  type Harness,
  harnessPerTest,
  injectFaults,
  noteRow,
  openApp,
  resumeSending,
  screenshot,
  serverLog,
  setBrowserOffline,
  statusBar,
  waitForPending,
} from './harness.js';

let harness: Harness;
harnessPerTest((started) => {
  harness = started;
});

test('screenshots: offline with pending, syncing, synced, failed with Retry/Discard', async () => {
  const page = await openApp(harness);
  const bar = statusBar(page);

  // Offline, with changes waiting.
  await setBrowserOffline(harness.context, true);
  await addNote(page, 'Groceries', 'milk, eggs, bread');
  await addNote(page, 'Call Ada', 'about the conference');
  await addNote(page, 'Book flights');
  await editNote(page, 'Groceries', 'Groceries for Sunday', 'milk, eggs, bread, coffee');
  await waitForPending(page, 4);
  await expect
    .poll(() => bar.status.textContent(), { message: 'the bar: 4 items waiting' })
    .toBe('Offline: 4 items will sync when back online');
  await screenshot(page, 'offline-pending');

  // Syncing: the server takes its time with the first write (queued once the reconnect pull is
  // done, so that the pull does not take it).
  await goOnlineAfterPull(harness, page);
  await injectFaults(harness, [{ delayMs: 2500 }]);
  await resumeSending(page);
  await expect
    .poll(() => page.getByTestId('status-bar').getAttribute('data-status'), { message: 'the bar syncing' })
    .toBe('syncing');
  await expect
    .poll(() => bar.status.textContent(), { message: 'the bar: syncing 4 items' })
    .toBe('Syncing 4 items…');
  await page.getByTestId('sync-progress').waitFor({ timeout: 10_000 });
  await screenshot(page, 'syncing');

  // Synced.
  await waitForPending(page, 0);
  await expect.poll(() => bar.status.textContent(), { message: 'the bar synced' }).toBe('All changes synced');
  await expect
    .poll(
      async () =>
        (await page.getByTestId('note-state').allTextContents()).every((s) => s.startsWith('saved')),
      { message: 'every note saved' },
    )
    .toBe(true);
  await screenshot(page, 'synced');

  // Refused: the server answers 422 to the next create. The note is rolled back and the change
  // waits in the failed list with Retry and Discard.
  await injectFaults(harness, [{ status: 422 }]);
  await page.getByTestId('new-note-title').fill('Plan the trip');
  await page.getByTestId('add-note').click();
  const failed = page.getByTestId('failed-op');
  await failed.waitFor({ timeout: 10_000 });
  expect(await failed.textContent()).toContain('Create “Plan the trip”');
  expect(await failed.textContent()).toContain('HTTP 422');
  await failed.getByTestId('retry-op').waitFor({ timeout: 10_000 });
  await failed.getByTestId('discard-op').waitFor({ timeout: 10_000 });
  await expect.poll(() => bar.failed.textContent(), { message: '1 failed' }).toBe('1');
  await noteRow(page, 'Plan the trip').waitFor({ state: 'detached', timeout: 10_000 });
  await page.getByTestId('notice').waitFor({ timeout: 10_000 });
  // The bar shows the refusal too: its warning state, with Retry and Discard.
  await expect.poll(() => bar.status.textContent(), { message: 'bar text' }).toBe('1 change was refused');
  await expect
    .poll(() => page.getByTestId('status-bar').getAttribute('data-state'), { message: 'bar state' })
    .toBe('refused');
  await page.getByTestId('retry-all').waitFor({ timeout: 5_000 });
  await screenshot(page, 'failed');

  // Retry sends it again (with a new key generation, since the refusal was stored): it succeeds.
  await failed.getByTestId('retry-op').click();
  await failed.waitFor({ state: 'detached', timeout: 10_000 });
  await noteRow(page, 'Plan the trip').waitFor({ timeout: 10_000 });
  await expect.poll(() => bar.failed.textContent(), { message: '0 failed after Retry' }).toBe('0');
  await waitForPending(page, 0);
  const log = await serverLog(harness);
  expect(log.map((entry) => (entry.body as { title?: string } | null)?.title)).toEqual([
    'Groceries',
    'Call Ada',
    'Book flights',
    'Groceries for Sunday',
    'Plan the trip',
  ]);
  expect(log.at(-1)?.key).toMatch(/\.1$/);
});
