// 9. Two devices (two browser profiles) edit the same note while offline; both come back online;
// both show the same note, and the app tells the user of the device whose edit lost that another
// device changed the note (last writer wins per field, by hybrid logical clock).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { expect, test } from 'vitest';
import {
  addNote,
  editNote,
  type Harness,
  harnessPerTest,
  launchProfile,
  noteRow,
  openApp,
  serverRows,
  setBrowserOffline,
  statusBar,
  titlesOnScreen,
  waitForApp,
} from './harness.js';

let harness: Harness;
harnessPerTest((started) => {
  harness = started;
});

/** A second device: its own browser profile (its own IndexedDB), on the same server. */
async function secondDevice(): Promise<{ context: BrowserContext; page: Page; close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'fluxy-e2e-device-'));
  const context = await launchProfile(dir);
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => console.error(`[page error, device B] ${error.message}`));
  await page.goto(`${harness.server.url}/?iterations=10000&retryMs=200`);
  await waitForApp(page);
  return {
    context,
    page,
    async close() {
      await context.close().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const synced = (page: Page, label: string) =>
  expect
    .poll(() => statusBar(page).status.textContent(), { timeout: 15_000, message: `${label}: synced` })
    .toBe('All changes synced');

test('two devices edit the same note offline: both end with the same note, and the loser is told', async () => {
  const a = await openApp(harness);
  await addNote(a, 'Shopping', 'milk');
  await synced(a, 'device A');
  const b = await secondDevice();
  try {
    await noteRow(b.page, 'Shopping').waitFor({ timeout: 15_000 });

    // Both offline; A edits first, B edits later: B's change carries the newer clock.
    await setBrowserOffline(harness.context, true);
    await setBrowserOffline(b.context, true);
    await a.bringToFront();
    await editNote(a, 'Shopping', 'Shopping (A)');
    await b.page.bringToFront();
    await editNote(b.page, 'Shopping', 'Shopping (B)');

    // B comes back first and sends; then A, whose older edit reaches the server last and loses.
    await setBrowserOffline(b.context, false);
    await synced(b.page, 'device B');
    await a.bringToFront();
    await setBrowserOffline(harness.context, false);
    await synced(a, 'device A');
    await b.page.evaluate(() =>
      (
        globalThis as unknown as { fluxyNotes: { collection: { pull(): Promise<void> } } }
      ).fluxyNotes.collection.pull(),
    );

    const server = await serverRows(harness);
    expect(server.map((row) => row.title)).toStrictEqual(['Shopping (B)']);
    for (const page of [a, b.page]) {
      await expect
        .poll(() => titlesOnScreen(page), { timeout: 10_000, message: 'the same note on both devices' })
        .toStrictEqual(['Shopping (B)']);
    }
    // Device A is told that its edit lost to another device's.
    await expect
      .poll(() => a.getByTestId('notice').textContent(), { timeout: 10_000, message: "device A's notice" })
      .toMatch(/changed on another device/);
    expect(await statusBar(a).failed.textContent()).toBe('0');
  } finally {
    await b.close();
  }
});
