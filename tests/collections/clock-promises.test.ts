// The clock and pull-timing promises of DESIGN.md (Collections), through the public API against
// the reference server: the hybrid logical clock is advanced by every clock seen in a pull and is
// monotonic across restarts; the default pull interval is 30 s. Each test failed with the
// mutation it names (the adoption or the restoring removed, the default changed to 60 s).
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { formatStamp } from '../../src/plugins/collections/clock.js';
import { expectQuiet } from '../sync/harness.js';
import { idle, type Note, pullsOf, referenceServer, serverWrite, startDevice, until } from './harness.js';

/** A fetch for the sync plugin that records the `Fluxy-Clock` of every write it sends. */
function clockSpy() {
  const clocks: string[] = [];
  const spy = (input: string, init: RequestInit) => {
    const clock = new Headers(init?.headers).get('Fluxy-Clock');
    if (init?.method !== 'GET' && clock) clocks.push(clock);
    return fetch(input, init);
  };
  return { clocks, fetch: spy };
}

describe('collections: clock promises', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a clock pulled from the server (ahead of this device, within 5 minutes) is adopted: the next change sorts after it', async () => {
    const server = await referenceServer();
    const wall = Date.now();
    // Another device, one minute ahead of this one, wrote a note.
    const ahead = formatStamp({ time: wall + 60_000, counter: 7, node: 'other' });
    const note = (
      await serverWrite(
        server,
        'POST',
        '/api/notes',
        { title: 'theirs', body: 'b' },
        { 'Fluxy-Clock': ahead },
      )
    ).body as Note;
    const spy = clockSpy();
    const device = await startDevice({ server, collection: { now: () => wall }, sync: { fetch: spy.fetch } });
    await device.notes.pull();
    expect(device.notes.get(note.id).value?.title).toBe('theirs');
    await device.notes.update(note.id, { title: 'mine' });
    await idle(device);
    expect(spy.clocks).toHaveLength(1);
    expect((spy.clocks[0] as string) > ahead, `${spy.clocks[0]} after ${ahead}`).toBe(true);
    // Last writer wins on the server: the later change is kept.
    expect(device.notes.get(note.id).value?.title).toBe('mine');
  });

  it('stays monotonic across a restart, even when the wall clock went back meanwhile', async () => {
    const server = await referenceServer();
    const disk = new IDBFactory();
    const wall = Date.now();
    const before = clockSpy();
    const first = await startDevice({
      server,
      disk,
      collection: { now: () => wall },
      sync: { fetch: before.fetch },
    });
    const row = await first.notes.insert({ title: 'a', body: 'b' });
    await idle(first);
    const id = first.notes.get(row.id).value?.id as string;
    await first.dispose();
    expect(before.clocks).toHaveLength(1);
    // Restarted an hour behind, offline: no pull can bring the old clock back from the server.
    const after = clockSpy();
    const second = await startDevice({
      server,
      disk,
      online: false,
      collection: { now: () => wall - 3_600_000 },
      sync: { fetch: after.fetch },
    });
    await second.notes.update(id, { title: 'later' });
    second.connectivity.setOnline(true);
    await idle(second);
    expect(after.clocks).toHaveLength(1);
    expect(
      (after.clocks[0] as string) > (before.clocks[0] as string),
      `${after.clocks[0]} after ${before.clocks[0]}`,
    ).toBe(true);
  });

  it('pulls every 30 s by default', async () => {
    const server = await referenceServer();
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    // undefined: the option left out, as a user would (the harness's own default is 0).
    const device = await startDevice({
      server,
      collection: { pullIntervalMs: undefined as unknown as number },
    });
    await until(() => device.notes.lastPulledAt.value !== null, 'the pull at start-up');
    await serverWrite(server, 'POST', '/api/notes', { title: 'new' });
    vi.advanceTimersByTime(29_999);
    await expectQuiet('pulls before 30 s', () => pullsOf(server).length, { windowMs: 200 });
    vi.advanceTimersByTime(1);
    await until(() => device.notes.items.value.length === 1, 'the pull at 30 s');
  });
});
