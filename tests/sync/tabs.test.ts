import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FaultServer } from '../../src/testing/index.js';
import { TestLockManager } from '../support/lock-manager.js';
import { gate, MemoryStore } from '../support/memory-store.js';
import { exactlyOnceInOrder, makeEngine, until, withTimeout } from './harness.js';

let server: FaultServer;
let channel: string;
const cleanups: Array<() => Promise<void>> = [];
beforeEach(async () => {
  server = await FaultServer.start();
  channel = `tabs-${Math.random()}`;
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  await server.close();
});

function openTabs(count: number, store: MemoryStore, locks: TestLockManager, online = false) {
  return Array.from({ length: count }, () => {
    const tab = makeEngine({ baseUrl: server.url, store, locks, channel, online });
    cleanups.push(() => tab.engine.dispose());
    return tab;
  });
}

describe('several tabs on one queue', () => {
  it('exactly one tab flushes; every operation reaches the server once; every tab sees 0 pending', async () => {
    const store = new MemoryStore();
    const locks = new TestLockManager();
    const tabs = openTabs(3, store, locks);
    await Promise.all(tabs.map((tab) => tab.engine.start()));
    const ids: string[] = [];
    const perTab: string[][] = tabs.map(() => []);
    for (let round = 0; round < 3; round++) {
      for (const [index, tab] of tabs.entries()) {
        const { id } = await tab.queue('POST', `/api/${index}/${round}`, { body: { round } });
        ids.push(id);
        perTab[index]?.push(id);
      }
    }
    await until(() => tabs.every((tab) => tab.engine.pendingCount.value === 9));
    for (const tab of tabs) tab.online.value = true;
    await until(() => tabs.every((tab) => tab.engine.pendingCount.value === 0));
    expect(server.received).toHaveLength(9);
    const applied = server.applied.map((entry) => entry.key);
    // Sent in key order; each tab's operations in that tab's enqueue order (tabs interleave by time).
    expect(exactlyOnceInOrder(applied, [...ids].sort())).toStrictEqual([]);
    for (const own of perTab) expect(applied.filter((key) => own.includes(key as string))).toStrictEqual(own);
    expect(locks.grants).toBe(1);
  });

  it('when the leader closes, a waiting tab takes over and sends what the closed tab queued', async () => {
    const store = new MemoryStore();
    const locks = new TestLockManager();
    const [leader, follower] = openTabs(2, store, locks);
    if (!leader || !follower) throw new Error('tabs');
    await leader.engine.start();
    await follower.engine.start();
    const op = await leader.queue('POST', '/api/from-leader', { body: {} });
    await until(() => follower.engine.pendingCount.value === 1);
    await leader.engine.dispose();
    follower.online.value = true;
    await until(() => follower.engine.pendingCount.value === 0);
    expect(locks.grants).toBe(2);
    expect(server.applied.map((entry) => entry.key)).toStrictEqual([op.id]);
  });

  it('a follower mirrors the leader: isSyncing while it sends, pause() from any tab', async () => {
    server.script('hang');
    const store = new MemoryStore();
    const locks = new TestLockManager();
    const [leader, follower] = openTabs(2, store, locks, true);
    if (!leader || !follower) throw new Error('tabs');
    await leader.engine.start();
    await follower.engine.start();
    await follower.queue('POST', '/api/x', { body: {} });
    await server.waitForRequests(1);
    await until(() => follower.engine.isSyncing.value && follower.engine.status.value === 'syncing');
    follower.engine.pause();
    await until(() => leader.engine.status.value === 'paused');
  });

  it('a tab opened while another sends: an op sent during its first scan is not counted pending', async () => {
    const store = new MemoryStore();
    const locks = new TestLockManager();
    const [leader, other] = openTabs(2, store, locks);
    if (!leader || !other) throw new Error('tabs');
    await leader.engine.start();
    await other.engine.start();
    await leader.queue('POST', '/api/x', { body: {} });
    await until(() => other.engine.pendingCount.value === 1, 'the other tab to see the op');
    await other.engine.dispose();
    // The tab opened again (a reload): its first scan lists the op, then waits while the leader sends it.
    const listed = gate();
    const resume = gate();
    let first = true;
    const reopened: MemoryStore = Object.create(store);
    reopened.keys = async (prefix) => {
      const keys = await store.keys(prefix);
      if (first) {
        first = false;
        listed.open();
        await resume.promise;
      }
      return keys;
    };
    const tab = makeEngine({ baseUrl: server.url, store: reopened, locks, channel, online: false });
    cleanups.push(() => tab.engine.dispose());
    const started = tab.engine.start();
    await withTimeout(listed.promise, 'the first scan to list the op');
    const observer = new BroadcastChannel(channel);
    const told = new Promise<void>((resolve) =>
      observer.addEventListener('message', (event) => {
        if ((event as MessageEvent<{ type: string }>).data.type === 'removed') resolve();
      }),
    );
    leader.online.value = true;
    await withTimeout(told, 'the leader to tell the op was sent');
    observer.close();
    resume.open();
    await started;
    // It said 1 until its next rescan (a minute later): the removal told meanwhile was not heard.
    expect(tab.engine.pendingCount.value).toBe(0);
    expect(leader.engine.pendingCount.value).toBe(0);
  });
});
