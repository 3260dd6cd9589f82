import { effect } from '@preact/signals-core';
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type RunningServer } from '../examples/server/server.mjs';
import { type App, createApp } from '../src/core/app.js';
import { ConnectivityPlugin } from '../src/plugins/connectivity/index.js';
import { StoragePlugin } from '../src/plugins/storage/index.js';
import { SyncPlugin } from '../src/plugins/sync/index.js';
import { type Note, referenceServer, startDevice } from './collections/harness.js';
import { silentLogger, until, withTimeout } from './sync/harness.js';

// An app's effect that throws when Fluxy changes a signal. A signal write runs the effects it
// wakes, and @preact/signals-core throws their first error at the writer once all have run: before,
// that was Fluxy itself, half-way through an operation (queue() rejected after storing the change,
// so an app that says "not saved, try again" sent it twice; insert() showed a row it never queued).
// Now Fluxy writes its signals with `publish` (src/core/errors.ts): the error is thrown again on a
// later turn, an uncaught error as an event listener's is, and Fluxy goes on.

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * Collects the uncaught errors of this worker (instead of vitest's handlers, which would fail the
 * run on an error these tests expect), until the test ends.
 */
function catchUncaught(): { errors: unknown[]; next(label: string): Promise<unknown> } {
  const saved = process.listeners('uncaughtException');
  process.removeAllListeners('uncaughtException');
  const errors: unknown[] = [];
  let wake: (() => void) | undefined;
  const listener = (error: unknown) => {
    errors.push(error);
    wake?.();
  };
  process.on('uncaughtException', listener);
  cleanups.push(() => {
    process.off('uncaughtException', listener);
    for (const handler of saved) process.on('uncaughtException', handler);
  });
  return {
    errors,
    next(label) {
      const seen = errors.length;
      return withTimeout(
        new Promise<unknown>((resolve) => {
          wake = () => resolve(errors[seen]);
          if (errors.length > seen) wake();
        }),
        label,
      );
    },
  };
}

/** Runs `fn` whenever its signals change, and then throws `error` while `armed()` says so (not as it is made). Disposed at the end. */
function throwingEffect(fn: () => unknown, armed: () => boolean, error: Error): void {
  let made = false;
  const stop = effect(() => {
    fn();
    if (made && armed()) throw error;
  });
  made = true;
  cleanups.push(stop);
}

async function startServer(): Promise<RunningServer> {
  const server = await createServer({ dataFile: null, staticDir: null });
  cleanups.push(() => server.close());
  return server;
}

describe('an app effect that throws', () => {
  it('does not make sync.queue() reject after it stored the change; the change is sent once', async () => {
    const uncaught = catchUncaught();
    const server = await startServer();
    const app: App = createApp({ logger: silentLogger });
    app.register(new StoragePlugin({ driver: 'memory', name: `effects-${Math.random()}` }));
    app.register(new ConnectivityPlugin());
    const sync = app.register(new SyncPlugin({ baseUrl: `${server.url}/api` }));
    cleanups.push(() => app.dispose());
    await app.ready();
    const bug = new Error('view bug');
    let armed = true;
    throwingEffect(
      () => sync.pendingCount.value,
      () => armed && sync.pendingCount.peek() > 0,
      bug,
    );
    const reported = uncaught.next('the view bug, thrown again on a later turn');
    const op = await sync.queue('POST', '/notes', { body: { title: 'once' } });
    expect(sync.pendingCount.peek() + server.state.log.length).toBe(1); // stored (or sent already)
    expect(await reported).toBe(bug);
    armed = false;
    await until(() => sync.pendingCount.value === 0 && !sync.isSyncing.value, 'the change sent');
    expect(server.state.log.map((entry) => entry.key)).toEqual([op.idempotencyKey]);
  });
});

describe('an app effect on a collection that throws', () => {
  it('does not stop insert() and update() before their changes are queued: both reach the server', async () => {
    const uncaught = catchUncaught();
    const server = await referenceServer();
    const device = await startDevice({ server, online: false });
    const bug = new Error('list view bug');
    let armed = true;
    throwingEffect(
      () => device.notes.items.value,
      () => armed,
      bug,
    );
    const reported = uncaught.next('the list view bug, thrown again on a later turn');
    const row = await device.notes.insert({ title: 'drafted', body: '' } as Omit<Note, 'id' | 'version'>);
    expect(await reported).toBe(bug);
    await device.notes.update(row.id, { title: 'edited' });
    expect(await device.sync.pending()).toHaveLength(2); // before: none (the row shown, never queued)
    armed = false;
    device.connectivity.setOnline(true);
    await until(
      () => device.sync.pendingCount.value === 0 && device.notes.items.value[0]?.title === 'edited',
      'both changes sent and answered',
    );
    const response = await fetch(`${server.url}/api/notes`);
    expect(((await response.json()) as Note[]).map((note) => note.title)).toEqual(['edited']);
  });

  it('does not leave isPulling stuck at true when it throws as a pull starts', async () => {
    const uncaught = catchUncaught();
    const server = await referenceServer();
    const device = await startDevice({ server });
    await until(() => !device.notes.isPulling.value, 'the pull at start-up done');
    const bug = new Error('spinner bug');
    let armed = true;
    throwingEffect(
      () => device.notes.isPulling.value,
      () => armed && device.notes.isPulling.peek(),
      bug,
    );
    const reported = uncaught.next('the spinner bug, thrown again on a later turn');
    await device.notes.pull();
    expect(await reported).toBe(bug);
    armed = false;
    expect(device.notes.isPulling.value).toBe(false);
  });
});
