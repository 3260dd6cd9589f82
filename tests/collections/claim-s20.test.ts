// Session 20 (audit 19, finding 2): under 'server-wins', 'client-wins' or a merge function, a
// user's own rapid edits of a row are refused (412: each pending change carries the same
// If-Match). The collection settles those refusals as its own (no conflict) — and now claims them
// (sync.handle's `claim()`), so the outbox never reports them: no `failed` event, `failedCount`
// never above 0, in the tab that sends and in another tab. A real conflict still goes through the
// failed list, as docs/conflicts.md says.
import { effect } from '@preact/signals-core';
import { describe, expect, it } from 'vitest';
import type { ConflictEvent, ConflictStrategy } from '../../src/plugins/collections/index.js';
import { TestLockManager } from '../support/lock-manager.js';
import {
  idle,
  type Note,
  referenceServer,
  serverNotes,
  serverWrite,
  startDevice,
  twoDevices,
} from './harness.js';

type Device = Awaited<ReturnType<typeof startDevice>>;

/** Everything the UI of `device` could show about failures: 'failed' events, the greatest failedCount, lastError. */
function watchFailures(device: Device) {
  const seen = { failed: [] as string[], maxFailedCount: 0, lastErrors: [] as string[] };
  device.sync.on('failed', ({ error }) => seen.failed.push(`${error.code} ${error.status ?? ''}`));
  const stop = effect(() => {
    seen.maxFailedCount = Math.max(seen.maxFailedCount, device.sync.failedCount.value);
    const error = device.sync.lastError.value;
    if (error) seen.lastErrors.push(`${error.code} ${error.status ?? ''}`);
  });
  return { seen, stop };
}

const strategies: Array<[string, ConflictStrategy<Note>]> = [
  ['server-wins', 'server-wins'],
  ['client-wins', 'client-wins'],
  ['a merge function', ({ local }) => (local ? { title: local.title } : null)],
];

describe("a user's own rapid edits (412s for its own writes) are never reported as failures", () => {
  it.each(strategies)(
    '%s: 12 rapid online updates: no failed event, failedCount 0 in both tabs, the last edit wins',
    async (_label, conflict) => {
      const server = await referenceServer();
      const created = (await serverWrite(server, 'POST', '/api/notes', { title: 'start', body: 'b' }))
        .body as Note;
      // Two tabs of one disk: `a` sends (it took the lock first), `tab` only shows.
      const sync = { locks: new TestLockManager() };
      const a = await startDevice({ server, collection: { conflict }, sync });
      const tab = await startDevice({ server, disk: a.disk, collection: { conflict }, sync });
      await a.notes.pull();
      const watched = [watchFailures(a), watchFailures(tab)];
      const conflicts: Array<ConflictEvent<Note>> = [];
      a.notes.on('conflict', (event) => conflicts.push(event));
      const text = 'typing, fast';
      for (let length = 1; length <= text.length; length++)
        await a.notes.update(created.id, { title: text.slice(0, length) });
      await idle(a);
      await idle(tab);
      await a.notes.pull();
      for (const { stop } of watched) stop();
      const [sender, other] = watched.map(({ seen }) => seen);
      // (At least one of them was refused and settled: the server saw a 412.)
      expect(server.requests.filter((line) => / → 412$/.test(line)).length).toBeGreaterThan(0);
      expect(sender).toEqual({ failed: [], maxFailedCount: 0, lastErrors: [] });
      expect(other).toEqual({ failed: [], maxFailedCount: 0, lastErrors: [] });
      expect(conflicts).toEqual([]);
      expect(await a.sync.failed()).toEqual([]);
      const rows = await serverNotes(server);
      expect(rows[0]).toMatchObject({ title: text, body: 'b' });
      expect(a.notes.items.value).toEqual(rows);
      await tab.notes.pull();
      expect(tab.notes.items.value).toEqual(rows);
    },
  );

  it.each(strategies)(
    '%s: a real conflict still goes through the failed list (its failed event), then is decided',
    async (label, conflict) => {
      const { server, id, a, b, conflicts } = await twoDevices({ conflict });
      const { seen, stop } = watchFailures(a);
      a.connectivity.setOnline(false);
      await a.notes.update(id, { title: 'mine' });
      await b.notes.update(id, { title: 'theirs' });
      await idle(b);
      a.connectivity.setOnline(true);
      await idle(a);
      await a.notes.pull();
      await idle(a);
      stop();
      expect(seen.failed).toEqual(['sync/http-error 412']);
      expect(seen.maxFailedCount).toBe(1);
      expect(a.sync.failedCount.value).toBe(0);
      expect(conflicts.map((event) => event.resolution)).toEqual([
        label === 'a merge function' ? 'merged' : conflict,
      ]);
      expect((await serverNotes(server))[0]).toMatchObject({
        title: conflict === 'server-wins' ? 'theirs' : 'mine',
      });
    },
  );
});
