import { describe, expect, it, onTestFinished } from 'vitest';
import { Collection } from '../../src/plugins/collections/index.js';
import { createTestApp, FaultServer } from '../../src/testing/index.js';
import { silentLogger } from '../sync/harness.js';
import { code, deniedFeed, until, untimed } from './harness.js';

// A 401 on the changes feed was invisible to an app's re-login flow (audit 19, finding 6): the
// pull was retried with backoff, sync's status stayed 'idle', and sync.resume() after a new login
// did not pull. A pull's 401 now pauses the outbox as a write's 401 does, and resume() pulls.
async function setup(pullIntervalMs: number) {
  // The backoff after a failed pull waits its longest (2 s after the first failure): a pull
  // sooner than that after resume() is resume()'s.
  const feed = await deniedFeed(1, pullIntervalMs);
  await feed.t.app.ready();
  return feed;
}

describe('collections: a pull answered 401', () => {
  it('pauses the outbox (status paused); resume() after a new login pulls at once', async () => {
    const { t, notes, denied, pulls } = await setup(0);
    expect(await code(notes.pull())).toBe('collections/pull-failed');
    expect(notes.lastError.value).toMatchObject({ code: 'collections/pull-failed', status: 401 });
    expect(t.sync.status.value).toBe('paused');
    expect(pulls()).toBe(1);
    denied.value = false; // logged in again
    t.sync.resume();
    await until(() => notes.lastPulledAt.value !== null, 'the pull resume() starts', 1500);
    expect(notes.lastError.value).toBe(null);
    expect(t.sync.status.value).not.toBe('paused');
  });

  it('the same for the pull at ready() (an automatic one): writes wait too, and go after resume()', async () => {
    const { t, notes, denied, server } = await setup(untimed);
    await until(() => notes.lastError.value?.status === 401, 'the pull at ready() to get its 401');
    expect(t.sync.status.value).toBe('paused');
    await notes.insert({ title: 'a' });
    expect(t.sync.pendingCount.value).toBe(1); // paused: not sent
    expect(server.received.some((request) => request.method === 'POST')).toBe(false);
    denied.value = false;
    t.sync.resume();
    await until(
      () => notes.lastPulledAt.value !== null && t.sync.pendingCount.value === 0,
      'the pull and the write after resume()',
      1500,
    );
    expect(notes.lastError.value).toBe(null);
    expect(notes.items.value.map((row) => row.title)).toEqual(['a']);
  });

  it('a pull that failed otherwise (503) pauses nothing', async () => {
    const server = await FaultServer.start({
      collections: { '/notes': {} },
      choose: (request) => (request.method === 'GET' ? { status: 503 } : 'ok'),
    });
    onTestFinished(() => server.close());
    const t = await createTestApp({ sync: { baseUrl: server.url }, app: { logger: silentLogger } });
    onTestFinished(() => t.dispose());
    const notes = t.app.register(new Collection('notes', { url: '/notes', pullIntervalMs: 0, locks: false }));
    await t.app.ready();
    expect(await code(notes.pull())).toBe('collections/pull-failed');
    expect(notes.lastError.value?.status).toBe(503);
    expect(t.sync.status.value).toBe('idle');
  });
});
