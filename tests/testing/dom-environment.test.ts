// @vitest-environment happy-dom
// fluxy/testing where app authors test UI code: a DOM environment (happy-dom here), whose
// navigator.onLine is true and whose fetch is a browser's (CORS enforced).
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createTestApp, FaultServer, type TestApp } from '../../src/testing/index.js';

let server: FaultServer;
let t: TestApp | undefined;

beforeEach(async () => {
  server = await FaultServer.start();
});
afterEach(async () => {
  await t?.dispose();
  t = undefined;
  await server.close();
});

it('TestConnectivity stays offline when the app calls check() (navigator.onLine is true here)', async () => {
  expect(navigator.onLine).toBe(true);
  t = await createTestApp({ sync: { baseUrl: server.url }, online: false });
  await expect(t.connectivity.check()).resolves.toBe(false);
  expect(t.connectivity.isOnline.value).toBe(false);
  t.goOnline();
  await expect(t.connectivity.check()).resolves.toBe(true);
});

it('the fault server answers a browser fetch (CORS) and does not apply its preflights', async () => {
  t = await createTestApp({ sync: { baseUrl: server.url, timeoutMs: 2000 } });
  await t.sync.queue('POST', '/notes', { body: { title: 'Groceries' }, headers: { 'X-Source': 'test' } });
  await t.settled({ timeoutMs: 5000, label: 'one note through a browser fetch' });
  expect(t.sync.lastError.value).toBeNull();
  expect(server.applied.map((applied) => `${applied.method} ${applied.path}`)).toStrictEqual(['POST /notes']);
  expect(server.received.map((received) => received.method)).toStrictEqual(['POST']);
});
