// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from 'vitest';
import { expectCode, fastIterations, snapshot, storagePerTest } from './fixtures.js';

const openStorage = storagePerTest();

afterEach(() => {
  vi.unstubAllGlobals();
  localStorage.clear();
});

describe('the localstorage driver (localforage built-in)', () => {
  it('stores under "<name>/records/<key>", sorted keys, prefixes and namespaces', async () => {
    const { storage } = await openStorage({ driver: 'localstorage', name: 'app' });
    expect(storage.driver).toBe('localstorage');
    for (const key of ['b', 'a/2', 'a/1', '😀', 'ｚ']) await storage.set(key, { key });
    await storage.namespace('ns').set('x', 1);
    expect(Object.keys(localStorage).sort()).toContain('app/records/a/1');
    expect(await storage.keys()).toStrictEqual(['a/1', 'a/2', 'b', 'ns/x', '😀', 'ｚ']);
    expect(await storage.keys('a/')).toStrictEqual(['a/1', 'a/2']);
    expect(await storage.get('b')).toStrictEqual({ key: 'b' });
    await storage.clear('a/');
    expect(await storage.namespace('ns').keys()).toStrictEqual(['x']);
    await storage.clear();
    expect(await storage.keys()).toStrictEqual([]);
  });

  it('encrypts values and finds them again after a restart', async () => {
    const options = { driver: 'localstorage', secret: 'pw', iterations: fastIterations } as const;
    const { app, storage } = await openStorage(options);
    await storage.set('diary', 'dear diary, today');
    const raw = Object.values(localStorage).join('\n');
    expect(raw).not.toContain('dear diary');
    await app.dispose();
    const { storage: reopened } = await openStorage(options);
    expect(await reopened.get('diary')).toBe('dear diary, today');
    await expectCode(openStorage({ ...options, secret: 'wrong' }), 'plugin/init-failed');
  });

  it('maps a full localStorage to storage/quota-exceeded, earlier data intact', async () => {
    vi.stubGlobal('localStorage', new SmallStorage(300));
    const { storage } = await openStorage({ driver: 'localstorage' });
    await storage.set('kept', 1);
    await expectCode(storage.set('big', 'x'.repeat(400)), 'storage/quota-exceeded');
    await expectCode(storage.set('kept', 'y'.repeat(400)), 'storage/quota-exceeded');
    expect(await snapshot(storage)).toStrictEqual({ kept: 1 });
  });
});

/** A Storage that throws QuotaExceededError, as browsers do, once `limit` characters are used. */
class SmallStorage {
  readonly #items = new Map<string, string>();
  readonly #limit: number;
  constructor(limit: number) {
    this.#limit = limit;
  }
  get length(): number {
    return this.#items.size;
  }
  key(index: number): string | null {
    return [...this.#items.keys()][index] ?? null;
  }
  getItem(key: string): string | null {
    return this.#items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    const used = [...this.#items].reduce((total, [k, v]) => total + (k === key ? 0 : k.length + v.length), 0);
    if (used + key.length + String(value).length > this.#limit) {
      throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    }
    this.#items.set(key, String(value));
  }
  removeItem(key: string): void {
    this.#items.delete(key);
  }
  clear(): void {
    this.#items.clear();
  }
}
