import { computed, type ReadonlySignal } from 'fluxy';
import type { SyncPlugin } from 'fluxy/sync';
import { createTestApp, FaultServer, type TestApp } from 'fluxy/testing';
import { afterEach, beforeEach, expect, it } from 'vitest';

// The app's code under test: a controller that saves notes through the outbox.
class NotesController {
  readonly #sync: SyncPlugin;
  readonly saving: ReadonlySignal<string>;

  constructor(sync: SyncPlugin) {
    this.#sync = sync;
    this.saving = computed(() => {
      const waiting = sync.pendingCount.value;
      return waiting > 0 ? `${waiting} waiting` : 'all saved';
    });
  }

  async add(title: string): Promise<void> {
    await this.#sync.queue('POST', '/notes', { body: { title } });
  }
}

let server: FaultServer;
let t: TestApp;

beforeEach(async () => {
  server = await FaultServer.start(); // a real HTTP server on 127.0.0.1 that dedupes by Idempotency-Key
  t = await createTestApp({ sync: { baseUrl: server.url, retry: { baseDelayMs: 10 } }, online: false });
});

afterEach(async () => {
  await t.dispose();
  await server.close();
});

it('keeps a note written offline and saves it once when back online', async () => {
  const notes = new NotesController(t.sync);
  await notes.add('Groceries');
  expect(notes.saving.value).toBe('1 waiting');
  expect(server.received).toHaveLength(0);

  server.script('drop-after'); // the server applies the first request, but its answer is lost
  t.goOnline();
  await t.settled({ timeoutMs: 3000 }); // under the runner's own test timeout (see Tips)

  expect(notes.saving.value).toBe('all saved');
  expect(server.received).toHaveLength(2); // sent twice, with the same Idempotency-Key…
  expect(server.applied.map((applied) => applied.body)).toStrictEqual([{ title: 'Groceries' }]); // …applied once
});
