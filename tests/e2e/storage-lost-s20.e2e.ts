// Audit 20 H3, in real Chromium (IndexedDB on disk, Web Locks, BroadcastChannel) against the
// reference server: site data cleared while two tabs are open. The tab that led the outbox stays
// open, dead; the other reloads on a fresh database: it must lead and send what it queues, and
// show its own status, not the dead tab's.
import { expect, test } from 'vitest';
import { type Harness, harnessPerTest, openApp, serverLog, statusBar, waitForApp } from './harness.js';

let harness: Harness;
harnessPerTest((started) => {
  harness = started;
});

/** What the notes app puts on `globalThis.fluxyNotes` that this test uses. */
interface Handle {
  sync: {
    queue(method: string, url: string, options?: { body?: unknown }): Promise<{ idempotencyKey: string }>;
    lastError: { value: { code: string } | null };
    pendingCount: { value: number };
    status: { value: string };
  };
  storage: { lost: { value: { when: string } | null } };
}

test('site data cleared under two tabs: the dead leader lets go; the reloaded tab sends its new change', async () => {
  const dead = await openApp(harness); // the first tab: it holds the outbox's Web Lock
  const reloaded = await openApp(harness);
  for (const page of [dead, reloaded])
    await expect
      .poll(() => statusBar(page).connection.textContent(), { message: 'the bar online' })
      .toBe('Online');
  const state = (page: typeof dead) =>
    page.evaluate(() => {
      const { sync, storage } = (globalThis as unknown as { fluxyNotes: Handle }).fluxyNotes;
      return {
        lost: storage.lost.value?.when ?? null,
        lastError: sync.lastError.value?.code ?? null,
        pending: sync.pendingCount.value,
        status: sync.status.value,
      };
    });

  const cdp = await harness.context.newCDPSession(dead);
  await cdp.send('Storage.clearDataForOrigin', { origin: harness.server.url, storageTypes: 'indexeddb' });
  await expect
    .poll(() => state(dead), { message: 'the leader reports the loss', timeout: 15_000, interval: 50 })
    .toEqual({ lost: 'while-running', lastError: 'sync/storage-lost', pending: 0, status: 'error' });

  await reloaded.reload();
  await waitForApp(reloaded);
  const key = await reloaded.evaluate(async () => {
    const { sync } = (globalThis as unknown as { fluxyNotes: Handle }).fluxyNotes;
    return (await sync.queue('POST', '/notes', { body: { title: 'after the wipe' } })).idempotencyKey;
  });
  await expect
    .poll(async () => (await serverLog(harness)).some((entry) => entry.key === key), {
      message: 'the reloaded tab sent its change while the dead tab is open',
      timeout: 15_000,
    })
    .toBe(true);
  await expect
    .poll(async () => (await state(reloaded)).pending, { message: 'nothing pending in the live tab' })
    .toBe(0);
  await expect
    .poll(async () => (await state(reloaded)).status, { message: 'the live tab shows its own status' })
    .toBe('idle');
  // The dead tab still says what happened to it.
  expect(await state(dead)).toMatchObject({ lastError: 'sync/storage-lost', status: 'error' });
});
