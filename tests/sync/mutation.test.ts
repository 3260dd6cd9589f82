import { IDBFactory } from 'fake-indexeddb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type App, createApp } from '../../src/core/app.js';
import { signal } from '../../src/core/signals.js';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { minIterations, StoragePlugin } from '../../src/plugins/storage/index.js';
import { defineMutation, SyncPlugin } from '../../src/plugins/sync/index.js';
import { FaultServer } from '../../src/testing/index.js';
import { silentLogger, until } from './harness.js';

let server: FaultServer;
const apps: App[] = [];
beforeEach(async () => {
  server = await FaultServer.start();
});
afterEach(async () => {
  for (const app of apps.splice(0)) await app.dispose();
  await server.close();
});

interface Note {
  id: string;
  title: string;
}

/** A tiny notes store and its three mutations, as an app would define them at bootstrap. */
function notesApp(indexedDB: IDBFactory) {
  const app = createApp({ logger: silentLogger });
  apps.push(app);
  app.register(new StoragePlugin({ indexedDB, secret: 's3cret', iterations: minIterations }));
  const connectivity = app.register(new ConnectivityPlugin());
  const sync = app.register(
    new SyncPlugin({ baseUrl: server.url, serverId: 'serverId', retry: { baseDelayMs: 1, maxDelayMs: 2 } }),
  );
  const notes = signal<Note[]>([]);
  const log: string[] = [];
  const create = defineMutation(sync, 'note.create', {
    apply: ({ title, tempId }: { title: string; tempId: string }) => {
      notes.value = [...notes.value, { id: tempId, title }];
      return { tempId };
    },
    request: ({ title }, { tempId }) => ({
      method: 'POST',
      url: '/api/notes',
      body: { title, clientId: tempId },
      tempId,
    }),
    commit: ({ tempId }, { serverId }) => {
      log.push(`commit ${tempId} → ${serverId}`);
      notes.value = notes.value.map((note) =>
        note.id === tempId ? { ...note, id: serverId ?? note.id } : note,
      );
    },
    rollback: ({ tempId }, error) => {
      log.push(`rollback create ${tempId} (${error.status})`);
      notes.value = notes.value.filter((note) => note.id !== tempId);
    },
  });
  const rename = defineMutation(sync, 'note.rename', {
    apply: ({ id, title }: { id: string; title: string }) => {
      const previous = notes.value.find((note) => note.id === id)?.title ?? '';
      notes.value = notes.value.map((note) => (note.id === id ? { ...note, title } : note));
      return { id, previous };
    },
    request: ({ id, title }) => ({ method: 'PATCH', url: `/api/notes/${id}`, body: { title } }),
    rollback: ({ id, previous }, error) => {
      log.push(`rollback rename ${id} to "${previous}" (${error.code})`);
      notes.value = notes.value.map((note) => (note.id === id ? { ...note, title: previous } : note));
    },
  });
  const remove = defineMutation(sync, 'note.delete', {
    apply: ({ id }: { id: string }) => {
      const index = notes.value.findIndex((note) => note.id === id);
      const note = notes.value[index] as Note;
      notes.value = notes.value.filter((other) => other.id !== id);
      return { index, note: { id: note.id, title: note.title } };
    },
    request: ({ id }) => ({ method: 'DELETE', url: `/api/notes/${id}` }),
    rollback: ({ index, note }) => {
      log.push(`rollback delete ${note.id}`);
      const next = [...notes.value];
      next.splice(index, 0, note);
      notes.value = next;
    },
  });
  return { app, sync, connectivity, notes, log, create, rename, remove };
}

describe('defineMutation: optimistic updates that survive reloads', () => {
  it('applies at once, reconciles a temp id on success, and later ops use the server id', async () => {
    const { sync, connectivity, notes, log, create, rename } = notesApp(new IDBFactory());
    connectivity.setOnline(false);
    await create({ title: 'Groceries', tempId: 'tmp_note_aaaa1' });
    expect(notes.value).toStrictEqual([{ id: 'tmp_note_aaaa1', title: 'Groceries' }]);
    await rename({ id: 'tmp_note_aaaa1', title: 'Groceries!' });
    expect(notes.value[0]?.title).toBe('Groceries!');
    connectivity.setOnline(true);
    await until(() => sync.pendingCount.value === 0);
    expect(log).toStrictEqual(['commit tmp_note_aaaa1 → srv-1']);
    expect(notes.value).toStrictEqual([{ id: 'srv-1', title: 'Groceries!' }]);
    expect(server.applied.map((entry) => `${entry.method} ${entry.path}`)).toStrictEqual([
      'POST /api/notes',
      'PATCH /api/notes/srv-1',
    ]);
  });

  it('rolls back an update and a delete the server refuses', async () => {
    const { sync, notes, log, create, rename, remove } = notesApp(new IDBFactory());
    await create({ title: 'A', tempId: 'tmp_note_bbbb1' });
    await create({ title: 'Z', tempId: 'tmp_note_bbbb2' });
    await until(() => sync.pendingCount.value === 0);
    server.script({ status: 422 }, { status: 403 });
    await rename({ id: 'srv-1', title: 'B' });
    await remove({ id: 'srv-2' });
    expect(notes.value).toStrictEqual([{ id: 'srv-1', title: 'B' }]);
    await until(() => sync.pendingCount.value === 0 && sync.failedCount.value === 2);
    expect(log.slice(2)).toStrictEqual([
      'rollback rename srv-1 to "A" (sync/http-error)',
      'rollback delete srv-2',
    ]);
    expect(notes.value).toStrictEqual([
      { id: 'srv-1', title: 'A' },
      { id: 'srv-2', title: 'Z' },
    ]);
  });

  it('a refusal that arrives after a reload still rolls back (meta is stored with the op)', async () => {
    const indexedDB = new IDBFactory();
    const first = notesApp(indexedDB);
    first.connectivity.setOnline(false);
    await first.create({ title: 'Draft', tempId: 'tmp_note_cccc1' });
    await first.app.dispose();

    server.script({ status: 422 });
    const second = notesApp(indexedDB); // a fresh page: its own state, same database
    second.notes.value = [{ id: 'tmp_note_cccc1', title: 'Draft' }]; // as restored by the app from its own storage
    await second.app.ready();
    await until(() => second.sync.failedCount.value === 1);
    expect(second.log).toStrictEqual(['rollback create tmp_note_cccc1 (422)']);
    expect(second.notes.value).toStrictEqual([]);
    expect(first.log).toStrictEqual([]);
  });

  it('if queue() refuses the request, the local change is undone and the error rethrown', async () => {
    const { notes, log, create } = notesApp(new IDBFactory());
    await expect(create({ title: 'x', tempId: 'short' })).rejects.toMatchObject({
      code: 'sync/invalid-options',
    });
    expect(notes.value).toStrictEqual([]);
    expect(log).toStrictEqual(['rollback create short (undefined)']);
  });

  it('validates its arguments', () => {
    const { sync } = notesApp(new IDBFactory());
    const ok = {
      apply: () => null,
      request: () => ({ method: 'POST' as const, url: '/x' }),
      rollback: () => {},
    };
    expect(() => defineMutation(sync, '', ok)).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    expect(() => defineMutation({} as never, 'k', ok)).toThrow(
      expect.objectContaining({ code: 'invalid-argument' }),
    );
    expect(() => defineMutation(sync, 'k', { ...ok, rollback: 1 as never })).toThrow(
      expect.objectContaining({ code: 'invalid-argument' }),
    );
  });
});
