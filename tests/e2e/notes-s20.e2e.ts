// 20. The notes app tells the truth when something other than the network goes wrong: a note
// being deleted in another tab while it is edited here, a device out of storage space, site data
// cleared by the browser, a clock far ahead of this device's, two conflicts in one sync.
// Each check failed before the fix it names (see CHANGELOG, "the notes example").
import type { Page } from 'playwright-core';
import { expect, test } from 'vitest';
import {
  addNote,
  editNote,
  type FluxyNotesHandle,
  goOffline,
  type Harness,
  harnessPerTest,
  injectFaults,
  noteRow,
  noteState,
  openApp,
  resumeSending,
  serverRows,
  setBrowserOffline,
  statusBar,
  waitForApp,
  waitForPending,
} from './harness.js';

let harness: Harness;
harnessPerTest((started) => {
  harness = started;
});

/** The problem line under the status bar ('' while hidden). */
async function problem(page: Page): Promise<string> {
  const line = page.getByTestId('last-error');
  return (await line.isHidden()) ? '' : ((await line.textContent()) ?? '');
}

/** A `Fluxy-Clock` stamp for `ms` (another device's: the format the app's clocks use). */
function stamp(ms: number): string {
  return `${ms.toString(36).padStart(9, '0')}-0000-otherdevice`;
}

function pull(page: Page): Promise<void> {
  return page.evaluate(() =>
    (
      globalThis as unknown as { fluxyNotes: { collection: { pull(): Promise<void> } } }
    ).fluxyNotes.collection.pull(),
  );
}

test('a note being deleted in another tab keeps its edit form and the text typed in it; once deleted, Restore puts the text back', async () => {
  const a = await openApp(harness);
  const b = await openApp(harness);
  await addNote(a, 'Shared', 'first body');
  await waitForPending(a, 0);
  await expect.poll(() => noteState(b, 'Shared'), { message: 'the note saved in tab B' }).toBe('saved');

  // B is typing; A deletes the note offline, so its deletion waits in the outbox.
  await noteRow(b, 'Shared').getByTestId('edit-note').click();
  await b.getByTestId('edit-body').fill('B was typing this');
  await goOffline(harness, a);
  await noteRow(a, 'Shared').getByTestId('delete-note').click();
  await waitForPending(b, 1);
  // B's form stays, says why it cannot save now, and keeps the text. (Before: it closed at once,
  // the text was gone, and the notice said the note was deleted on another device.)
  await b.getByTestId('edit-hint').waitFor({ state: 'visible', timeout: 10_000 });
  expect(await b.getByTestId('edit-body').inputValue()).toBe('B was typing this');
  expect(await b.getByTestId('save-note').isDisabled()).toBe(true);

  // The server refuses the deletion: the note is back, and B saves what it typed.
  // (Sending paused until both tabs have pulled: the fault queue serves pulls too.)
  await a.evaluate(() => (globalThis as unknown as { fluxyNotes: FluxyNotesHandle }).fluxyNotes.sync.pause());
  await setBrowserOffline(harness.context, false);
  for (const tab of [a, b]) {
    await expect.poll(() => statusBar(tab).connection.textContent(), { message: 'online' }).toBe('Online');
    await pull(tab);
  }
  await expect
    .poll(
      () =>
        Promise.all(
          [a, b].map((tab) =>
            tab.evaluate(
              () =>
                (globalThis as unknown as { fluxyNotes: FluxyNotesHandle }).fluxyNotes.collection.isPulling
                  .value,
            ),
          ),
        ),
      { message: 'no pull' },
    )
    .toEqual([false, false]);
  await injectFaults(harness, [{ status: 403 }]);
  await resumeSending(a);
  await expect.poll(() => statusBar(b).failed.textContent(), { message: 'the deletion refused' }).toBe('1');
  await b.getByTestId('edit-hint').waitFor({ state: 'hidden', timeout: 10_000 });
  await b.getByTestId('save-note').click();
  await expect
    .poll(async () => (await serverRows(harness)).map((row) => row.body), {
      message: "B's text on the server",
    })
    .toEqual(['B was typing this']);
  await b.getByRole('button', { name: 'Discard all refused changes' }).click();
  await waitForPending(b, 0);

  // Now the deletion goes through while B is typing: the form goes, the notice says where the
  // deletion came from, and Restore puts what B typed into the new-note form.
  await noteRow(b, 'Shared').getByTestId('edit-note').click();
  await b.getByTestId('edit-title').fill('Shared, again');
  await b.getByTestId('edit-body').fill('a second draft');
  await goOffline(harness, a);
  await noteRow(a, 'Shared').getByTestId('delete-note').click();
  await b.getByTestId('edit-hint').waitFor({ state: 'visible', timeout: 10_000 });
  await setBrowserOffline(harness.context, false);
  await b.getByTestId('edit-title').waitFor({ state: 'detached', timeout: 15_000 });
  await expect
    .poll(() => b.getByTestId('notice').textContent(), { message: "B's notice" })
    .toBe(
      '“Shared” was deleted in another tab while you were editing it. What you typed is kept: Restore puts it in the new-note form.',
    );
  await b.getByTestId('restore-draft').click();
  expect(await b.getByTestId('new-note-title').inputValue()).toBe('Shared, again');
  expect(await b.getByTestId('new-note-body').inputValue()).toBe('a second draft');
  expect(await b.getByTestId('notice-box').isHidden()).toBe(true);
  expect(await serverRows(harness)).toEqual([]);
});

test('a device out of storage space says so (not "can\'t reach the server")', async () => {
  // 150 notes of 9 KB (encrypted on the device, so they do not compress) against a 600 KB quota.
  for (let n = 0; n < 150; n++) {
    const response = await fetch(`${harness.server.url}/api/notes`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ title: `big ${n}`, body: 'x'.repeat(9000) }),
    });
    expect(response.status).toBe(201);
  }
  const page = await harness.context.newPage();
  const cdp = await harness.context.newCDPSession(page);
  await cdp.send('Storage.overrideQuotaForOrigin', { origin: harness.server.url, quotaSize: 600_000 });
  await openApp(harness, undefined, page);
  // The pull could not store its pages. (Before: "Can't reach the server to get the latest
  // notes; showing the ones saved on this device.": the server answered, and they are not.)
  await expect
    .poll(() => problem(page), { timeout: 20_000, message: 'the problem line' })
    .toBe(
      'This device is out of storage space (or its storage failed): free some space, or the latest changes and notes cannot be kept here.',
    );
});

test('site data cleared by the browser: how many unsent changes were lost, and reload (not "saved… will be sent", not "Retrying 0 items")', async () => {
  const page = await openApp(harness);
  const bar = statusBar(page);
  await expect.poll(() => bar.connection.textContent(), { message: 'the bar online' }).toBe('Online');
  await goOffline(harness, page);
  await addNote(page, 'one');
  await addNote(page, 'two');
  await waitForPending(page, 2);

  const cdp = await harness.context.newCDPSession(page);
  await cdp.send('Storage.clearDataForOrigin', { origin: harness.server.url, storageTypes: 'indexeddb' });
  await expect
    .poll(() => problem(page), { timeout: 15_000, message: 'the problem line' })
    .toBe("The browser cleared this site's data; 2 unsent changes were lost. Reload this tab.");
  expect(await bar.status.textContent()).toBe('Stopped: reload this tab');

  // After the reload (online): the loss is told once more, not as the server's refusal.
  await setBrowserOffline(harness.context, false);
  await page.reload();
  await waitForApp(page);
  await expect
    .poll(() => problem(page), { timeout: 15_000, message: 'the problem line after the reload' })
    .toBe(
      "The browser cleared this site's data since you were last here: changes that were not sent by then are lost.",
    );
  expect(await bar.status.textContent()).not.toMatch(/Retrying/);
});

test("a clock far ahead of this device's is no problem to show", async () => {
  // This device's clock is 10 minutes slow. (Before the server refused stamps more than 5 minutes
  // ahead of its own clock, this test had another device stamp its change a day ahead; now that
  // change is refused, 400 clock-ahead, so the skew the app meets is its own clock behind.)
  await harness.context.addInitScript(() => {
    const realNow = Date.now.bind(Date);
    Date.now = () => realNow() - 10 * 60_000;
  });
  const page = await openApp(harness);
  await addNote(page, 'Plain');
  await waitForPending(page, 0);
  const [note] = await serverRows(harness);
  // Another device, on time (so 10 minutes ahead of this one), edits the note.
  const response = await fetch(`${harness.server.url}/api/notes/${note?.id}`, {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/json', 'Fluxy-Clock': stamp(Date.now()) },
    body: JSON.stringify({ title: 'From a clock ahead' }),
  });
  expect(response.status).toBe(200);
  await pull(page);
  await noteRow(page, 'From a clock ahead').waitFor({ timeout: 10_000 });
  const code = await page.evaluate(
    () =>
      (
        globalThis as unknown as {
          fluxyNotes: { collection: { lastError: { value: { code: string } | null } } };
        }
      ).fluxyNotes.collection.lastError.value?.code,
  );
  expect(code).toBe('collections/clock-skew');
  // (Before: "…more than 5 minutes ahead of this device: not adopted." under "All changes synced".)
  expect(await problem(page)).toBe('');
});

test('a device whose clock is fast: the refusal says to set the clock, not "HTTP 400"', async () => {
  // This device's clock is 10 minutes fast: the server refuses its stamps (400 clock-ahead).
  await harness.context.addInitScript(() => {
    const realNow = Date.now.bind(Date);
    Date.now = () => realNow() + 10 * 60_000;
  });
  const page = await openApp(harness);
  await addNote(page, 'Written fast');
  await expect
    .poll(() => page.getByTestId('notice').textContent(), { timeout: 10_000, message: 'the notice' })
    .toContain("this device's clock is more than 5 minutes fast: set it right, then retry");
  expect(
    harness.requests.some((line) => /^POST \/api\/notes .*400/.test(line)),
    harness.requests.join('\n'),
  ).toBe(true);
});

test('two conflicts in one sync: the notice tells both', async () => {
  const page = await openApp(harness);
  await addNote(page, 'First');
  await addNote(page, 'Second');
  await waitForPending(page, 0);
  const rows = await serverRows(harness);
  await goOffline(harness, page);
  await editNote(page, 'First', 'First (edited offline)');
  await editNote(page, 'Second', 'Second (edited offline)');
  // Another device deletes both, later than the edits.
  for (const row of rows) {
    const response = await fetch(`${harness.server.url}/api/notes/${row.id}`, {
      method: 'DELETE',
      headers: { 'Fluxy-Clock': stamp(Date.now()) },
    });
    expect(response.status).toBe(204);
  }
  await setBrowserOffline(harness.context, false);
  await waitForPending(page, 0);
  // (Before: only the last one.)
  await expect
    .poll(async () => (await page.getByTestId('notice').textContent())?.split('\n').sort(), {
      message: 'both conflicts told',
    })
    .toEqual([
      '“First (edited offline)” was deleted on another device, so your change to it was dropped.',
      '“Second (edited offline)” was deleted on another device, so your change to it was dropped.',
    ]);
});
