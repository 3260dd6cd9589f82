// Storage that disappears, in real Chromium (IndexedDB on disk) against the reference server:
// site data cleared under the running app is reported and nothing of the lost queue is sent.
// And a quota lowered with CDP's Storage.overrideQuotaForOrigin: IndexedDB enforces it on the bytes
// it writes, which it compresses (snappy), so the test fills it with bodies that do not compress.
import type { Page } from 'playwright-core';
import { expect, test } from 'vitest';
import {
  goOffline,
  type Harness,
  harnessPerTest,
  openApp,
  serverLog,
  setBrowserOffline,
  statusBar,
  waitForApp,
  waitForPending,
} from './harness.js';

let harness: Harness;
harnessPerTest((started) => {
  harness = started;
});

/** What the notes app puts on `globalThis.fluxyNotes` that these tests use. */
interface Handle {
  sync: {
    queue(
      method: string,
      url: string,
      options?: { body?: unknown },
    ): Promise<{ id: string; idempotencyKey: string }>;
    lastError: { value: { code: string } | null };
    pendingCount: { value: number };
  };
  storage: { lost: { value: { when: string } | null } };
}

/** Queue `titles` as note creations (the app is offline: they stay queued); resolves their ids. */
function queueNotes(page: Page, titles: string[]): Promise<string[]> {
  return page.evaluate(async (list) => {
    const { sync } = (globalThis as unknown as { fluxyNotes: Handle }).fluxyNotes;
    const ids: string[] = [];
    for (const title of list) ids.push((await sync.queue('POST', '/notes', { body: { title } })).id);
    return ids;
  }, titles);
}

test('site data cleared under the running app: storageLost, nothing of the lost queue sent; reported again after a reload', async () => {
  const page = await openApp(harness);
  await expect
    .poll(() => statusBar(page).connection.textContent(), { message: 'the bar online' })
    .toBe('Online');
  await goOffline(harness, page);
  await queueNotes(page, ['one', 'two', 'three']);
  await waitForPending(page, 3);

  const cdp = await harness.context.newCDPSession(page);
  await cdp.send('Storage.clearDataForOrigin', { origin: harness.server.url, storageTypes: 'indexeddb' });
  const state = () =>
    page.evaluate(() => {
      const { sync, storage } = (globalThis as unknown as { fluxyNotes: Handle }).fluxyNotes;
      return {
        lost: storage.lost.value?.when ?? null,
        lastError: sync.lastError.value?.code ?? null,
        pending: sync.pendingCount.value,
      };
    });
  await expect
    .poll(state, { message: 'storage lost while running, reported', timeout: 15_000, interval: 50 })
    .toEqual({ lost: 'while-running', lastError: 'sync/storage-lost', pending: 0 });
  const refused = await page.evaluate(async () => {
    const { sync } = (globalThis as unknown as { fluxyNotes: Handle }).fluxyNotes;
    return sync.queue('POST', '/notes', { body: { title: 'after' } }).then(
      () => 'stored',
      (error: { code?: string }) => error.code,
    );
  });
  expect(refused).toBe('storage/lost');

  await setBrowserOffline(harness.context, false);
  await expect
    .poll(() => statusBar(page).connection.textContent(), {
      message: 'the bar online again',
      timeout: 15_000,
    })
    .toBe('Online');
  await page.reload();
  await waitForApp(page);
  // The hint in localStorage survived (only IndexedDB was cleared): the next start knows.
  await expect
    .poll(state, { message: 'storage lost between runs, reported', timeout: 15_000 })
    .toMatchObject({ lost: 'between-runs', pending: 0 });
  const writes = (await serverLog(harness)).filter((entry) => entry.method === 'POST' && entry.key !== null);
  expect(writes).toEqual([]);
});

test('a full quota (lowered via CDP): queue() fails with storage/quota-exceeded, and every op queued before it is delivered once', async () => {
  // IndexedDB takes an origin's quota when it opens the origin's databases: lower it first.
  const page = await harness.context.newPage();
  const cdp = await harness.context.newCDPSession(page);
  const origin = harness.server.url;
  await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 1_500_000 });
  await openApp(harness, undefined, page);
  await expect
    .poll(() => statusBar(page).connection.textContent(), { message: 'the bar online' })
    .toBe('Online');
  await goOffline(harness, page);
  await queueNotes(page, ['small one', 'small two']);
  await waitForPending(page, 2);
  // Notes with 60 KB bodies of random letters (IndexedDB compresses what it stores) until one is refused.
  const filled = await page.evaluate(async () => {
    const { sync } = (globalThis as unknown as { fluxyNotes: Handle }).fluxyNotes;
    const keys: string[] = [];
    for (let n = 0; n < 200; n++) {
      const letters = Array.from(crypto.getRandomValues(new Uint8Array(60_000)), (b) =>
        String.fromCharCode(97 + (b % 26)),
      ).join('');
      try {
        const op = await sync.queue('POST', '/notes', { body: { title: `big ${n}`, body: letters } });
        keys.push(op.idempotencyKey);
      } catch (error) {
        return { keys, refused: (error as { code?: string }).code ?? String(error) };
      }
    }
    return { keys, refused: null };
  });
  expect(filled.refused).toBe('storage/quota-exceeded');
  expect(filled.keys.length).toBeGreaterThan(0); // some fitted before the quota was reached
  await waitForPending(page, 2 + filled.keys.length); // the refused one left nothing behind

  await setBrowserOffline(harness.context, false);
  await waitForPending(page, 0);
  const writes = (await serverLog(harness)).filter((entry) => entry.method === 'POST' && entry.key !== null);
  expect(writes).toHaveLength(2 + filled.keys.length);
  expect(new Set(writes.map((entry) => entry.key)).size).toBe(writes.length); // each once
  for (const key of filled.keys) expect(writes.map((entry) => entry.key)).toContain(key);
});
