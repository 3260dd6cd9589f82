// Session 19: conflicts across a restart (the memory of this replica's own applied writes is
// stored), and a 412's current row used at once.
import { signal } from '@preact/signals-core';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { ConflictEvent, ConflictStrategy } from '../../src/plugins/collections/index.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import {
  faults,
  idle,
  type Note,
  referenceServer,
  serverNotes,
  serverWrite,
  startDevice,
  twoDevices,
  until,
} from './harness.js';

type Device = Awaited<ReturnType<typeof startDevice>>;

/** Restarts `device` over its disk (same options); collects the new instance's conflicts. */
async function restart(device: Device, server: Parameters<typeof startDevice>[0]['server'], options = {}) {
  await device.dispose();
  const again = await startDevice({ server, disk: device.disk, online: false, collection: options });
  const conflicts: Array<ConflictEvent<Note>> = [];
  const reported = signal(0); // (for until(): it watches signals)
  again.notes.on('conflict', (event) => {
    conflicts.push(event);
    reported.value++;
  });
  return { again, conflicts, reported };
}

describe("server-wins across a restart: this replica's own earlier write is no conflict", () => {
  it('a second offline edit refused (412) for the first one, restarted before it is decided, is resent, not dropped', async () => {
    // The 412 without the server's row (which would decide it at once, in its outcome handler:
    // claim-s20.test.ts): decided after a pull, which is cut. (A device's fetch is bound when its
    // sync starts.)
    const realFetch = globalThis.fetch;
    onTestFinished(() => {
      globalThis.fetch = realFetch;
    });
    globalThis.fetch = async (input, init) => {
      const response = await realFetch(input, init);
      if (response.status !== 412) return response;
      const { current: _current, ...body } = (await response.json()) as Record<string, unknown>;
      return new Response(JSON.stringify(body), { status: 412, headers: response.headers });
    };
    const { server, id, a } = await twoDevices({ conflict: 'server-wins' });
    a.connectivity.setOnline(false);
    await a.notes.update(id, { title: 'one' }); // made on version 1
    await a.notes.update(id, { body: 'two' }); // made on version 1 too (the first is pending)
    // Online: the first is applied (version 2), the second refused (412: its If-Match is 1), and
    // the pull that would decide the refusal is cut: nothing decided yet.
    a.sync.pause();
    const pulledAt = a.notes.lastPulledAt.value;
    a.connectivity.setOnline(true);
    await until(() => a.notes.lastPulledAt.value !== pulledAt, 'the pull on reconnect');
    await faults(server, ['ok', 'ok', 'drop-before']);
    a.sync.resume();
    await until(() => a.notes.lastError.value !== null, 'the pull after the 412 to fail');
    expect(a.sync.failedCount.value).toBe(1);
    // The first write, as applied, is stored (encrypted in the collection's namespace).
    expect(await a.app.use(StoragePlugin).keys('collection-notes/w/')).toHaveLength(1);
    const { again, conflicts } = await restart(a, server, { conflict: 'server-wins' });
    again.connectivity.setOnline(true);
    await until(
      () => again.sync.failedCount.value === 0 && again.sync.pendingCount.value === 0,
      'the refusal to be decided',
    );
    await idle(again);
    await again.notes.pull();
    expect((await serverNotes(server))[0]).toMatchObject({ title: 'one', body: 'two', version: 3 });
    expect(again.notes.items.value).toEqual(await serverNotes(server));
    expect(conflicts).toEqual([]);
    // Nothing pending or refused any more: the stored writes are forgotten at the next pull.
    await again.notes.pull();
    expect(await again.app.use(StoragePlugin).keys('collection-notes/w/')).toEqual([]);
  });

  it('two offline edits on a version another device changed meanwhile, restarted before going online: both dropped', async () => {
    // Both were made on version 1, which the other device's write left behind: each is a change
    // made on a stale version (as without the restart: conflicts.test.ts).
    const { server, id, a, b } = await twoDevices({ conflict: 'server-wins' });
    a.connectivity.setOnline(false);
    await a.notes.update(id, { title: 'one' });
    await a.notes.update(id, { body: 'two' });
    await b.notes.update(id, { title: 'theirs' });
    await idle(b);
    const { again, conflicts, reported } = await restart(a, server, { conflict: 'server-wins' });
    again.connectivity.setOnline(true);
    await until(() => reported.value === 2, 'both refusals to be decided');
    await idle(again);
    await again.notes.pull();
    expect((await serverNotes(server))[0]).toMatchObject({ title: 'theirs', body: 'b', version: 2 });
    expect(again.notes.items.value).toEqual(await serverNotes(server));
    expect(conflicts.map((event) => event.resolution)).toEqual(['server-wins', 'server-wins']);
    expect(again.sync.failedCount.value).toBe(0);
  });
});

describe("a 412's current row is the confirmed row at once, and the refusal is decided from it", () => {
  const strategies: Array<ConflictStrategy<Note>> = [
    'server-wins',
    'client-wins',
    ({ local, server }) => (local && server ? { title: `${server.title} + ${local.title}` } : null),
  ];
  for (const conflict of strategies) {
    it(`without a pull after the 412 (${typeof conflict === 'string' ? conflict : 'a merge function'})`, async () => {
      const server = await referenceServer();
      const created = (await serverWrite(server, 'POST', '/api/notes', { title: 'start', body: 'b' }))
        .body as Note;
      // Every pull fails once `cut` is set: what is shown comes from the 412's answer alone.
      let cut = false;
      const fetch: typeof globalThis.fetch = (input, init) =>
        cut && String(input).includes('?since=')
          ? Promise.reject(new TypeError('pulls cut'))
          : globalThis.fetch(input, init);
      const a = await startDevice({ server, collection: { conflict }, sync: { fetch } });
      const b = await startDevice({ server, collection: { conflict } });
      await a.notes.pull();
      await b.notes.pull();
      const conflicts: Array<ConflictEvent<Note>> = [];
      const failed: string[] = [];
      const reported = signal(0);
      a.notes.on('conflict', (event) => {
        conflicts.push(event);
        reported.value++;
      });
      a.sync.on('failed', ({ operation }) => failed.push(operation.id));
      a.connectivity.setOnline(false);
      await a.notes.update(created.id, { title: 'mine' });
      await b.notes.update(created.id, { body: 'theirs' });
      await idle(b);
      cut = true;
      a.connectivity.setOnline(true);
      await until(() => a.notes.lastError.value !== null, 'a pull to fail');
      await until(
        () =>
          reported.value === 1 &&
          a.sync.failedCount.value === 0 &&
          a.sync.pendingCount.value === 0 &&
          !a.sync.isSyncing.value,
        'the refusal to be decided without a pull',
      );
      const [row] = await serverNotes(server);
      expect(a.notes.items.value).toEqual([row]);
      expect(a.notes.get(created.id).value).toEqual(row);
      expect(row?.body).toBe('theirs');
      expect(row?.title).toBe(
        conflict === 'server-wins' ? 'start' : conflict === 'client-wins' ? 'mine' : 'start + mine',
      );
      // The outbox reported the refusal ('failed', once); the collection decided it: nothing is
      // left failed.
      expect(failed).toHaveLength(1);
      expect(await a.sync.failed()).toEqual([]);
      expect(conflicts.map((event) => event.resolution)).toEqual([
        typeof conflict === 'string' ? conflict : 'merged',
      ]);
      expect(conflicts[0]?.server).toMatchObject({ body: 'theirs', version: 2 });
      expect(a.notes.lastError.value?.code).toBe('collections/pull-failed'); // (no pull succeeded)
    });
  }
});
