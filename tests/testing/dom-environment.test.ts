// @vitest-environment happy-dom
// fluxy/testing where app authors test UI code: a DOM environment (happy-dom here), whose
// navigator.onLine is true and whose fetch is a browser's (CORS enforced).
import { IDBFactory } from 'fake-indexeddb';
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

// docs/testing.md (Tips): localStorage outlives each test here and holds IndexedDB's generation
// hint, so a fresh fake IndexedDB under a name an earlier test used looks wiped — unless cleared.
it('a fresh IDBFactory per test reports no loss once localStorage is cleared between tests', async () => {
  const open = () => createTestApp({ storage: { driver: 'indexeddb', indexedDB: new IDBFactory() } });
  t = await open();
  await t.dispose();
  t = await open(); // without clearing: the hint names the first test's database
  expect(t.storage.lost.value).toMatchObject({ when: 'between-runs' });
  await t.dispose();
  localStorage.clear();
  t = await open();
  expect([t.storage.lost.value, t.sync.lastError.value]).toStrictEqual([null, null]);
});
