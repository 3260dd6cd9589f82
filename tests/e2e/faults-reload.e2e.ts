// 2. A flush through a server that drops connections (before applying and after committing) and
// answers 5xx / 429, with the page reloaded twice in the middle: every operation is applied
// exactly once, in the order it was queued.
import { expect, test } from 'vitest';
import {
  addNote,
  deleteNote,
  editNote,
  type Harness,
  harnessPerTest,
  injectFaults,
  noteId,
  openApp,
  pendingOperations,
  queuedFaults,
  serverLog,
  setBrowserOffline,
  titlesOnScreen,
  waitForApp,
  waitForPending,
} from './harness.js';

let harness: Harness;
harnessPerTest((started) => {
  harness = started;
});

test('faults and two reloads mid-flush: each operation applied once, in enqueue order', async () => {
  const page = await openApp(harness);
  await setBrowserOffline(harness.context, true);

  for (let n = 1; n <= 6; n++) await addNote(page, `Note ${n}`, `body ${n}`);
  await editNote(page, 'Note 1', 'Note 1 (edited)');
  await editNote(page, 'Note 4', 'Note 4 (edited)');
  await deleteNote(page, 'Note 2');
  await editNote(page, 'Note 6', 'Note 6 (edited)');
  await deleteNote(page, 'Note 5');
  await addNote(page, 'Note 7');
  const queued = await pendingOperations(page);
  expect(queued).toHaveLength(12);
  await waitForPending(page, 12);

  // One fault per request that takes one, in this order; 'ok' lets one through untouched. The
  // writes take most; the notes' pulls (on reconnect, after each reload, their retries) take
  // some too, wherever they fall in between.
  await injectFaults(harness, [
    'drop-before', // connection reset before anything is applied
    { status: 503, retryAfter: '1' },
    'drop-after', // applied and committed, then the connection is reset: the ambiguous case
    { status: 500 },
    'ok',
    { delayMs: 800 }, // the key is claimed while waiting: a retry meanwhile gets 409
    'drop-after',
    { status: 502 },
    'ok',
    'drop-before',
    { status: 429, retryAfter: '1' },
    'drop-after',
    { status: 504 },
  ]);

  await setBrowserOffline(harness.context, false);

  // Reload twice while the queue is draining.
  const reloadWhenApplied = async (count: number) => {
    await expect
      .poll(async () => (await serverLog(harness)).length, {
        message: `${count} writes applied before this reload`,
        timeout: 30_000,
        interval: 20,
      })
      .toBeGreaterThanOrEqual(count);
    expect((await serverLog(harness)).length).toBeLessThan(queued.length); // still mid-flush
    await page.reload();
    await waitForApp(page);
  };
  await reloadWhenApplied(3);
  await reloadWhenApplied(7);

  await waitForPending(page, 0, 45_000);
  expect(await queuedFaults(harness)).toEqual([]); // every fault was used on a request

  const log = await serverLog(harness);
  const keys = log.map((entry) => entry.key);
  expect(new Set(keys).size).toBe(keys.length); // nothing applied twice
  expect(keys).toEqual(queued.map((op) => op.id)); // everything applied, in enqueue order

  expect(log.map((entry) => `${entry.method} ${entry.path}`)).toEqual([
    'POST /api/notes',
    'POST /api/notes',
    'POST /api/notes',
    'POST /api/notes',
    'POST /api/notes',
    'POST /api/notes',
    `PATCH /api/notes/${noteId(harness, 1)}`,
    `PATCH /api/notes/${noteId(harness, 4)}`,
    `DELETE /api/notes/${noteId(harness, 2)}`,
    `PATCH /api/notes/${noteId(harness, 6)}`,
    `DELETE /api/notes/${noteId(harness, 5)}`,
    'POST /api/notes',
  ]);
  const notes = (await (await fetch(`${harness.server.url}/api/notes`)).json()) as Array<{ title: string }>;
  expect(notes.map((note) => note.title)).toEqual([
    'Note 1 (edited)',
    'Note 3',
    'Note 4 (edited)',
    'Note 6 (edited)',
    'Note 7',
  ]);
  await expect
    .poll(() => titlesOnScreen(page), { message: 'the final titles on screen' })
    .toEqual(['Note 7', 'Note 6 (edited)', 'Note 4 (edited)', 'Note 3', 'Note 1 (edited)']);
  await expect
    .poll(
      async () =>
        (await page.getByTestId('note-state').allTextContents()).every((s) => s.startsWith('saved')),
      { message: 'every note saved' },
    )
    .toBe(true);
  expect(await page.getByTestId('failed-count').textContent()).toBe('0');
});
