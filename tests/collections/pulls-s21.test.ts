import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { Collection } from '../../src/plugins/collections/index.js';
import { createTestApp, FaultServer } from '../../src/testing/index.js';
import { expectQuiet, silentLogger } from '../sync/harness.js';
import { code, deniedFeed, until, withTimeout } from './harness.js';

// Audit 21 of collection pulls: a pull's 401 emitted no 'unauthorized' event (finding 1); a feed
// that always says `more` made a pull endless, and froze the page when its fetch answered in
// microtasks (finding 2, M5); a failed pull was tried again at every change of the outbox's
// status, outside its backoff (finding 3).

describe('collections: a pull answered 401 (audit 21, finding 1)', () => {
  it("emits sync's 'unauthorized' once, pauses until resume(), which pulls", async () => {
    const { t, notes, denied, heard, pulls } = await deniedFeed(0, 1000);
    await t.app.ready(); // the pull at ready()
    await until(() => notes.lastError.value?.status === 401, 'the pull at ready() to get its 401');
    expect(t.sync.status.value).toBe('paused');
    expect(heard).toHaveLength(1);
    expect(heard[0]).toMatchObject({
      status: 401,
      operation: { id: 'read', kind: 'read', method: 'GET', url: '/notes?since=' },
    });
    // Paused after a 401, nothing asks again before resume(): not the backoff (200 ms), not a
    // reconnect, not the interval (1 s) — each would be another 401, another 'unauthorized'.
    t.goOffline();
    t.goOnline();
    await expectQuiet('pulls while paused after a 401', pulls, { windowMs: 1300 });
    expect(heard).toHaveLength(1);
    denied.value = false; // logged in again
    t.sync.resume();
    await until(() => notes.lastPulledAt.value !== null, 'the pull resume() starts', 1500);
    expect(notes.lastError.value).toBe(null);
    expect(heard).toHaveLength(1);
    expect(t.sync.status.value).not.toBe('paused');
  });

  it("pauses for the same reason as a write's 401: sync.retry() lifts the pause, and pulls", async () => {
    const { t, notes, denied, heard } = await deniedFeed(1, 0);
    await t.app.ready();
    expect(await code(notes.pull())).toBe('collections/pull-failed');
    expect(t.sync.status.value).toBe('paused');
    expect(heard).toHaveLength(1);
    denied.value = false;
    await t.sync.retry(); // lifts a 401's pause (not a pause() of the app's)
    await until(() => notes.lastPulledAt.value !== null, 'the pull retry() starts', 1500);
    expect(t.sync.status.value).not.toBe('paused');
  });

  it('sync.read() answered 401 resolves with it, pauses and emits the event', async () => {
    const { t, heard } = await deniedFeed(1, 0);
    await t.app.ready();
    const answer = await t.sync.read('/notes?since=');
    expect(answer.status).toBe(401);
    expect(t.sync.status.value).toBe('paused');
    expect(heard).toEqual([
      {
        status: 401,
        operation: expect.objectContaining({ kind: 'read', method: 'GET', url: '/notes?since=' }),
      },
    ]);
  });
});

/** A real server whose feed always says more, with a new cursor each page (the next number). */
async function endlessFeed() {
  const asked: string[] = [];
  const waiters: Array<[count: number, resolve: () => void]> = [];
  const server = createServer((request, response) => {
    const since = new URL(request.url ?? '/', 'http://host').searchParams.get('since') ?? '';
    asked.push(since);
    for (const [count, resolve] of waiters) if (asked.length >= count) resolve();
    const n = Number(since);
    response.writeHead(200, { 'Content-Type': 'application/json' }).end(
      JSON.stringify({
        changes: [{ id: `r${n}`, version: 1 }],
        deleted: [],
        cursor: `${n + 1}`,
        more: true,
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const requests = (count: number, label: string) =>
    withTimeout(new Promise<void>((resolve) => waiters.push([count, resolve])), label, 60_000);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, asked, requests };
}

describe('collections: a feed that always says more (audit 21, finding 2)', () => {
  it('a pull stops after 1000 pages (bad-response), what it fetched stored; the next goes on from there', async () => {
    const feed = await endlessFeed();
    const t = await createTestApp({ sync: { baseUrl: feed.url }, app: { logger: silentLogger } });
    onTestFinished(() => t.dispose());
    const notes = t.app.register(new Collection('notes', { url: '/notes', pullIntervalMs: 0, locks: false }));
    await t.app.ready();
    const failure = await withTimeout(code(notes.pull()), 'a pull of an endless feed to end', 60_000);
    expect(failure).toBe('collections/bad-response');
    expect(feed.asked).toHaveLength(1000);
    expect(notes.lastError.value?.code).toBe('collections/bad-response');
    expect(notes.items.value).toHaveLength(1000);
    const again = notes.pull();
    await feed.requests(1001, 'the next pull to ask');
    expect(feed.asked[1000]).toBe('1000'); // the stored cursor, not the first page again
    await t.dispose();
    expect(await code(again)).toBe('app/disposed');
  }, 90_000);

  it('yields to the event loop between pages, also when the fetch answers in microtasks', async () => {
    // A fetch that answers at once (an in-memory cache, a test double): what froze the page. The
    // feed ends after 200 pages, so the test ends without the fix too.
    let served = 0;
    let servedWhenTimerRan = -1;
    const asked: string[] = [];
    const fetch = async (input: RequestInfo | URL): Promise<Response> => {
      const since = new URL(String(input)).searchParams.get('since') ?? '';
      asked.push(since);
      const n = Number(since);
      served++;
      if (served === 2) setTimeout(() => (servedWhenTimerRan = served));
      const page = { changes: [{ id: `r${n}`, version: 1 }], deleted: [], cursor: `${n + 1}`, more: n < 199 };
      return new Response(JSON.stringify(page), { headers: { 'Content-Type': 'application/json' } });
    };
    const t = await createTestApp({
      sync: { baseUrl: 'http://127.0.0.1:9', fetch },
      app: { logger: silentLogger },
    });
    onTestFinished(() => t.dispose());
    const notes = t.app.register(new Collection('notes', { url: '/notes', pullIntervalMs: 0, locks: false }));
    await t.app.ready();
    await withTimeout(notes.pull(), 'a pull of 200 pages answered in microtasks');
    expect(served).toBe(200);
    expect(notes.items.value).toHaveLength(200);
    // A timer set while page 2 was fetched ran a page or two later, not after the last page.
    expect(servedWhenTimerRan).toBeGreaterThan(1);
    expect(servedWhenTimerRan).toBeLessThan(5);
    // Every page was stored with its cursor: the next pull asks since the last one.
    await notes.pull();
    expect(asked.at(-1)).toBe('200');
  });
});

describe('collections: a failed pull is tried again by its backoff (audit 21, finding 3)', () => {
  it('not at every change of the outbox status; at sync.resume() and at a reconnect', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(1); // backoff windows at their longest
    onTestFinished(() => {
      vi.restoreAllMocks();
    });
    const server = await FaultServer.start({
      collections: { '/notes': {} },
      choose: (request) => (request.method === 'GET' ? { status: 503 } : 'ok'),
    });
    onTestFinished(() => server.close());
    const t = await createTestApp({ sync: { baseUrl: server.url }, app: { logger: silentLogger } });
    onTestFinished(() => t.dispose());
    // pullIntervalMs 0: no scheduled pull at all, only pull() and the retries of a failed one.
    const notes = t.app.register(new Collection('notes', { url: '/notes', pullIntervalMs: 0, locks: false }));
    await t.app.ready();
    // Four failures in a row: the next retry is 16 s away.
    for (let failed = 0; failed < 4; failed++)
      expect(await code(notes.pull())).toBe('collections/pull-failed');
    const pulls = () => server.received.filter((request) => request.method === 'GET').length;
    expect(pulls()).toBe(4);
    // The outbox sends a write: its status goes 'syncing', then 'idle'. No pull for that.
    await notes.insert({ title: 'a' });
    await until(
      () => t.sync.pendingCount.value === 0 && t.sync.status.value === 'idle',
      'the insert to be sent',
    );
    await expectQuiet('pulls at changes of the outbox status', pulls, { windowMs: 400 });
    expect(pulls()).toBe(4);
    // Leaving 'paused' (sync.resume(), after a re-login) tries the failed pull at once…
    let failure = notes.lastError.value;
    t.sync.pause();
    t.sync.resume();
    await until(() => notes.lastError.value !== failure, 'the pull resume() starts to fail');
    expect(pulls()).toBe(5);
    // … and so does a reconnect (a retry that came while offline was skipped).
    t.goOffline();
    await expectQuiet('pulls at going offline', pulls, { windowMs: 200 });
    failure = notes.lastError.value;
    t.goOnline();
    await until(() => notes.lastError.value !== failure, 'the pull at the reconnect to fail');
    expect(pulls()).toBe(6);
  });
});
