// A review of fluxy/collections (session 15): the defects left open last session, and what a
// skeptical user found. Each finding failed before its fix.
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it, onTestFinished } from 'vitest';
import { TestLockManager, webLocks } from '../support/lock-manager.js';
import { gate } from '../support/memory-store.js';
import { silentLogger } from '../sync/harness.js';
import {
  clockAgo,
  code,
  type Note,
  referenceServer,
  serverNotes,
  serverWrite,
  startDevice,
  until,
  withTimeout,
} from './harness.js';

describe('review s15: fields given by their own toJSON()', () => {
  it('takes a toJSON() that returns a plain object of several fields, as the outbox takes it', async () => {
    const server = await referenceServer();
    const device = await startDevice({ server, online: false });
    // A model object: its own keys are not what it sends (one key, two fields: refused).
    const model = { toJSON: () => ({ title: 'from toJSON', body: 'b' }) };
    const row = await device.notes.insert(model as unknown as Partial<Note>);
    expect(device.notes.get(row.id).value).toMatchObject({ title: 'from toJSON', body: 'b' });
    await device.notes.update(row.id, {
      toJSON: () => ({ title: 'changed', body: 'c' }),
    } as unknown as Partial<Note>);
    expect(device.notes.get(row.id).value).toMatchObject({ title: 'changed', body: 'c' });
    expect(device.sync.pendingCount.value).toBe(2);
  });

  it('refuses a toJSON() whose object has a field JSON would drop (undefined), changing nothing', async () => {
    const server = await referenceServer();
    const device = await startDevice({ server, online: false });
    const row = await device.notes.insert({ title: 'kept', body: '' });
    const shown = device.notes.items.value;
    // One own key (toJSON), one field once JSON drops the undefined one: the counts matched, and
    // `body` vanished silently.
    const fields = { toJSON: () => ({ title: 'x', body: undefined }) } as unknown as Partial<Note>;
    expect(await code(device.notes.insert(fields))).toBe('collections/invalid-row');
    expect(await code(device.notes.update(row.id, fields))).toBe('collections/invalid-row');
    expect(device.notes.items.value).toBe(shown);
    expect(device.sync.pendingCount.value).toBe(1);
  });
});

/**
 * Two tabs of one disk: `sender` sends the outbox (one Web Lock for both tabs' sync: the first
 * tab leads), `puller` pulls. The collections' BroadcastChannel is steered: while `hold` is set,
 * what the sender's collection posts waits until `release()`. Every pull of the puller once
 * `holdPull` is set waits, answered, until `page` opens (`fetched` opens then). `posted` opens
 * at the first message held. Restored when the test ends.
 */
async function twoTabs(server: Awaited<ReturnType<typeof referenceServer>>) {
  const RealChannel = globalThis.BroadcastChannel;
  const channels: BroadcastChannel[] = [];
  const held: Array<() => void> = [];
  const steer = { hold: false, holdPull: false, fetched: gate(), page: gate(), posted: gate() };
  globalThis.BroadcastChannel = class extends RealChannel {
    constructor(name: string) {
      super(name);
      if (name.startsWith('fluxy-collection:')) channels.push(this);
    }
    override postMessage(message: unknown): void {
      if (steer.hold && this === channels[0]) {
        held.push(() => super.postMessage(message));
        steer.posted.open();
      } else super.postMessage(message);
    }
  };
  const realFetch = globalThis.fetch;
  const pulling = new Set<typeof globalThis.fetch>();
  onTestFinished(() => {
    globalThis.BroadcastChannel = RealChannel;
    globalThis.fetch = realFetch;
    steer.page.open();
  });
  const syncLocks = new TestLockManager();
  const disk = new IDBFactory();
  const tabs: Array<Awaited<ReturnType<typeof startDevice>>> = [];
  for (let tab = 0; tab < 2; tab++) {
    // Each tab's own fetch: the puller's pulls are the ones held.
    const fetch: typeof globalThis.fetch = async (input, init) => {
      const response = await realFetch(input, init);
      if (pulling.has(fetch) && steer.holdPull && String(input).includes('/api/notes?since=')) {
        steer.fetched.open();
        await steer.page.promise;
      }
      return response;
    };
    if (tab === 1) pulling.add(fetch);
    const device = await startDevice({ server, disk, sync: { locks: syncLocks, fetch } });
    await device.notes.pull();
    tabs.push(device);
  }
  const [sender, puller] = tabs as [(typeof tabs)[0], (typeof tabs)[0]];
  const release = () => {
    steer.hold = false;
    for (const post of held.splice(0)) post();
  };
  return { sender, puller, steer, release };
}

describe('review s15: every tab converges when a pulled deletion crosses an answer', () => {
  it("another tab's answer heard after the page that deleted its row: the row shows in both tabs", async () => {
    const server = await referenceServer();
    // Another device made the note two minutes ago and deleted it one minute ago: before the update.
    const note = (
      await serverWrite(server, 'POST', '/api/notes', { title: 'start', body: '' }, clockAgo(120_000))
    ).body as Note;
    const { sender, puller, steer, release } = await twoTabs(server);
    expect(puller.notes.get(note.id).value?.title).toBe('start');
    sender.sync.pause();
    await sender.notes.update(note.id, { title: 'mine' });
    expect(
      (await serverWrite(server, 'DELETE', `/api/notes/${note.id}`, undefined, clockAgo(60_000))).status,
    ).toBe(204);
    // The puller's pull is answered (the note deleted) and held.
    steer.holdPull = true;
    const pulled = puller.notes.pull();
    await withTimeout(steer.fetched.promise, "the puller's page to be answered");
    // The update, newer than the deletion (last writer wins), brings the note back; the sender
    // shows it, and its message to the puller is held.
    steer.hold = true;
    sender.sync.resume();
    await until(() => sender.notes.get(note.id).value?.version === 2, 'the update to be answered');
    await withTimeout(steer.posted.promise, 'the sender to post its answer');
    // The page (asked for before the update) deletes the note in both tabs.
    steer.page.open();
    await pulled;
    await until(() => sender.notes.items.value.length === 0, "the sender to apply the puller's page");
    release();
    // Before: the puller showed the note from the sender's message, the sender did not (it had
    // applied the page after its answer), until a pull of the sender.
    await until(
      () =>
        puller.notes.get(note.id).value?.title === 'mine' &&
        sender.notes.get(note.id).value?.title === 'mine',
      'both tabs to show the note the update brought back',
      3000,
    );
    expect(puller.notes.items.value).toEqual(await serverNotes(server));
    expect(sender.notes.items.value).toEqual(puller.notes.items.value);
  });

  it('a deletion newer than the answer heard after it: the row is gone in both tabs', async () => {
    const server = await referenceServer();
    const note = (await serverWrite(server, 'POST', '/api/notes', { title: 'start', body: '' })).body as Note;
    const { sender, puller, steer, release } = await twoTabs(server);
    steer.page.open();
    steer.hold = true;
    await sender.notes.update(note.id, { title: 'mine' });
    await until(() => sender.notes.get(note.id).value?.version === 2, 'the update to be answered');
    await withTimeout(steer.posted.promise, 'the sender to post its answer');
    // Deleted after the update: the puller's page says so, before the sender's message comes.
    expect((await serverWrite(server, 'DELETE', `/api/notes/${note.id}`)).status).toBe(204);
    await puller.notes.pull();
    await until(() => sender.notes.items.value.length === 0, "the sender to apply the puller's page");
    release();
    await until(() => puller.notes.unconfirmed.value === 0, "the puller to hear the sender's answer");
    await until(() => !puller.notes.isPulling.value, 'the pull the answer started to end');
    // Before: the puller showed the note again from the late message, for good (no pull
    // mentions it again: the cursor is past the deletion).
    expect(await serverNotes(server)).toEqual([]);
    expect(puller.notes.items.value).toEqual([]);
    expect(sender.notes.items.value).toEqual([]);
  });
});

describe('review s15: memory', () => {
  it('forgets what the feed said of each row at the first pull that asks with no change pending', async () => {
    const server = await referenceServer();
    const ids: string[] = [];
    for (let n = 0; n < 3; n++)
      ids.push(((await serverWrite(server, 'POST', '/api/notes', { title: `n${n}` })).body as Note).id);
    await serverWrite(server, 'DELETE', `/api/notes/${ids[0]}`);
    // Every Map that a row id is set in with a version or null (what the feed said of the row).
    const maps = new Set<Map<unknown, unknown>>();
    const realSet = Map.prototype.set;
    Map.prototype.set = function <K, V>(this: Map<K, V>, key: K, value: V) {
      if (ids.includes(key as string) && (value === null || typeof value === 'number'))
        maps.add(this as Map<unknown, unknown>);
      return realSet.call(this, key, value) as Map<K, V>;
    };
    onTestFinished(() => {
      Map.prototype.set = realSet;
    });
    const device = await startDevice({ server });
    await device.notes.pull();
    device.sync.pause();
    await device.notes.update(ids[1] as string, { title: 'changed' });
    await serverWrite(server, 'DELETE', `/api/notes/${ids[2]}`);
    await device.notes.pull(); // the update pending: kept
    device.sync.resume();
    await until(
      () => device.notes.unconfirmed.value === 0 && device.sync.pendingCount.value === 0,
      'the update to be answered',
    );
    await device.notes.pull(); // brings the row the update changed
    await device.notes.pull(); // nothing pending when asked: what the feed said is forgotten
    Map.prototype.set = realSet;
    expect(device.notes.items.value).toEqual(await serverNotes(server));
    expect(maps.size).toBeGreaterThan(0);
    // It held every row pulled and every deletion, for the life of the collection.
    for (const map of maps) for (const id of ids) expect(map.has(id), id).toBe(false);
  });
});

describe('review s15: memory of a tab that does not pull', () => {
  it("keeps none of the rows other tabs' answers and pages confirmed", async () => {
    const server = await referenceServer();
    const a = await startDevice({ server });
    const b = await startDevice({ server, disk: a.disk, online: false }); // never pulls: offline
    // Every Set that a row id is added to as the rows of a message are shown (not the sets made
    // to sort the rows, which are dropped at once).
    const sets = new Map<Set<unknown>, Set<string>>();
    const realAdd = Set.prototype.add;
    Set.prototype.add = function <T>(this: Set<T>, value: T) {
      const stack = new Error().stack ?? '';
      if (
        typeof value === 'string' &&
        /^n_\d+_[0-9a-z]+$/.test(value) &&
        stack.includes('applyRows') &&
        !stack.includes('sortedIds')
      ) {
        const ids = sets.get(this as Set<unknown>) ?? new Set<string>();
        realAdd.call(ids, value);
        sets.set(this as Set<unknown>, ids);
      }
      return realAdd.call(this, value) as Set<T>;
    };
    onTestFinished(() => {
      Set.prototype.add = realAdd;
    });
    for (let n = 0; n < 3; n++) await a.notes.insert({ title: `n${n}` });
    await until(() => a.notes.unconfirmed.value === 0 && a.sync.pendingCount.value === 0, 'the inserts');
    await a.notes.pull();
    await until(
      () => b.notes.items.value.length === 3 && b.notes.unconfirmed.value === 0,
      "tab b to show tab a's rows",
    );
    Set.prototype.add = realAdd;
    // Tab b noted every row it heard of, for a doubt only a pull of its own could have.
    for (const [set, ids] of sets) for (const id of ids) expect(set.has(id), id).toBe(false);
  });
});

describe('review s15: pull() while an automatic pull runs', () => {
  it('waits for the pull another tab holds when the one that follows the running pull is skipped for it', async () => {
    const server = await referenceServer();
    // Web Locks as the tabs of one browser have them (ifAvailable: the callback gets null when
    // the lock is held), told of every request of the collection's pull lock.
    let pullLock = '';
    const manualRequest = gate();
    let otherTabAsks = false; // (the other tab's request below is not the collection's)
    const collectionLocks = webLocks((name, options) => {
      if (name.endsWith(':pull') && !otherTabAsks) {
        pullLock = name;
        if (!options.ifAvailable) manualRequest.open();
      }
    });
    const realFetch = globalThis.fetch;
    const steer = { hold: false, asked: gate(), page: gate() };
    globalThis.fetch = async (input, init) => {
      if (steer.hold && String(input).includes('/api/notes?since=')) {
        steer.hold = false;
        steer.asked.open();
        await steer.page.promise;
      }
      return realFetch(input, init);
    };
    const otherTab = gate();
    onTestFinished(() => {
      globalThis.fetch = realFetch;
      steer.page.open();
      otherTab.open();
    });
    const device = await startDevice({ server, collection: { locks: collectionLocks } });
    await until(() => device.notes.lastPulledAt.value !== null, 'the start-up pull');
    // An automatic pull (back online), its request held.
    steer.hold = true;
    device.connectivity.setOnline(false);
    device.connectivity.setOnline(true);
    await withTimeout(steer.asked.promise, 'the automatic pull to ask');
    const pulled = device.notes.pull(); // asked after the running pull's request: pulls again
    // Back online again meanwhile: another automatic pull follows the running one.
    device.connectivity.setOnline(false);
    device.connectivity.setOnline(true);
    // Another tab asks for the pull lock: it gets it when the running pull ends, so the automatic
    // pull that follows is skipped (ifAvailable).
    otherTabAsks = true;
    const otherTabPulled = collectionLocks.request(pullLock, {}, () => otherTab.promise);
    otherTabAsks = false;
    steer.page.open();
    // Before: pull() resolved at once, with the other tab's pull still running.
    const first = await withTimeout(
      Promise.race([
        pulled.then(() => 'pull() resolved'),
        manualRequest.promise.then(() => "pull() waits for the other tab's pull"),
      ]),
      'pull() to resolve or to ask for the lock',
    );
    expect(first).toBe("pull() waits for the other tab's pull");
    otherTab.open();
    await otherTabPulled;
    await withTimeout(pulled, 'pull() once the other tab is done');
  });
});

describe('review s15: an answer without the row', () => {
  it('is warned once (not once per handling of the answer), and the production build keeps the kind', async () => {
    const server = await referenceServer();
    const warnings: unknown[][] = [];
    const logger = { ...silentLogger, warn: (...args: unknown[]) => void warnings.push(args) };
    // The server applies an update; its answer reaches the app as a 200 without the row (as from
    // a server that answers `{}`).
    const realFetch = globalThis.fetch;
    onTestFinished(() => {
      globalThis.fetch = realFetch;
    });
    globalThis.fetch = async (input, init) => {
      const response = await realFetch(input, init);
      return init?.method === 'PATCH' ? new Response('{}', { status: 200 }) : response;
    };
    const device = await startDevice({ server, logger });
    await device.notes.insert({ title: 'a', body: '' });
    await device.sync.flush();
    const id = device.notes.items.value[0]?.id as string;
    await device.notes.update(id, { title: 'b' });
    await device.sync.flush();
    await until(() => warnings.length > 0, 'the warning', 5000);
    // The pull it sets off shows the server's row; by then both handlings of the answer ran.
    await device.notes.pull();
    expect(device.notes.get(id).value?.title).toBe('b');
    const noRow = warnings.filter(([message]) => String(message).includes('has no row'));
    expect(noRow).toHaveLength(1);
    expect(noRow[0]).toContain('notes.update');
  });
});
