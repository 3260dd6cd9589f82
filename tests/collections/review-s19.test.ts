// A review of fluxy/collections (session 19): what a new user tried. Each finding failed before
// its fix.
import { describe, expect, it } from 'vitest';
import { isFluxyError } from '../../src/core/errors.js';
import { Collection, type ConflictEvent } from '../../src/plugins/collections/index.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import { type Note, referenceServer, serverWrite, startDevice, until, withTimeout } from './harness.js';

describe('review s19: bad constructor arguments', () => {
  it('refuses a BigInt or a cyclic name, url, pullIntervalMs or conflict with collections/invalid-options', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const [name, options] of [
      [10n, { url: '/notes' }],
      [cyclic, { url: '/notes' }],
      ['notes', { url: 10n }],
      ['notes', { url: cyclic }],
      ['notes', { url: '/notes', pullIntervalMs: 10n }],
      ['notes', { url: '/notes', pullIntervalMs: 0n }],
      ['notes', { url: '/notes', conflict: 1n }],
      ['notes', { url: '/notes', key: cyclic }],
      ['notes', { url: '/notes', compare: 10n }],
    ] as const) {
      let thrown: unknown;
      try {
        new Collection(name as never, options as never);
      } catch (error) {
        thrown = error;
      }
      expect(isFluxyError(thrown) && thrown.code, String(Object.keys(options))).toBe(
        'collections/invalid-options',
      );
      // (The development build says what was given.)
      expect((thrown as Error).message).toMatch(/\(got (bigint|object)\)/);
    }
  });
});

describe("review s19: an app's own operation named like a collection's kind", () => {
  it("does not stop the collection deciding its real conflicts (it is not the collection's change)", async () => {
    const server = await referenceServer();
    const { id } = (await serverWrite(server, 'POST', '/api/notes', { title: 'first', body: '' }))
      .body as Note;
    const a = await startDevice({ server, collection: { conflict: 'server-wins' } });
    await a.notes.pull();
    const decided = new Promise<ConflictEvent<Note>>((resolve) => a.notes.on('conflict', resolve));
    a.connectivity.setOnline(false);
    // The app's own operation, of kind notes.update, without the collection's meta (refused: 404).
    await a.sync.queue('PATCH', '/notes/n_999999', { kind: 'notes.update', body: { title: 'forged' } });
    await a.notes.update(id, { title: 'mine' });
    const [, real] = await a.sync.pending();
    await serverWrite(server, 'PATCH', `/api/notes/${id}`, { title: 'theirs' });
    a.connectivity.setOnline(true);
    expect(await withTimeout(decided, 'the real conflict to be decided')).toMatchObject({
      id,
      resolution: 'server-wins',
      server: { title: 'theirs' },
    });
    await until(() => a.notes.get(id).value?.title === 'theirs', "the server's row");
    const failed = (await a.sync.failed()).map((operation) => operation.id);
    expect(failed).not.toContain(real?.id);
    // The app's operation stays failed, for the app to handle.
    expect(failed).toHaveLength(1);
  });
});

describe('review s19: a change the outbox refuses', () => {
  it('leaves storage as it was: the clock is saved only once the change is queued', async () => {
    const server = await referenceServer();
    const a = await startDevice({ server, online: false, sync: { maxBodyBytes: 2000 } });
    await a.notes.insert({ title: 'a', body: '' });
    const storage = a.app.use(StoragePlugin);
    const dump = async () =>
      JSON.stringify(
        await Promise.all((await storage.keys()).sort().map(async (key) => [key, await storage.get(key)])),
      );
    const before = await dump();
    expect(before).toContain('collection-notes/clock');
    let refused: unknown;
    try {
      await a.notes.insert({ title: 'x'.repeat(5000), body: '' });
    } catch (error) {
      refused = error;
    }
    expect(isFluxyError(refused) && refused.code).toBe('sync/body-too-large');
    expect(await dump()).toBe(before);
    expect(a.notes.items.value).toHaveLength(1);
  });
});
