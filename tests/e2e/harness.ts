// Shared set-up for the end-to-end tests: a reference server on a free port, Chromium with an
// on-disk profile, and small helpers that drive the notes app through its UI.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterEach, beforeEach, expect } from 'vitest';
import { NOTES_DIST } from '../../examples/notes/build.mjs';
import type { Fault, LogEntry, RunningServer } from '../../examples/server/server.d.mts';
import { createServer } from '../../examples/server/server.mjs';
import { chromiumArgs, chromiumPath } from '../../scripts/chromium.mjs';

export { chromiumPath };
/** Where screenshots go as test artifacts (git-ignored). */
export const artifactsDir = join(process.cwd(), 'test-results', 'e2e');
/** Small PBKDF2 cost (tests only) and fast retries/probes, set through the app's URL. */
export const testQuery = 'iterations=10000&retryMs=200';

export interface Harness {
  server: RunningServer;
  /**
   * One line per request the server answered or dropped, in the order their connections closed:
   * `METHOD /path?query → status` (or `→ connection closed, no response`). Counted by the server,
   * so a request is seen even when the page that sent it is being reloaded.
   */
  requests: string[];
  context: BrowserContext;
  /** Stop the browser and the server, delete the profile and the data file. */
  close(): Promise<void>;
}

/**
 * A reference server (free port, its own data file) serving the built app, and Chromium with a
 * fresh persistent profile: IndexedDB lives on disk, as for a user (an off-the-record
 * `newContext()` would keep it in memory).
 */
/** A fresh harness (server + browser) before each test, closed after it; `use` receives it. */
export function harnessPerTest(use: (harness: Harness) => void): void {
  let current: Harness | undefined;
  beforeEach(async () => {
    current = await startHarness();
    use(current);
  });
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
}

export async function startHarness(): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'fluxy-e2e-'));
  const requests: string[] = [];
  const server = await createServer({
    port: 0,
    dataFile: join(dir, 'db.json'),
    staticDir: NOTES_DIST,
    log: (line) => requests.push(line),
  });
  const context = await launchProfile(join(dir, 'profile'));
  return {
    server,
    requests,
    context,
    async close() {
      await context.close().catch(() => undefined);
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Debian's Chromium on a persistent profile in `dir` (another device: another profile). */
export function launchProfile(dir: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(dir, {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 900, height: 640 },
    args: [...chromiumArgs],
  });
}

/** Open the app in a new tab (or the given one) and wait until it has started. */
export async function openApp(harness: Harness, query = testQuery, page?: Page): Promise<Page> {
  const tab = page ?? (await harness.context.newPage());
  tab.on('pageerror', (error) => console.error(`[page error] ${error.message}`));
  await tab.goto(`${harness.server.url}/?${query}`);
  await waitForApp(tab);
  return tab;
}

/** Wait for the app's bootstrap (`ready()` and the first render) to finish. */
export async function waitForApp(page: Page): Promise<void> {
  await page.locator('html[data-ready="true"]').waitFor({ state: 'attached', timeout: 20_000 });
}

// ——— the server's side ———

/** The id the server gives its `n`-th note (ids carry the data's epoch: `n_<n>_<epoch>`). */
export function noteId(harness: Harness, n: number): string {
  return `n_${n}_${harness.server.state.epoch}`;
}

export async function serverLog(harness: Harness): Promise<LogEntry[]> {
  return (await fetch(`${harness.server.url}/api/_log`)).json() as Promise<LogEntry[]>;
}

export async function injectFaults(harness: Harness, faults: Fault[]): Promise<void> {
  const response = await fetch(`${harness.server.url}/api/_faults`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(faults),
  });
  expect(response.status).toBe(200);
}

export async function queuedFaults(harness: Harness): Promise<Fault[]> {
  return (await fetch(`${harness.server.url}/api/_faults`)).json() as Promise<Fault[]>;
}

// ——— "offline" ———

/**
 * The browser's own offline switch: `navigator.onLine` turns false, `offline` fires, every
 * request from the page fails. Navigations fail too, unless the app's service worker serves the
 * page (see waitForServiceWorker).
 */
export async function setBrowserOffline(context: BrowserContext, offline: boolean): Promise<void> {
  await context.setOffline(offline);
}

/**
 * Wait until the app's service worker is active and controls the page: its shell is cached, so
 * from now on the page also loads offline. Resolves with the worker's script URL; rejects after
 * `timeoutMs`, saying what it waited for.
 */
export async function waitForServiceWorker(page: Page, timeoutMs = 15_000): Promise<string> {
  return page.evaluate(async (ms) => {
    const { serviceWorker } = navigator;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new Error(`timed out after ${ms} ms: the service worker active and controlling the page`)),
        ms,
      );
    });
    try {
      // An active worker (installed: shell cached).
      const registration = await Promise.race([serviceWorker.ready, timeout]);
      if (!serviceWorker.controller) {
        // It claims the page when it activates; the event may still be on its way.
        await Promise.race([
          new Promise((resolve) =>
            serviceWorker.addEventListener('controllerchange', resolve, { once: true }),
          ),
          timeout,
        ]);
      }
      return registration.active?.scriptURL ?? '';
    } finally {
      clearTimeout(timer);
    }
  }, timeoutMs);
}

// ——— the app's UI ———

export function statusBar(page: Page) {
  return {
    connection: page.getByTestId('connection'),
    status: page.getByTestId('sync-status'),
    pending: page.getByTestId('pending-count'),
    failed: page.getByTestId('failed-count'),
  };
}

/**
 * Switch the browser offline and wait until the page knows it (`navigator.onLine` false: the
 * switch reaches the page a moment after the browser acknowledges it) and its status bar says so
 * (which it also does before its first probe has answered: the page's own reading comes first).
 */
export async function goOffline(harness: Harness, page: Page): Promise<void> {
  await setBrowserOffline(harness.context, true);
  await expect
    .poll(() => page.evaluate(() => navigator.onLine), { message: 'navigator.onLine false in the page' })
    .toBe(false);
  await expect
    .poll(() => statusBar(page).connection.textContent(), { message: 'the bar offline' })
    .toBe('Offline');
}

/** Wait until the status bar shows `count` pending. */
export async function waitForPending(page: Page, count: number, timeout = 30_000): Promise<void> {
  await expect
    .poll(() => page.getByTestId('pending-count').textContent(), {
      timeout,
      interval: 50,
      message: `${count} pending`,
    })
    .toBe(String(count));
}

export function noteRow(page: Page, title: string) {
  return page
    .getByTestId('note')
    .filter({ has: page.getByTestId('note-title').getByText(title, { exact: true }) });
}

export async function addNote(page: Page, title: string, body = ''): Promise<void> {
  const before = await page.getByTestId('pending-count').textContent();
  await page.getByTestId('new-note-title').fill(title);
  await page.getByTestId('new-note-body').fill(body);
  await page.getByTestId('add-note').click();
  await noteRow(page, title).waitFor({ timeout: 10_000 });
  await waitForQueued(page, before);
}

export async function editNote(page: Page, title: string, newTitle: string, newBody?: string): Promise<void> {
  const before = await page.getByTestId('pending-count').textContent();
  await noteRow(page, title).getByTestId('edit-note').click();
  await page.getByTestId('edit-title').fill(newTitle);
  if (newBody !== undefined) await page.getByTestId('edit-body').fill(newBody);
  await page.getByTestId('save-note').click();
  await noteRow(page, newTitle).waitFor({ timeout: 10_000 });
  await waitForQueued(page, before);
}

/**
 * Delete a note: offline it stays on screen as "deleting…" until the deletion is sent; online it
 * may be sent (and gone) before the test looks.
 */
export async function deleteNote(page: Page, title: string): Promise<void> {
  const before = await page.getByTestId('pending-count').textContent();
  await noteRow(page, title).getByTestId('delete-note').click();
  await expect
    .poll(async () => ((await noteRow(page, title).count()) === 0 ? 'gone' : await noteState(page, title)), {
      timeout: 10_000,
      message: `"${title}" deleting or gone`,
    })
    .toMatch(/^(gone|deleting)$/);
  await waitForQueued(page, before);
}

/** The state of a note on screen: `saved`, `saving` or `deleting`. */
export async function noteState(page: Page, title: string): Promise<string | null> {
  return noteRow(page, title).first().getAttribute('data-state', { timeout: 5_000 });
}

/** A note as the screen shows it. */
export interface RowOnScreen {
  id: string;
  title: string;
  body: string;
  state: string;
}

/** Every note on screen, top to bottom (newest first), with its id and state. */
export async function rowsOnScreen(page: Page): Promise<RowOnScreen[]> {
  return page.getByTestId('note').evaluateAll((rows) =>
    rows.map((row) => ({
      id: row.getAttribute('data-key') ?? '',
      title: row.querySelector('[data-testid="note-title"]')?.textContent ?? '',
      body: row.querySelector('[data-testid="note-body"]')?.textContent ?? '',
      state: row.getAttribute('data-state') ?? '',
    })),
  );
}

/** The server's notes (GET /api/notes) as the app shows them once synced: newest (highest id) first. */
export async function serverRows(harness: Harness): Promise<RowOnScreen[]> {
  const notes = (await (await fetch(`${harness.server.url}/api/notes`)).json()) as Array<{
    id: string;
    title: string;
    body: string;
  }>;
  return notes
    .map(({ id, title, body }) => ({ id, title, body, state: 'saved' }))
    .sort((a, b) => b.id.length - a.id.length || (a.id < b.id ? 1 : -1));
}

/** Offline, a queued change raises the pending count once it is committed. */
async function waitForQueued(page: Page, before: string | null): Promise<void> {
  const online = (await page.getByTestId('connection').textContent()) === 'Online';
  if (!online)
    await expect
      .poll(() => page.getByTestId('pending-count').textContent(), {
        timeout: 10_000,
        message: 'the change counted as pending',
      })
      .not.toBe(before);
}

/** The titles of the notes on screen (also those being deleted), top to bottom (newest first). */
export async function titlesOnScreen(page: Page): Promise<string[]> {
  return page.getByTestId('note-title').allTextContents();
}

// ——— the app's handle (window.fluxyNotes, set by main.ts) ———

interface PendingOp {
  id: string;
  method: string;
  url: string;
}

/** The ids (= Idempotency-Keys) of the pending operations, in send order. */
export async function pendingOperations(page: Page): Promise<PendingOp[]> {
  return page.evaluate(async () => {
    const { sync } = (globalThis as unknown as { fluxyNotes: FluxyNotesHandle }).fluxyNotes;
    const ops = await sync.pending();
    return ops.map((op) => ({ id: op.id, method: op.method ?? '', url: op.url ?? '' }));
  });
}

/** What main.ts puts on `globalThis.fluxyNotes` (only what the tests use). */
export interface FluxyNotesHandle {
  sync: {
    pending(): Promise<Array<{ id: string; method?: string; url?: string }>>;
    coordination: string | undefined;
    pause(): void;
    resume(): void;
  };
  collection: {
    isPulling: { value: boolean };
    lastPulledAt: { value: number | null };
  };
}

/**
 * Back online with sending paused, until the pull that reconnecting starts has finished. The
 * server's fault queue serves pulls as well as writes: a test that scripts faults for the writes
 * queues them after this, then calls resumeSending(), so the faults meet the writes.
 */
export async function goOnlineAfterPull(harness: Harness, page: Page): Promise<void> {
  const before = await page.evaluate(() => {
    const { sync, collection } = (globalThis as unknown as { fluxyNotes: FluxyNotesHandle }).fluxyNotes;
    sync.pause();
    return collection.lastPulledAt.value;
  });
  await setBrowserOffline(harness.context, false);
  await expect
    .poll(
      () =>
        page.evaluate(() => {
          const { collection } = (globalThis as unknown as { fluxyNotes: FluxyNotesHandle }).fluxyNotes;
          return collection.isPulling.value ? null : collection.lastPulledAt.value;
        }),
      { timeout: 15_000, interval: 50, message: 'the pull after reconnecting' },
    )
    .toSatisfy((pulledAt) => typeof pulledAt === 'number' && pulledAt !== before);
}

/** Let the outbox send again (after goOnlineAfterPull). */
export async function resumeSending(page: Page): Promise<void> {
  await page.evaluate(() =>
    (globalThis as unknown as { fluxyNotes: FluxyNotesHandle }).fluxyNotes.sync.resume(),
  );
}

// ——— screenshots ———

/**
 * Save a screenshot to test-results/e2e (a git-ignored artifact) and, with UPDATE_SCREENSHOTS=1,
 * to docs/screenshots as well (the committed images docs/examples.md shows).
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  await page.evaluate(() => window.scrollTo(0, 0)); // focusing an edit field may have scrolled
  const image = await page.screenshot({ fullPage: false });
  const folders = [artifactsDir];
  if (process.env.UPDATE_SCREENSHOTS === '1') folders.push(join(process.cwd(), 'docs', 'screenshots'));
  for (const folder of folders) {
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, `${name}.png`), image);
  }
}
