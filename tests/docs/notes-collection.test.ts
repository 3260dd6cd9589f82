import { Collection } from 'fluxy/collections';
import { createTestApp, FaultServer, type TestApp } from 'fluxy/testing';
import { afterEach, beforeEach, expect, it } from 'vitest';

interface Note extends Record<string, unknown> {
  id: string;
  title: string;
  version: number;
}

let server: FaultServer;
let t: TestApp;
let notes: Collection<Note>;

beforeEach(async () => {
  // Serves /notes as a collection: changes feed (one row per page here), versions, clocks, If-Match.
  server = await FaultServer.start({ collections: { '/notes': { pageSize: 1 } } });
  t = await createTestApp({ sync: { baseUrl: server.url, retry: { baseDelayMs: 10 } }, online: false });
  notes = t.app.register(new Collection<Note>('notes', { url: '/notes', pullIntervalMs: 0 }));
  await t.app.ready();
});

afterEach(async () => {
  await t.dispose();
  await server.close();
});

it('saves a note written offline, then shows what another device changed, even over a cut pull', async () => {
  const draft = await notes.insert({ title: 'Groceries' }); // shown at once, under a temporary id
  t.goOnline();
  await t.settled({ collections: ['notes'] });
  expect(notes.get(draft.id).value).toStrictEqual({ id: 'srv-1', title: 'Groceries', version: 1 });

  server.put('/notes', { id: 'srv-1', title: 'Food' }); // another device renames it…
  server.put('/notes', { title: 'Books' }); // …and adds a note: two pages to pull
  server.script('ok', 'drop-after'); // the second page is lost on the way
  await expect(notes.pull()).rejects.toMatchObject({ code: 'collections/pull-failed' });
  expect(notes.items.value.map((note) => note.title)).toStrictEqual(['Food']); // page 1 is kept

  await notes.pull(); // goes on from page 1's cursor
  expect(notes.items.value).toStrictEqual(server.rows('/notes'));
  expect(notes.items.value.map((note) => note.title)).toStrictEqual(['Food', 'Books']);
});
