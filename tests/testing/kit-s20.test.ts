// fluxy/testing as an app author meets it (audit 20, L1 and L6): the waits' default timeouts sit
// under Vitest's and Jest's own 5 s, and settled() says what a collection's pull is doing.
import { Collection } from 'fluxy/collections';
import { createTestApp, FaultServer, type TestApp } from 'fluxy/testing';
import { afterEach, describe, expect, it } from 'vitest';

interface Note extends Record<string, unknown> {
  id: string;
  title: string;
  version: number;
}

let server: FaultServer | undefined;
let t: TestApp | undefined;

afterEach(async () => {
  await t?.dispose();
  await server?.close();
  t = undefined;
  server = undefined;
});

async function notesApp() {
  server = await FaultServer.start({ collections: { '/notes': {} } });
  t = await createTestApp({ sync: { baseUrl: server.url, timeoutMs: 60_000 } });
  const notes = t.app.register(
    new Collection<Note>('notes', { url: '/notes', pullIntervalMs: 0, locks: false }),
  );
  await t.app.ready();
  return { server, t, notes };
}

describe('fluxy/testing waits', () => {
  it("time out after 4 s by default (under Vitest's and Jest's 5 s), with their labels", async () => {
    const { server, t } = await notesApp();
    server.script('hang');
    await t.app.use('sync').queue('POST', '/notes', { body: { title: 'a' } });
    const [settledError, requestsError] = await Promise.all([
      t.settled().then(
        () => 'resolved',
        (error: Error) => error.message,
      ),
      server.waitForRequests(5).then(
        () => 'resolved',
        (error: Error) => error.message,
      ),
    ]);
    expect(settledError).toMatch(/^timed out after 4000 ms: settled\(app\) \(sync: 1 pending, syncing true/);
    expect(requestsError).toMatch(/^timed out after 4000 ms: 5 request\(s\) at the fault server/);
  });

  it("settled({ collections }) names a pull the server does not answer, with the collection's last error and what to do", async () => {
    const { server, t, notes } = await notesApp();
    server.script({ status: 503 });
    await expect(notes.pull()).rejects.toMatchObject({ code: 'collections/pull-failed' });
    // A failed pull does not keep the app busy: its retry comes after a backoff (docs/testing.md).
    await t.settled({ collections: ['notes'], timeoutMs: 1000 });
    expect(notes.lastError.value).toMatchObject({ code: 'collections/pull-failed', status: 503 });
    server.script('hang');
    const pulled = notes.pull().catch(() => undefined);
    const message = await t.settled({ collections: ['notes'], timeoutMs: 300 }).then(
      () => 'resolved',
      (error: Error) => error.message,
    );
    expect(message).toContain('notes: pulling true, last error collections/pull-failed (503)');
    expect(message).toContain("still pulling — a page the server does not answer (a 'hang' fault)");
    await t.dispose(); // ends the hung pull
    await pulled;
  });
});
