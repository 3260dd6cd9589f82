// One temporary id used by two later operations: a note created offline, then edited twice and
// deleted — each of the three later requests must reach the server with the server's id.
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
  serverLog,
  setBrowserOffline,
  statusBar,
  waitForPending,
} from './harness.js';

let harness: Harness;
harnessPerTest((started) => {
  harness = started;
});

test('a temporary id used by several later operations is replaced in each of them', async () => {
  const page = await openApp(harness);
  const bar = statusBar(page);
  await expect.poll(() => bar.connection.textContent(), { message: 'the bar online' }).toBe('Online');
  await setBrowserOffline(harness.context, true);
  await expect.poll(() => bar.connection.textContent(), { message: 'the bar offline' }).toBe('Offline');

  await addNote(page, 'Draft');
  await editNote(page, 'Draft', 'Draft 2');
  await editNote(page, 'Draft 2', 'Draft 3');
  await deleteNote(page, 'Draft 3');
  await waitForPending(page, 4);
  const queued = await pendingOperations(page);
  const tempIds = new Set(queued.flatMap((op) => op.url.match(/tmp_\w+/g) ?? []));
  expect(tempIds.size).toBe(1); // the three later operations all name the create's temporary id
  expect(queued.map((op) => op.method)).toEqual(['POST', 'PATCH', 'PATCH', 'DELETE']);

  await setBrowserOffline(harness.context, false);
  await waitForPending(page, 0);
  const log = await serverLog(harness);
  expect(log.map((entry) => `${entry.method} ${entry.path}`)).toEqual([
    'POST /api/notes',
    `PATCH /api/notes/${noteId(harness, 1)}`,
    `PATCH /api/notes/${noteId(harness, 1)}`,
    `DELETE /api/notes/${noteId(harness, 1)}`,
  ]);
  expect(log.map((entry) => entry.key)).toEqual(queued.map((op) => op.id));
});
