// 13. The notes app as a new user meets it: editing by keyboard while changes arrive from
// elsewhere, what an edit sends, a blank title, long titles, and what a screen reader is told.
// Each check failed before the fix it names (see CHANGELOG, "the notes example").
import type { Page } from 'playwright-core';
import { expect, test } from 'vitest';
import {
  addNote,
  type Harness,
  harnessPerTest,
  injectFaults,
  noteId,
  noteRow,
  openApp,
  rowsOnScreen,
  serverLog,
  serverRows,
  setBrowserOffline,
  statusBar,
  waitForPending,
} from './harness.js';

let harness: Harness;
harnessPerTest((started) => {
  harness = started;
});

/** What has the keyboard focus: its test id, or its accessible label. */
function focused(page: Page): Promise<string> {
  return page.evaluate(() => {
    const active = document.activeElement as HTMLElement | null;
    return active?.getAttribute('aria-label') ?? active?.dataset.testid ?? active?.tagName ?? '';
  });
}

/**
 * The visible texts whose colour contrasts less than 4.5:1 with the background behind them (WCAG
 * AA for normal-size text), as `text (ratio)`.
 */
function lowContrastTexts(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const rgb = (color: string) => (color.match(/[\d.]+/g) ?? []).map(Number);
    const luminance = ([r = 0, g = 0, b = 0]: number[]) => {
      const [R = 0, G = 0, B = 0] = [r, g, b].map((value) => {
        const c = value / 255;
        return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * R + 0.7152 * G + 0.0722 * B;
    };
    const background = (element: Element | null): number[] => {
      for (let at = element; at; at = at.parentElement) {
        const color = rgb(getComputedStyle(at).backgroundColor);
        if (color.length === 3 || (color[3] ?? 0) > 0) return color;
      }
      return [255, 255, 255];
    };
    const low: string[] = [];
    for (const element of document.body.querySelectorAll('*')) {
      const text = [...element.childNodes]
        .filter((node) => node.nodeType === Node.TEXT_NODE)
        .map((node) => node.textContent?.trim() ?? '')
        .join('');
      if (!text || !(element as HTMLElement).checkVisibility?.()) continue;
      const fore = luminance(rgb(getComputedStyle(element).color));
      const back = luminance(background(element));
      const ratio = (Math.max(fore, back) + 0.05) / (Math.min(fore, back) + 0.05);
      if (ratio < 4.5) low.push(`${text.slice(0, 30)} (${ratio.toFixed(2)})`);
    }
    return low;
  });
}

/** Another device changes a note on the server (no clock, as curl would); then the tab pulls. */
async function changeElsewhereAndPull(page: Page, id: string, fields: Record<string, string>) {
  const response = await fetch(`${harness.server.url}/api/notes/${id}`, {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(fields),
  });
  expect(response.status).toBe(200);
  await page.evaluate(() =>
    (
      globalThis as unknown as { fluxyNotes: { collection: { pull(): Promise<void> } } }
    ).fluxyNotes.collection.pull(),
  );
}

test('editing by keyboard while changes arrive: focus stays put, only the changed field is sent', async () => {
  const page = await openApp(harness);
  await addNote(page, 'Shared', 'first body');
  await addNote(page, 'Other');
  await expect.poll(async () => (await serverRows(harness)).length, { message: 'both saved' }).toBe(2);
  await waitForPending(page, 0);
  const shared = (await serverRows(harness)).find((row) => row.title === 'Shared');
  if (!shared) throw new Error('no "Shared" on the server');

  // A row re-rendered by a pull does not take the focus from another row's button.
  // (Before: the whole list was rebuilt on every change, and the focus fell back to the page.)
  await page.getByRole('button', { name: 'Edit “Other”' }).focus();
  await changeElsewhereAndPull(page, shared.id, { title: 'Shared (elsewhere)' });
  await noteRow(page, 'Shared (elsewhere)').waitFor({ timeout: 10_000 });
  expect(await focused(page)).toBe('Edit “Other”');

  // Edit by keyboard: Enter on Edit opens the form with the focus in the title.
  await page.getByRole('button', { name: 'Edit “Shared (elsewhere)”' }).press('Enter');
  expect(await focused(page)).toBe('Title');
  await page.keyboard.press('End');
  await page.keyboard.type(' + mine');
  await page.keyboard.press('Tab');
  expect(await focused(page)).toBe('Note');
  // Meanwhile the other device changes the body. (Before: the edit form was rebuilt and the focus
  // jumped to the title, so what the user typed next landed in the wrong field.)
  await changeElsewhereAndPull(page, shared.id, { body: 'body from elsewhere' });
  expect(await focused(page)).toBe('Note');
  expect(await page.getByTestId('edit-title').inputValue()).toBe('Shared (elsewhere) + mine');

  // Enter in the title saves (before: nothing), and the focus returns to the note's Edit button.
  const logBefore = (await serverLog(harness)).length;
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Enter');
  await noteRow(page, 'Shared (elsewhere) + mine').waitFor({ timeout: 10_000 });
  await expect
    .poll(() => focused(page), { timeout: 5_000, message: 'the focus back on the Edit button' })
    .toBe('Edit “Shared (elsewhere) + mine”');
  await waitForPending(page, 0);

  // Only the title was sent: the body changed elsewhere is kept. (Before: the edit sent the body
  // it had opened with, with a newer clock, and undid the other device's change.)
  await expect
    .poll(async () => (await serverLog(harness)).slice(logBefore).map((entry) => entry.body), {
      timeout: 10_000,
      message: 'the edit on the server',
    })
    .toStrictEqual([{ title: 'Shared (elsewhere) + mine' }]);
  const log = await serverLog(harness);
  await expect
    .poll(() => rowsOnScreen(page), { timeout: 10_000, message: "the server's rows on screen" })
    .toStrictEqual(await serverRows(harness));
  expect((await serverRows(harness)).find((row) => row.id === shared.id)?.body).toBe('body from elsewhere');

  // A blank title is refused where it was typed, nothing is sent; Escape cancels.
  // (Before: the old title was kept silently and an unchanged edit was sent.)
  await page.getByRole('button', { name: 'Edit “Other”' }).press('Enter');
  await page.getByTestId('edit-title').fill('   ');
  await page.keyboard.press('Enter');
  expect(
    await page.getByTestId('edit-title').evaluate((input: HTMLInputElement) => input.validationMessage),
  ).toBe('A note needs a title.');
  await page.keyboard.press('Escape');
  await page.getByTestId('edit-title').waitFor({ state: 'detached', timeout: 5_000 });
  expect(await focused(page)).toBe('Edit “Other”');
  // Saving without a change sends nothing either.
  await page.getByRole('button', { name: 'Edit “Other”' }).press('Enter');
  await page.keyboard.press('Enter');
  await page.getByTestId('edit-title').waitFor({ state: 'detached', timeout: 5_000 });
  expect(await page.getByTestId('pending-count').textContent()).toBe('0');
  expect((await serverLog(harness)).length).toBe(log.length);

  // Delete from the keyboard: the focus moves on to the next note (before: back to the page).
  await page.getByRole('button', { name: 'Delete “Other”' }).press('Enter');
  await expect
    .poll(() => focused(page), { timeout: 5_000, message: "the focus on the next note's Edit" })
    .toBe('Edit “Shared (elsewhere) + mine”');

  // The note being edited is deleted on another device: the form goes, and the app says why and
  // keeps what was typed. (Before: the form and what was typed in it vanished without a word.)
  await page.keyboard.press('Enter');
  await page.getByTestId('edit-body').fill('a draft');
  const deleted = await fetch(`${harness.server.url}/api/notes/${shared.id}`, { method: 'DELETE' });
  expect(deleted.status).toBe(204);
  await page.evaluate(() =>
    (
      globalThis as unknown as { fluxyNotes: { collection: { pull(): Promise<void> } } }
    ).fluxyNotes.collection.pull(),
  );
  await page.getByTestId('edit-title').waitFor({ state: 'detached', timeout: 5_000 });
  await expect
    .poll(() => page.getByTestId('notice').textContent(), { timeout: 5_000, message: 'the notice' })
    .toBe(
      '“Shared (elsewhere) + mine” was deleted elsewhere while you were editing it. What you typed is kept: Restore puts it in the new-note form.',
    );
});

test('long titles wrap, and the status, problems and notices are announced', async () => {
  const page = await openApp(harness);
  const bar = statusBar(page);

  // The form's fields have labels; the status bar's text is a live region.
  const long = 'W'.repeat(200); // the longest title the form takes, one unbroken word
  await page.getByLabel('Title', { exact: true }).fill(long);
  await page.getByLabel('Note', { exact: true }).fill('x'.repeat(400));
  await page.getByTestId('add-note').click();
  await waitForPending(page, 0);
  await page.getByRole('status').filter({ hasText: 'All changes synced' }).waitFor({ timeout: 10_000 });

  // Edit and Delete stay on the card and on the screen. (Before: the title pushed them off.)
  const row = noteRow(page, long);
  await row.waitFor({ timeout: 5_000 });
  const card = await row.boundingBox();
  const viewport = page.viewportSize();
  if (!card || !viewport) throw new Error('no layout');
  for (const name of ['edit-note', 'delete-note']) {
    const box = await row.getByTestId(name).boundingBox();
    expect(box, name).not.toBeNull();
    expect((box?.x ?? 0) + (box?.width ?? 0), `${name} inside the card`).toBeLessThanOrEqual(
      card.x + card.width,
    );
  }
  expect(card.x + card.width).toBeLessThanOrEqual(viewport.width);
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(viewport.width);

  // A refusal: the notice is announced, and dismissed from the keyboard (before: a click on the
  // text only). The bar's Retry and Discard say that they act on every refused change.
  await injectFaults(harness, [{ status: 422 }]);
  // (Online, the refusal may undo the note before a check for it: wait for the notice instead.)
  await page.getByLabel('Title', { exact: true }).fill('Refused');
  await page.getByLabel('Title', { exact: true }).press('Enter');
  const notice = page.getByRole('status').filter({ hasText: 'was refused (HTTP 422)' });
  await notice.waitFor({ timeout: 15_000 });
  await page.getByRole('button', { name: 'Retry all refused changes' }).waitFor({ timeout: 5_000 });
  await page.getByRole('button', { name: 'Retry: Create “Refused”' }).waitFor({ timeout: 5_000 });
  await page.getByRole('button', { name: 'Dismiss this message' }).press('Enter');
  await page.getByTestId('notice').waitFor({ state: 'hidden', timeout: 5_000 });
  await page.getByRole('button', { name: 'Discard all refused changes' }).click();
  await expect.poll(() => bar.failed.textContent(), { message: '0 failed' }).toBe('0');

  // Offline: the plain explanation is in a live region as well.
  await setBrowserOffline(harness.context, true);
  await expect.poll(() => bar.connection.textContent(), { message: 'offline' }).toBe('Offline');
  await page.getByRole('status').filter({ hasText: "Can't reach the server" }).waitFor({ timeout: 5_000 });

  // Every text on screen is readable (4.5:1), also the states of the notes: saved, saving…,
  // deleting…. (Before: they were 3.3–3.7:1.)
  await addNote(page, 'Saving offline');
  await addNote(page, 'Deleting offline');
  await page.getByRole('button', { name: 'Delete “Deleting offline”' }).click();
  await expect
    .poll(() => page.getByTestId('note-state').allTextContents(), { message: 'all three states' })
    .toStrictEqual(['deleting…', 'saving…', `saved · ${noteId(harness, 1)}`]);
  expect(await lowContrastTexts(page)).toStrictEqual([]);
});

test('a 401 says what happened and what to do, and Resume sends the change', async () => {
  const page = await openApp(harness);
  const bar = statusBar(page);
  await addNote(page, 'First');
  await waitForPending(page, 0);
  await page.getByRole('status').filter({ hasText: 'All changes synced' }).waitFor({ timeout: 10_000 });

  // The server no longer accepts the credentials: the outbox pauses on the change (Fluxy's rule
  // for a 401). Before: the page said only "Sending is paused.", with nothing to press but reload.
  await injectFaults(harness, [{ status: 401 }]);
  await addNote(page, 'After the session expired');
  await expect.poll(() => bar.status.textContent(), { message: 'paused', timeout: 15_000 }).toBe('Paused');
  await page
    .getByRole('status')
    .filter({ hasText: 'The server asked to sign in again (HTTP 401)' })
    .waitFor({ timeout: 5_000 });
  expect(await page.getByTestId('status-bar').getAttribute('data-state')).toBe('paused');
  expect(await bar.pending.textContent()).toBe('1');

  await page.getByRole('button', { name: 'Resume sending' }).click();
  await waitForPending(page, 0);
  await page.getByRole('status').filter({ hasText: 'All changes synced' }).waitFor({ timeout: 10_000 });
  await page.getByRole('button', { name: 'Resume sending' }).waitFor({ state: 'hidden', timeout: 5_000 });
  expect(await page.getByTestId('last-error').isHidden()).toBe(true);
  expect((await serverRows(harness)).map((row) => row.title)).toContain('After the session expired');
});
