import { effect } from '@preact/signals-core';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createApp } from '../../src/core/app.js';
import { Collection } from '../../src/plugins/collections/index.js';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { minIterations, StoragePlugin } from '../../src/plugins/storage/index.js';
import { SyncPlugin } from '../../src/plugins/sync/index.js';
import { silentLogger } from '../sync/harness.js';
import { type Note, referenceServer, serverWrite, titles, until, untimed } from './harness.js';

// A collection registered after app.ready() (a route that registers its own) stayed empty until
// the next ready() or a write (audit 19, finding 8), though a plugin's first public call
// initialises it. Now the first effect that watches `items`, or get(), starts it: cache, then pull.
async function readyApp(url: string, disk = new IDBFactory(), online = true) {
  const app = createApp({ logger: silentLogger });
  onTestFinished(() => app.dispose());
  app.register(
    new StoragePlugin({ name: 'late', indexedDB: disk, secret: 'test secret', iterations: minIterations }),
  );
  app.register(new ConnectivityPlugin()).setOnline(online);
  app.register(new SyncPlugin({ baseUrl: `${url}/api` }));
  await app.ready();
  return app;
}

const late = () => new Collection<Note>('notes', { url: '/notes', pullIntervalMs: untimed, locks: false });

describe('collections: registered after ready()', () => {
  it('an effect watching items starts it: the rows are pulled, no ready() needed', async () => {
    const server = await referenceServer();
    await serverWrite(server, 'POST', '/api/notes', { title: 'a' });
    const app = await readyApp(server.url);
    const notes = app.register(late());
    const stop = effect(() => {
      void notes.items.value;
    });
    onTestFinished(stop);
    await until(
      () => titles(notes.items.value).join() === 'a' && notes.lastPulledAt.value !== null,
      'the late collection to pull',
    );
  });

  it('get() starts it too', async () => {
    const server = await referenceServer();
    const note = (await serverWrite(server, 'POST', '/api/notes', { title: 'a' })).body as Note;
    const app = await readyApp(server.url);
    const notes = app.register(late());
    const row = notes.get(note.id);
    await until(() => row.value?.title === 'a', 'the row get() asked for');
  });

  it('offline, it shows the rows cached on the device (cache first)', async () => {
    const server = await referenceServer();
    await serverWrite(server, 'POST', '/api/notes', { title: 'a' });
    const disk = new IDBFactory();
    const first = await readyApp(server.url, disk);
    await first.register(late()).pull();
    await first.dispose();
    const app = await readyApp(server.url, disk, false);
    const notes = app.register(late());
    const stop = effect(() => {
      void notes.items.value;
    });
    onTestFinished(stop);
    await until(() => titles(notes.items.value).join() === 'a', 'the cached rows');
    expect(server.requests.filter((line) => line.startsWith('GET /api/notes?since='))).toHaveLength(1);
  });

  it('a collection not registered yet: watching items or get() throws nothing', async () => {
    const notes = late();
    const stop = effect(() => {
      void notes.items.value;
    });
    stop();
    expect(notes.get('n_1').value).toBe(undefined);
  });
});
