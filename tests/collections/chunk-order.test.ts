import { afterEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { idle, type Note, referenceServer, serverNotes, serverWrite, startDevice } from './harness.js';

// A review: the cache's chunk ids came from a clock fresh in every instance, so a chunk written
// later could sort before an older one (the wall clock went back between two runs; two tabs wrote
// in one millisecond) and replay put the older rows over it: a row a pull had deleted came back at
// the next start, and no pull removed it again (the stored cursor was past the deletion).
describe('the chunk log replays in write order', () => {
  afterEach(() => vi.useRealTimers());

  it('keeps a deletion pulled after the wall clock went back an hour', async () => {
    const server = await referenceServer();
    const doomed = (await serverWrite(server, 'POST', '/api/notes', { title: 'doomed' })).body as Note;
    await serverWrite(server, 'POST', '/api/notes', { title: 'kept' });
    const first = await startDevice({ server });
    await first.notes.pull();
    expect(first.notes.items.value).toHaveLength(2);
    await first.dispose();

    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() - 3_600_000); // NTP fix, or the user set the time
    await serverWrite(server, 'DELETE', `/api/notes/${doomed.id}`);
    const second = await startDevice({ server, disk: first.disk });
    await second.notes.pull();
    expect(second.notes.items.value).toEqual(await serverNotes(server));
    await second.dispose();

    const third = await startDevice({ server, disk: first.disk, online: false });
    expect(third.notes.items.value).toEqual(await serverNotes(server));
    expect(third.notes.items.value).toHaveLength(1);
  });

  it("keeps a deletion a tab pulled in the millisecond of another tab's pages", async () => {
    const server = await referenceServer({ feedPageSize: 1 });
    await serverWrite(server, 'POST', '/api/notes', { title: 'kept' });
    const doomed = (await serverWrite(server, 'POST', '/api/notes', { title: 'doomed' })).body as Note;
    const a = await startDevice({ server, online: false });
    const b = await startDevice({ server, disk: a.disk, online: false });
    vi.useFakeTimers({ toFake: ['Date'] }); // frozen: every chunk id below has this millisecond
    onTestFinished(() => {
      vi.useRealTimers();
    });
    a.connectivity.setOnline(true);
    await a.notes.pull(); // two pages of one row: chunk counters 0 and 1 ('doomed')
    await serverWrite(server, 'DELETE', `/api/notes/${doomed.id}`);
    b.connectivity.setOnline(true);
    await b.notes.pull(); // from a's cursor: the deletion, which must sort after a's chunks
    expect(b.notes.items.value).toEqual(await serverNotes(server));
    await Promise.all([a.dispose(), b.dispose()]);

    const again = await startDevice({ server, disk: a.disk, online: false });
    expect(again.notes.items.value).toEqual(await serverNotes(server));
    expect(again.notes.items.value).toHaveLength(1);
  });

  it("keeps a removal's answer stored in the millisecond of another tab's pages", async () => {
    const server = await referenceServer({ feedPageSize: 1 });
    await serverWrite(server, 'POST', '/api/notes', { title: 'kept' });
    const doomed = (await serverWrite(server, 'POST', '/api/notes', { title: 'doomed' })).body as Note;
    const a = await startDevice({ server, online: false });
    const b = await startDevice({ server, disk: a.disk, online: false });
    vi.useFakeTimers({ toFake: ['Date'] });
    onTestFinished(() => {
      vi.useRealTimers();
    });
    a.connectivity.setOnline(true);
    await a.notes.pull(); // chunks with counters 0 and 1 ('doomed'), tab a's
    await a.dispose(); // (without Web Locks, its outbox would send b's removal too)
    b.connectivity.setOnline(true);
    await b.notes.remove(doomed.id); // answered 204: a chunk of the deletion, tab b's
    await idle(b);
    await b.dispose(); // it waits for the answer's write

    const again = await startDevice({ server, disk: a.disk, online: false });
    expect(again.notes.items.value).toEqual(await serverNotes(server));
    expect(again.notes.items.value).toHaveLength(1);
  });
});
