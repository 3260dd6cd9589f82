// fluxy/testing's waits under a test's fake timers: they keep real time, so they settle, or
// time out with their label, instead of hanging until the test runner's own timeout.
import { afterEach, expect, it, vi } from 'vitest';
import { createTestApp, FaultServer, settled, type TestApp } from '../../src/testing/index.js';

let server: FaultServer | undefined;
let t: TestApp | undefined;

afterEach(async () => {
  vi.useRealTimers();
  await t?.dispose();
  await server?.close();
  t = undefined;
  server = undefined;
});

it('settled() resolves under vi.useFakeTimers() when going online sends the queue', async () => {
  server = await FaultServer.start();
  t = await createTestApp({ sync: { baseUrl: server.url }, online: false });
  vi.useFakeTimers();
  await t.sync.queue('POST', '/notes', { body: { title: 'Groceries' } });
  t.goOnline();
  await t.settled({ timeoutMs: 3000, label: 'under fake timers' });
  expect(server.applied.map((applied) => applied.body)).toStrictEqual([{ title: 'Groceries' }]);
}, 10_000);

it('settled() and waitForRequests() time out with their label under fake timers', async () => {
  server = await FaultServer.start();
  t = await createTestApp({ sync: { baseUrl: server.url }, online: true });
  server.script('hang');
  vi.useFakeTimers();
  await t.sync.queue('POST', '/notes', { body: { title: 'Groceries' } });
  await expect(settled(t.app, { timeoutMs: 300, label: 'stuck on a hang' })).rejects.toThrow(
    /^timed out after 300 ms: stuck on a hang \(sync: 1 pending/,
  );
  await expect(server.waitForRequests(5, { timeoutMs: 300, label: 'five requests' })).rejects.toThrow(
    /^timed out after 300 ms: five requests: \d received$/,
  );
}, 10_000);

it('an app created after vi.useFakeTimers() still settles', async () => {
  vi.useFakeTimers();
  server = await FaultServer.start();
  t = await createTestApp({ sync: { baseUrl: server.url } });
  await t.sync.queue('POST', '/notes', { body: { title: 'Groceries' } });
  await t.settled({ timeoutMs: 3000, label: 'fake timers first' });
  expect(server.applied).toHaveLength(1);
}, 10_000);
