// 1. Offline edits survive a reload and reach the server once each, in order.
//
// Offline for real: Chromium's own offline switch (`context.setOffline(true)`: navigator.onLine
// is false, every request from the page fails) stays on from the first change to after the
// reload. The reload works because the app's service worker serves its shell from its cache;
// it never touches /api or /health, so the app still sees that the server cannot be reached.
// No request reaches the server until the switch goes off, which the server's log checks.
import type { Page } from 'playwright-core';
import { expect, test } from 'vitest';
import {
  addNote,
  deleteNote,
  editNote,
  type Harness,
  harnessPerTest,
  noteId,
  openApp,
  pendingOperations,
  rowsOnScreen,
  serverLog,
  setBrowserOffline,
  statusBar,
  titlesOnScreen,
  waitForApp,
  waitForPending,
  waitForServiceWorker,
} from './harness.js';

let harness: Harness;

/** `title · state` of each note on screen, top to bottom. */
async function titlesAndStates(page: Page): Promise<string[]> {
  return (await rowsOnScreen(page)).map((row) => `${row.title} · ${row.state}`);
}
harnessPerTest((started) => {
  harness = started;
});

test('the origin is a secure context: WebCrypto and Web Locks are there, so one tab flushes', async () => {
  const page = await openApp(harness);
  const facts = await page.evaluate(() => ({
    secure: isSecureContext,
    subtle: typeof crypto.subtle?.importKey === 'function',
    locks: typeof navigator.locks?.request === 'function',
    coordination: (globalThis as unknown as { fluxyNotes: { sync: { coordination?: string } } }).fluxyNotes
      .sync.coordination,
  }));
  expect(facts).toEqual({ secure: true, subtle: true, locks: true, coordination: 'web-locks' });
});

test('offline: create, edit, delete → reload → all still there → online → each change applied once, in order', async () => {
  const page = await openApp(harness);
  const bar = statusBar(page);
  await expect.poll(() => bar.connection.textContent(), { message: 'the bar online' }).toBe('Online');
  await waitForServiceWorker(page); // the shell is cached: the page can now load offline

  await setBrowserOffline(harness.context, true);
  await expect.poll(() => bar.connection.textContent(), { message: 'the bar offline' }).toBe('Offline');

  await addNote(page, 'Groceries', 'milk, eggs');
  await addNote(page, 'Call Ada');
  await editNote(page, 'Groceries', 'Groceries for Sunday', 'milk, eggs, bread');
  await deleteNote(page, 'Call Ada');
  await addNote(page, 'Book flights');
  await waitForPending(page, 5);
  // The deleted note stays on screen, marked, until its deletion is sent.
  const offlineRows = ['Book flights · saving', 'Call Ada · deleting', 'Groceries for Sunday · saving'];
  await expect
    .poll(() => titlesAndStates(page), { message: 'the offline rows on screen' })
    .toEqual(offlineRows);
  await expect
    .poll(() => bar.status.textContent(), { message: 'the bar: 5 items waiting' })
    .toBe('Offline: 5 items will sync when back online');
  // Why nothing is sent, in plain words.
  const unreachable =
    "Can't reach the server — your changes are saved on this device and will be sent when it's back.";
  await expect
    .poll(() => page.getByTestId('last-error').textContent(), { message: 'the offline explanation' })
    .toBe(unreachable);

  // The enqueue order, and the Idempotency-Key each operation will carry.
  const queued = await pendingOperations(page);
  expect(queued.map((op) => `${op.method} ${op.url.replace(/tmp_\w+/, 'tmp')}`)).toEqual([
    'POST /notes',
    'POST /notes',
    'PATCH /notes/tmp',
    'DELETE /notes/tmp',
    'POST /notes',
  ]);

  // Reload, still offline: the service worker serves the page, IndexedDB still holds the queue.
  await page.reload();
  await waitForApp(page);
  expect(await page.evaluate(() => navigator.onLine)).toBe(false);
  await expect
    .poll(() => bar.connection.textContent(), { message: 'the bar offline after the reload' })
    .toBe('Offline');
  await waitForPending(page, 5);
  await expect
    .poll(() => titlesAndStates(page), { message: 'the offline rows after the reload' })
    .toEqual(offlineRows);
  expect(await page.getByTestId('note-state').allTextContents()).toEqual(['saving…', 'deleting…', 'saving…']);
  await expect
    .poll(() => bar.status.textContent(), { message: 'the bar after the reload: 5 items waiting' })
    .toBe('Offline: 5 items will sync when back online');
  // The explanation is still there after the reload (it comes from the state, not from an event).
  await expect
    .poll(() => page.getByTestId('last-error').textContent(), {
      message: 'the offline explanation after the reload',
    })
    .toBe(unreachable);
  expect(await serverLog(harness)).toEqual([]);

  // Back online: the browser says so, the probe confirms it, the queue drains.
  await setBrowserOffline(harness.context, false);
  await waitForPending(page, 0);
  await expect.poll(() => bar.status.textContent(), { message: 'the bar synced' }).toBe('All changes synced');
  await expect.poll(() => bar.connection.textContent(), { message: 'the bar online again' }).toBe('Online');
  expect(await page.getByTestId('last-error').isHidden()).toBe(true);

  const log = await serverLog(harness);
  expect(log.map((entry) => entry.key)).toEqual(queued.map((op) => op.id));
  expect(log.map((entry) => `${entry.method} ${entry.path}`)).toEqual([
    'POST /api/notes',
    'POST /api/notes',
    `PATCH /api/notes/${noteId(harness, 1)}`, // the temporary id was replaced by the server's before sending
    `DELETE /api/notes/${noteId(harness, 2)}`,
    'POST /api/notes',
  ]);
  expect(log.map((entry) => (entry.body as { title?: string } | null)?.title)).toEqual([
    'Groceries',
    'Call Ada',
    'Groceries for Sunday',
    undefined,
    'Book flights',
  ]);

  // The screen now shows the server's copies, with their server ids.
  await expect
    .poll(() => page.getByTestId('note-state').allTextContents(), {
      message: "the notes saved under the server's ids",
    })
    .toEqual([`saved · ${noteId(harness, 3)}`, `saved · ${noteId(harness, 1)}`]);
  expect(await titlesOnScreen(page)).toEqual(['Book flights', 'Groceries for Sunday']);
  const notes = (await (await fetch(`${harness.server.url}/api/notes`)).json()) as Array<{ title: string }>;
  expect(notes.map((note) => note.title)).toEqual(['Groceries for Sunday', 'Book flights']);
});
