// 8. The notes collection across two tabs and a third device. Two tabs of one browser profile
// edit offline, reload (still offline), come back online: both converge on the server's rows.
// Meanwhile a third device — a Node client of the same server (createApp + memory storage +
// Connectivity + Sync + a Collection, from src/) — changes rows; its changes reach the tabs with
// their pull (on reconnect, and on a reload: the tab that pulls tells the other).
import { effect } from '@preact/signals-core';
import type { Page } from 'playwright-core';
import { expect, test } from 'vitest';
import type { RunningServer } from '../../examples/server/server.d.mts';
import { type App, createApp } from '../../src/core/app.js';
import type { Logger } from '../../src/core/logger.js';
import { Collection } from '../../src/plugins/collections/index.js';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import { SyncPlugin } from '../../src/plugins/sync/index.js';
import {
  addNote,
  deleteNote,
  editNote,
  goOnlineAfterPull,
  type Harness,
  harnessPerTest,
  injectFaults,
  noteRow,
  noteState,
  openApp,
  resumeSending,
  rowsOnScreen,
  serverRows,
  setBrowserOffline,
  statusBar,
  titlesOnScreen,
  waitForApp,
  waitForPending,
  waitForServiceWorker,
} from './harness.js';

let harness: Harness;
harnessPerTest((started) => {
  harness = started;
});

interface Note extends Record<string, unknown> {
  id: string;
  title: string;
  body: string;
}

const quiet: Logger = { debug() {}, info() {}, warn() {}, error: console.error };

/** Resolves when `predicate()` (reading signals) is true; rejects after `timeoutMs`, naming `label`. */
function until(predicate: () => boolean, label: string, timeoutMs = 15_000): Promise<void> {
  let stop: (() => void) | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  return new Promise<void>((resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${label}`)),
      timeoutMs,
    );
    stop = effect(() => {
      if (predicate()) resolve();
    });
  }).finally(() => {
    clearTimeout(timer);
    queueMicrotask(() => stop?.());
  });
}

/** The third device: a Node app on the same server, its storage in memory. */
async function nodeDevice(server: RunningServer) {
  const app: App = createApp({ logger: quiet });
  app.register(new StoragePlugin({ driver: 'memory' }));
  app.register(new ConnectivityPlugin());
  const sync = app.register(new SyncPlugin({ baseUrl: `${server.url}/api` }));
  const notes = app.register(
    new Collection<Note>('notes', { url: '/notes', pullIntervalMs: 0, locks: false }),
  );
  await app.ready();
  return {
    app,
    notes,
    /** Send what is queued and wait until the server has answered it all. */
    async send(): Promise<void> {
      await sync.flush();
      await until(() => sync.pendingCount.value === 0, 'the Node device to send its changes');
      expect(sync.failedCount.value).toBe(0);
    },
    /** The id of the row titled `title` (it must be there). */
    idOf(title: string): string {
      const row = notes.items.value.find((note) => note.title === title);
      if (!row) throw new Error(`the Node device has no note "${title}"`);
      return row.id;
    },
  };
}

/** Wait until `page` shows exactly the server's rows (GET /api/notes), each saved. */
async function convergesOnServer(page: Page, label: string): Promise<void> {
  await expect
    .poll(
      async () => ({
        screen: JSON.stringify(await rowsOnScreen(page)),
        server: JSON.stringify(await serverRows(harness)),
      }),
      { timeout: 20_000, interval: 100, message: `${label} shows the server's rows` },
    )
    .toSatisfy(({ screen, server }) => screen === server);
}

test('two tabs edit offline, reload, come back: both converge on the server, with a Node device’s changes', async () => {
  const tab1 = await openApp(harness);
  await waitForServiceWorker(tab1); // the shell is cached: the tabs can reload offline
  const tab2 = await openApp(harness);

  // Online: three notes made in tab 1, saved; tab 2 shows them too. (A tab in the background
  // gets no animation frames, which Playwright's clicks wait for: the tab acted on comes first.)
  await tab1.bringToFront();
  await addNote(tab1, 'Alpha', 'a');
  await addNote(tab1, 'Beta', 'b');
  await addNote(tab1, 'Gamma', 'c');
  await expect
    .poll(async () => (await serverRows(harness)).length, {
      timeout: 10_000,
      message: 'three notes on the server',
    })
    .toBe(3);
  await convergesOnServer(tab1, 'tab 1');
  await convergesOnServer(tab2, 'tab 2');

  const device = await nodeDevice(harness.server);
  try {
    await device.notes.pull();
    expect(device.notes.items.value.map((note) => note.title)).toEqual(['Alpha', 'Beta', 'Gamma']);

    // Offline: each tab edits; they share one outbox.
    await setBrowserOffline(harness.context, true);
    for (const tab of [tab1, tab2])
      await expect
        .poll(() => statusBar(tab).connection.textContent(), { message: 'offline' })
        .toBe('Offline');
    await tab1.bringToFront();
    await editNote(tab1, 'Alpha', 'Alpha (tab 1)');
    await addNote(tab1, 'Tab 1 offline', 'one');
    await tab2.bringToFront();
    await editNote(tab2, 'Beta', 'Beta (tab 2)');
    await deleteNote(tab2, 'Gamma');
    await addNote(tab2, 'Tab 2 offline', 'two');
    for (const tab of [tab1, tab2]) {
      await waitForPending(tab, 5);
      // Each tab shows both tabs' changes; the deleted note stays, marked, until it is sent.
      await expect.poll(() => noteState(tab, 'Gamma'), { message: 'Gamma deleting' }).toBe('deleting');
      await noteRow(tab, 'Tab 1 offline').waitFor({ timeout: 10_000 });
      await noteRow(tab, 'Tab 2 offline').waitFor({ timeout: 10_000 });
    }

    // Meanwhile, the Node device (later, so its clock is later): Alpha's body, Beta's title (the
    // same field tab 2 changed: the later change wins), and a new note.
    await device.notes.update(device.idOf('Alpha'), { body: 'a (from node)' });
    await device.notes.update(device.idOf('Beta'), { title: 'Beta (node)' });
    await device.notes.insert({ title: 'From node', body: 'n' });
    await device.send();

    // Reload both tabs, still offline: everything is still there, still pending.
    const before = await rowsOnScreen(tab1);
    expect(before.map((row) => `${row.title} · ${row.state}`)).toEqual([
      'Tab 2 offline · saving',
      'Tab 1 offline · saving',
      'Gamma · deleting',
      'Beta (tab 2) · saving',
      'Alpha (tab 1) · saving',
    ]);
    for (const tab of [tab1, tab2]) {
      await tab.reload();
      await waitForApp(tab);
      await waitForPending(tab, 5);
      await expect
        .poll(async () => JSON.stringify(await rowsOnScreen(tab)), {
          timeout: 10_000,
          message: 'same rows after reload',
        })
        .toBe(JSON.stringify(before));
    }

    // Back online: the outbox drains, the tabs pull, and both show exactly the server's rows.
    await setBrowserOffline(harness.context, false);
    for (const tab of [tab1, tab2]) await waitForPending(tab, 0);
    await convergesOnServer(tab1, 'tab 1');
    await convergesOnServer(tab2, 'tab 2');
    const server = await serverRows(harness);
    expect(server.map(({ title, body }) => `${title}: ${body}`)).toEqual([
      'Tab 2 offline: two',
      'Tab 1 offline: one',
      'From node: n', // created on the server before the tabs' notes
      'Beta (node): b', // the Node device's title was the later change
      'Alpha (tab 1): a (from node)', // tab 1's title and the Node device's body: per field
    ]);
    // Where another device's later change won a field, the tab that sent says so.
    await expect
      .poll(
        async () => [
          await tab1.getByTestId('notice').textContent(),
          await tab2.getByTestId('notice').textContent(),
        ],
        { timeout: 10_000, message: 'a conflict notice' },
      )
      .toSatisfy((notices) =>
        notices.some((text: string | null) => /was also changed on another device/.test(text ?? '')),
      );
    for (const tab of [tab1, tab2]) {
      expect(await statusBar(tab).failed.textContent()).toBe('0');
      await expect
        .poll(() => statusBar(tab).status.textContent(), { message: 'synced' })
        .toBe('All changes synced');
    }

    // Online now: the Node device renames one note and deletes another. Tab 2 reloads (it pulls
    // on start); tab 1 gets the rows from tab 2's pull.
    await device.notes.pull();
    expect(
      device.notes.items.value.map(({ id, title, body }) => ({ id, title, body, state: 'saved' })),
    ).toEqual([...server].reverse());
    await device.notes.update(device.idOf('Tab 1 offline'), { title: 'Tab 1 offline (renamed on node)' });
    await device.notes.remove(device.idOf('From node'));
    await device.send();
    await tab2.reload();
    await waitForApp(tab2);
    await convergesOnServer(tab2, 'tab 2 after its reload');
    await convergesOnServer(tab1, 'tab 1 after tab 2 pulled');
    expect((await rowsOnScreen(tab1)).map((row) => row.title)).toEqual([
      'Tab 2 offline',
      'Tab 1 offline (renamed on node)',
      'Beta (node)',
      'Alpha (tab 1)',
    ]);
  } finally {
    await device.app.dispose();
  }
});

test('a refused change turns the bar to a warning, with Retry and Discard in the bar', async () => {
  const tab = await openApp(harness);
  const bar = statusBar(tab);
  const barState = () => tab.getByTestId('status-bar').getAttribute('data-state');
  await addNote(tab, 'Shared', 'one');
  await expect
    .poll(async () => (await serverRows(harness)).length, {
      timeout: 10_000,
      message: 'the note on the server',
    })
    .toBe(1);
  await expect.poll(barState, { message: 'bar ok' }).toBe('ok');

  // Offline: the bar says so, and why nothing is sent, in plain words.
  await setBrowserOffline(harness.context, true);
  await expect.poll(barState, { message: 'bar offline' }).toBe('offline');
  await expect
    .poll(() => tab.getByTestId('last-error').textContent(), { message: 'the plain explanation' })
    .toBe("Can't reach the server — your changes are saved on this device and will be sent when it's back.");
  await editNote(tab, 'Shared', 'Shared (edited offline)');

  // Online; the server refuses the edit for good (422). The edit is undone on screen, and the bar
  // says so instead of a green "All changes synced".
  await goOnlineAfterPull(harness, tab);
  await injectFaults(harness, [{ status: 422 }]);
  await resumeSending(tab);
  await expect.poll(() => bar.failed.textContent(), { timeout: 15_000, message: '1 failed' }).toBe('1');
  await expect.poll(() => bar.status.textContent(), { message: 'bar text' }).toBe('1 change was refused');
  await expect.poll(barState, { message: 'bar refused' }).toBe('refused');
  expect(await bar.connection.textContent()).toBe('Online');
  expect(await tab.getByTestId('last-error').isHidden()).toBe(true);
  await expect.poll(() => titlesOnScreen(tab), { message: 'the edit undone' }).toEqual(['Shared']);
  await expect
    .poll(() => tab.getByTestId('failed-op').textContent(), { message: 'the refused change listed' })
    .toBe('Edit “Shared (edited offline)”HTTP 422RetryDiscard');

  // Retry from the bar: sent again, accepted; the warning goes.
  await tab.getByTestId('retry-all').click();
  await expect.poll(() => bar.failed.textContent(), { timeout: 15_000, message: '0 failed' }).toBe('0');
  await expect.poll(barState, { message: 'bar ok again' }).toBe('ok');
  await expect.poll(() => bar.status.textContent(), { message: 'synced' }).toBe('All changes synced');
  await expect
    .poll(async () => (await serverRows(harness)).map((row) => row.title), {
      message: 'the edit on the server',
    })
    .toEqual(['Shared (edited offline)']);

  // Refused again, then discarded from the bar: the change is gone for good.
  await injectFaults(harness, [{ status: 422 }]);
  // (Online, the refusal may come before a check for the edited title: wait for the bar instead.)
  await noteRow(tab, 'Shared (edited offline)').getByTestId('edit-note').click();
  await tab.getByTestId('edit-title').fill('Never sent');
  await tab.getByTestId('save-note').click();
  await expect.poll(barState, { timeout: 15_000, message: 'bar refused again' }).toBe('refused');
  await tab.getByTestId('discard-all').click();
  await expect.poll(() => bar.failed.textContent(), { message: '0 failed after discard' }).toBe('0');
  await expect.poll(barState, { message: 'bar ok after discard' }).toBe('ok');
  await tab.getByTestId('refused-actions').waitFor({ state: 'hidden', timeout: 5_000 });
  await expect
    .poll(() => rowsOnScreen(tab), { message: "the server's note" })
    .toEqual(await serverRows(harness));
  expect((await serverRows(harness)).map((row) => row.title)).toEqual(['Shared (edited offline)']);
});

test('a note deleted on another device while edited offline: gone here too, and the app says why', async () => {
  const tab = await openApp(harness);
  const bar = statusBar(tab);
  await addNote(tab, 'Shared', 'kept by two devices');
  await expect
    .poll(async () => (await serverRows(harness)).length, {
      timeout: 10_000,
      message: 'the note on the server',
    })
    .toBe(1);
  // The insert left the queue too (the server has the row a moment before the answer is
  // committed here): the offline edit below must raise the count from 0, not replace the insert.
  await waitForPending(tab, 0);
  const device = await nodeDevice(harness.server);
  try {
    await device.notes.pull();
    await setBrowserOffline(harness.context, true);
    await expect.poll(() => bar.connection.textContent(), { message: 'offline' }).toBe('Offline');
    await editNote(tab, 'Shared', 'Shared (edited offline)');
    await device.notes.remove(device.idOf('Shared'));
    await device.send();

    // Online: the server answers 410 to the edit; the collection settles it as a conflict (the
    // note is gone), and the notice says so. Nothing is left refused or pending.
    await setBrowserOffline(harness.context, false);
    await expect
      .poll(() => tab.getByTestId('notice').textContent(), {
        timeout: 15_000,
        message: 'the conflict notice',
      })
      .toBe('“Shared (edited offline)” was deleted on another device, so your change to it was dropped.');
    await expect.poll(() => rowsOnScreen(tab), { message: 'the note gone' }).toEqual([]);
    await waitForPending(tab, 0);
    await expect.poll(() => bar.failed.textContent(), { message: '0 failed' }).toBe('0');
    await expect.poll(() => bar.status.textContent(), { message: 'synced' }).toBe('All changes synced');
    expect(await serverRows(harness)).toEqual([]);
  } finally {
    await device.app.dispose();
  }
});
