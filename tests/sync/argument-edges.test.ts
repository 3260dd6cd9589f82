import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import { type App, createApp } from '../../src/core/app.js';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { minIterations, StoragePlugin } from '../../src/plugins/storage/index.js';
import { SyncPlugin } from '../../src/plugins/sync/index.js';
import { resolveOperationUrl } from '../../src/plugins/sync/options.js';
import { prepareOperation } from '../../src/plugins/sync/request-validation.js';
import { silentLogger } from './harness.js';

// Each failed before its fix: retry('') resolved 0 while discard('') threw; a URL with leading or
// trailing whitespace was stored and sent as `/%20/a`.

const apps: App[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.dispose();
});

async function start() {
  const app = createApp({ logger: silentLogger });
  apps.push(app);
  const storage = app.register(
    new StoragePlugin({
      indexedDB: new IDBFactory(),
      secret: 'correct horse battery staple',
      iterations: minIterations,
    }),
  );
  app.register(new ConnectivityPlugin());
  // Offline by construction: nothing here is ever sent (an unreachable base URL).
  const sync = app.register(new SyncPlugin({ baseUrl: 'https://api.example.invalid' }));
  await app.ready();
  return { sync, storage };
}

describe('retry(id) checks an id given as discard(id) does', () => {
  it.each([
    ['an empty string', ''],
    ['a number', 42],
    ['null', null],
  ])('retry(%s) rejects with invalid-argument, like discard', async (_name, id) => {
    const { sync } = await start();
    await expect(sync.discard(id as string)).rejects.toMatchObject({ code: 'invalid-argument' });
    await expect(sync.retry(id as string)).rejects.toMatchObject({ code: 'invalid-argument' });
  });

  it('retry() with no id (or undefined) stays valid', async () => {
    const { sync } = await start();
    expect(await sync.retry()).toBe(0);
    expect(await sync.retry(undefined)).toBe(0);
  });
});

describe('a URL with leading or trailing whitespace', () => {
  const limits = {
    maxBodyBytes: 1024,
    resolveUrl: (url: string) => resolveOperationUrl(url, 'https://api.example.com/v1'),
  };

  it.each([' /a', '/a ', '\t/a', '/a\n', '\u00a0/a', ' https://api.example.com/v1/a'])(
    '%j is refused with sync/invalid-url',
    (url) => {
      expect(() => prepareOperation('POST', url, undefined, limits)).toThrow(
        expect.objectContaining({ code: 'sync/invalid-url' }),
      );
    },
  );

  it('queue() refuses it and stores nothing; the same URL without the spaces is taken as it is', async () => {
    const { sync, storage } = await start();
    await expect(sync.queue('POST', ' /a')).rejects.toMatchObject({ code: 'sync/invalid-url' });
    await expect(sync.queue('PUT', '/a ', { body: {} })).rejects.toMatchObject({ code: 'sync/invalid-url' });
    expect(await storage.namespace('sync').keys()).toStrictEqual([]);
    expect(sync.pendingCount.value).toBe(0);
    const operation = await sync.queue('POST', '/a b');
    expect(operation.url).toBe('/a b');
  });
});

describe('the baseUrl and batch.url options with leading or trailing whitespace', () => {
  // Failed before its fix: both were taken, and every URL was sent as `…/%20/…` or with the
  // spaces dropped by URL parsing, while the same URL given to queue() is refused.
  it.each([' https://api.example.com', 'https://api.example.com ', '\t/api', '/api\n', '\u00a0/api'])(
    'new SyncPlugin({ baseUrl: %j }) is refused with sync/invalid-options',
    (baseUrl) => {
      expect(() => new SyncPlugin({ baseUrl })).toThrow(
        expect.objectContaining({ code: 'sync/invalid-options' }),
      );
    },
  );

  it.each([' /batch', '/batch ', '\t/batch', '/batch\n', '\u00a0/batch', ' https://api.example.com/batch'])(
    'new SyncPlugin({ batch: { url: %j } }) is refused with sync/invalid-options',
    (url) => {
      expect(() => new SyncPlugin({ baseUrl: 'https://api.example.com', batch: { url } })).toThrow(
        expect.objectContaining({ code: 'sync/invalid-options' }),
      );
    },
  );

  it('the same options without the spaces are taken, and spaces inside stay allowed', () => {
    expect(
      () => new SyncPlugin({ baseUrl: 'https://api.example.com', batch: { url: '/batch' } }),
    ).not.toThrow();
    expect(
      () => new SyncPlugin({ baseUrl: 'https://api.example.com/a b', batch: { url: '/a b' } }),
    ).not.toThrow();
  });
});
