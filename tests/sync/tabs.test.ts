import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FaultServer } from '../../src/testing/index.js';
import { TestLockManager } from '../support/lock-manager.js';
import { MemoryStore } from '../support/memory-store.js';
import { exactlyOnceInOrder, makeEngine, until } from './harness.js';

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
});
