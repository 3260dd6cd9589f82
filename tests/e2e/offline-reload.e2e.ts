// 1. Offline edits survive a reload and reach the server once each, in order.
//
// How "offline" is simulated, honestly: the UI actions happen with Chromium's own offline switch
// on (`context.setOffline(true)`: navigator.onLine is false, every request fails). That switch
// also blocks navigation, and the example has no service worker to serve its shell, so for the
// reload the switch goes off while every request to the API and to /health is aborted at the
// network level: the page loads, but the app cannot reach its server — the case of a dead Wi-Fi
// or a captive portal, which the connectivity probe exists for. No request reaches the server
// until the block is lifted, which the server's log checks.
import { expect, test } from 'vitest';
import {
  addNote,
  blockServer,
  deleteNote,
  editNote,
  type Harness,
  harnessPerTest,
  openApp,
  pendingOperations,
  serverLog,
  setBrowserOffline,
  statusBar,
  titlesOnScreen,
  waitForApp,
  waitForPending,
} from './harness.js';

let harness: Harness;
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
  await expect.poll(() => bar.connection.textContent()).toBe('Online');

  await setBrowserOffline(harness.context, true);
  await expect.poll(() => bar.connection.textContent()).toBe('Offline');

  await addNote(page, 'Groceries', 'milk, eggs');
  await addNote(page, 'Call Ada');
  await editNote(page, 'Groceries', 'Groceries for Sunday', 'milk, eggs, bread');
  await deleteNote(page, 'Call Ada');
  await addNote(page, 'Book flights');
  await waitForPending(page, 5);
  expect(await titlesOnScreen(page)).toEqual(['Book flights', 'Groceries for Sunday']);
  await expect.poll(() => bar.status.textContent()).toBe('Offline: 5 items will sync when back online');

  // The enqueue order, and the Idempotency-Key each operation will carry.
  const queued = await pendingOperations(page);
  expect(queued.map((op) => `${op.method} ${op.url.replace(/tmp_\w+/, 'tmp')}`)).toEqual([
    'POST /notes',
    'POST /notes',
    'PATCH /notes/tmp',
    'DELETE /notes/tmp',
    'POST /notes',
  ]);

  // Reload while the server is unreachable (see the comment at the top).
  const unblock = await blockServer(harness.context);
  await setBrowserOffline(harness.context, false);
  await page.reload();
  await waitForApp(page);
  await expect.poll(() => bar.connection.textContent()).toBe('Offline');
  await waitForPending(page, 5);
  expect(await titlesOnScreen(page)).toEqual(['Book flights', 'Groceries for Sunday']);
  expect(await page.getByTestId('note-state').allTextContents()).toEqual(['saving…', 'saving…']);
  expect(await serverLog(harness)).toEqual([]);

  // The server is reachable again: the probe notices, the queue drains.
  await unblock();
  await waitForPending(page, 0);
  await expect.poll(() => bar.status.textContent()).toBe('All changes synced');
  await expect.poll(() => bar.connection.textContent()).toBe('Online');

  const log = await serverLog(harness);
  expect(log.map((entry) => entry.key)).toEqual(queued.map((op) => op.id));
  expect(log.map((entry) => `${entry.method} ${entry.path}`)).toEqual([
    'POST /api/notes',
    'POST /api/notes',
    'PATCH /api/notes/n_1', // the temporary id was replaced by the server's before sending
    'DELETE /api/notes/n_2',
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
    .poll(() => page.getByTestId('note-state').allTextContents())
    .toEqual(['saved · n_3', 'saved · n_1']);
  expect(await titlesOnScreen(page)).toEqual(['Book flights', 'Groceries for Sunday']);
  const notes = (await (await fetch(`${harness.server.url}/api/notes`)).json()) as Array<{ title: string }>;
  expect(notes.map((note) => note.title)).toEqual(['Groceries for Sunday', 'Book flights']);
});
