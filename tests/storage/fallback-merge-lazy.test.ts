import { IDBFactory } from 'fake-indexeddb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import { storagePerTest } from './fixtures.js';

// Session 17: the merge of a localStorage fallback's records (fallback-merge.test.ts) costs a start
// with nothing to merge one localStorage read: its code is not loaded, nor localforage; a merge
// loads its own code, and still not localforage.

const loaded = vi.hoisted((): string[] => []);
vi.mock('localforage', async (importOriginal) => {
  loaded.push('localforage');
  return importOriginal();
});
vi.mock('../../src/plugins/storage/fallback-merge.js', async (importOriginal) => {
  loaded.push('fallback-merge');
  return importOriginal();
});

const openStorage = storagePerTest();
let local: Map<string, string>;

beforeEach(() => {
  local = new Map();
  vi.stubGlobal('localStorage', {
    get length() {
      return local.size;
    },
    key: (index: number) => [...local.keys()][index] ?? null,
    getItem: (key: string) => local.get(key) ?? null,
    setItem: (key: string, value: string) => local.set(key, String(value)),
    removeItem: (key: string) => local.delete(key),
  });
});
afterEach(() => {
  vi.unstubAllGlobals();
});

describe('the merge of a localStorage fallback, loaded only when there is one', () => {
  it('nothing to merge: neither its code nor localforage is loaded', async () => {
    // Another database's fallback, and this one's records of driver "localstorage" (no marker).
    local.set('fluxy:fallback:other', '1');
    local.set('fluxy/records/k', JSON.stringify('{"v":1,"value":1}'));
    const indexedDB = new IDBFactory();
    const { storage, app } = await openStorage({ indexedDB });
    await storage.set('a', 1);
    await app.dispose();
    await openStorage({ indexedDB });
    expect(loaded).toStrictEqual([]);
  });

  it('a merge loads its code, never localforage: the records are read from localStorage directly', async () => {
    // What a fallback writes: its marker, then through localforage's localStorage driver the JSON
    // of each stored text, under <name>/records/.
    local.set('fluxy:fallback:fluxy', '1');
    local.set('fluxy/records/\u0000fluxy:generation', JSON.stringify('the fallback generation'));
    local.set('fluxy/records/sync/p/1', JSON.stringify('{"v":1,"value":{"title":"one"}}'));
    const { storage } = await openStorage({ indexedDB: new IDBFactory() });
    expect(await storage.get('sync/p/1')).toStrictEqual({ title: 'one' });
    expect(storage).toBeInstanceOf(StoragePlugin);
    // (From the sources, its module is loaded; from dist/ (npm run test:dist), its chunk.)
    expect(loaded).not.toContain('localforage');
    expect([...local.keys()].filter((key) => key.startsWith('fluxy/records/'))).toStrictEqual([]);
    expect(local.has('fluxy:fallback:fluxy')).toBe(false);
  });
});
