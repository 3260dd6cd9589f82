import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { code, referenceServer, serverWrite, startDevice, titles, until } from './harness.js';

/** How long another tab may take to drop a discarded change: well under the 1.5 s it waited before. */
const promptlyMs = 1000;

describe('A discarded change', () => {
  it('leaves items as soon as sync.discard() resolves, in this tab and promptly in the others', async () => {
    const server = await referenceServer();
    const created = (await serverWrite(server, 'POST', '/api/notes', { title: 'start', body: '' })).body;
    const disk = new IDBFactory();
    const a = await startDevice({ server, disk });
    await a.notes.pull();
    a.connectivity.setOnline(false);
    const b = await startDevice({ server, disk, online: false }); // another tab of the same device
    const id = created?.id as string;
    const row = await a.notes.insert({ title: 'draft' });
    await a.notes.update(id, { title: 'changed' });
    await until(() => titles(b.notes.items.value).join() === 'changed,draft', 'the other tab to show both');
    const [insert, update] = await a.sync.pending();

    expect(await a.sync.discard(update?.id as string)).toBe(true);
    expect(titles(a.notes.items.value)).toEqual(['start', 'draft']);
    await until(
      () => titles(b.notes.items.value).join() === 'start,draft',
      'the other tab to drop the update',
      promptlyMs,
    );

    expect(await a.sync.discard(insert?.id as string)).toBe(true);
    expect(titles(a.notes.items.value)).toEqual(['start']);
    expect(a.notes.pending.value.size).toBe(0);
    expect(a.notes.unconfirmed.value).toBe(0);
    // Its row is gone: an update is refused as for any unknown row (it was queued, and failed as
    // dependency-failed once online), nothing queued.
    expect(await code(a.notes.update(row.id, { title: 'again' }))).toBe('collections/unknown-row');
    expect(await code(a.notes.remove(row.id))).toBe('collections/unknown-row');
    expect(a.sync.pendingCount.value).toBe(0);
    await until(
      () => titles(b.notes.items.value).join() === 'start',
      'the other tab to drop the insert',
      promptlyMs,
    );
  });

  it('leaves items as soon as sync.clearQueue() resolves, in this tab and promptly in the others', async () => {
    const server = await referenceServer();
    const disk = new IDBFactory();
    const a = await startDevice({ server, disk, online: false });
    const b = await startDevice({ server, disk, online: false });
    await a.notes.insert({ title: 'one' });
    await a.notes.insert({ title: 'two' });
    await until(() => b.notes.items.value.length === 2, 'the other tab to show both inserts');

    expect(await a.sync.clearQueue()).toBe(2);
    expect(a.notes.items.value).toEqual([]);
    expect(a.notes.unconfirmed.value).toBe(0);
    await until(() => b.notes.items.value.length === 0, 'the other tab to drop them', promptlyMs);
  });

  it('sync emits discarded with the ids removed, only when something was removed', async () => {
    const server = await referenceServer();
    const device = await startDevice({ server, online: false });
    const events: string[][] = [];
    device.sync.on('discarded', ({ ids }) => events.push(ids));
    const first = await device.sync.queue('POST', '/things', { body: { n: 1 } });
    const second = await device.sync.queue('POST', '/things', { body: { n: 2 } });
    const third = await device.sync.queue('POST', '/things', { body: { n: 3 } });
    expect(await device.sync.discard(first.id)).toBe(true);
    expect(await device.sync.discard(first.id)).toBe(false);
    expect(await device.sync.clearQueue()).toBe(2);
    expect(await device.sync.clearQueue()).toBe(0);
    expect(events).toEqual([[first.id], [second.id, third.id]]);
  });
});
