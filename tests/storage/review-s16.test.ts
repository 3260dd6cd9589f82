import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../src/core/app.js';
import { IndexedDbDriver, openTimeoutMs } from '../../src/plugins/storage/drivers/indexeddb-driver.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import { quietLogger, withTimeout } from './fixtures.js';

// Regressions for the storage fault paths left open by session 15 (each test failed before its fix).

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

/** An IDBOpenDBRequest the test settles by hand, and the connection it opens. */
interface HandRequest {
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
  onblocked: (() => void) | null;
  onupgradeneeded: (() => void) | null;
  result: { close: () => void; onversionchange: unknown };
  error: DOMException | null;
}

/** A factory whose every open() returns a {@link HandRequest}, kept in `requests`. */
function handFactory() {
  const requests: HandRequest[] = [];
  const factory = {
    open: () => {
      const request: HandRequest = {
        onsuccess: null,
        onerror: null,
        onblocked: null,
        onupgradeneeded: null,
        result: { close: vi.fn(), onversionchange: null },
        error: null,
      };
      requests.push(request);
      return request;
    },
  } as unknown as IDBFactory;
  return { factory, requests };
}

/** What `promise` settled with: its error, or undefined once it resolved. */
function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('an IndexedDB open that fails', () => {
  it('by its error event clears its 10 s timer (it ran on, for nothing)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { factory, requests } = handFactory();
    const opening = failure(IndexedDbDriver.open(factory, 'db'));
    expect(vi.getTimerCount()).toBe(1);
    const [request] = requests;
    request!.error = new DOMException('Internal error opening backing store', 'UnknownError');
    request!.onerror?.();
    expect(await opening).toMatchObject({ name: 'UnknownError' });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('by its blocked event clears its timer, and closes the connection that opens once the other tab let go', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { factory, requests } = handFactory();
    const opening = failure(IndexedDbDriver.open(factory, 'db'));
    const [request] = requests;
    request!.onblocked?.();
    expect(await opening).toBeInstanceOf(Error);
    expect(vi.getTimerCount()).toBe(0);
    request!.onsuccess?.(); // the other tab closed its connection: the open goes through
    expect(request!.result.close).toHaveBeenCalledTimes(1);
  });

  it('by the timeout closes the connection that opens after it (it stayed open, used by nothing)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { factory, requests } = handFactory();
    const opening = failure(IndexedDbDriver.open(factory, 'db'));
    await vi.advanceTimersByTimeAsync(openTimeoutMs);
    expect(await opening).toMatchObject({ code: 'storage/unavailable' });
    const [request] = requests;
    request!.onsuccess?.(); // the browser finally answers
    expect(request!.result.close).toHaveBeenCalledTimes(1);
  });

  it('an open that succeeds in time keeps its connection and leaves no timer', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { factory, requests } = handFactory();
    const opening = IndexedDbDriver.open(factory, 'db');
    const [request] = requests;
    request!.onsuccess?.();
    expect(await opening).toBeInstanceOf(IndexedDbDriver);
    expect(request!.result.close).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('a storage init retried after the open timed out', () => {
  it('opens again with one timer of its own; the first open, answering late, is closed, the second is used', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const hand = handFactory();
    const real = new IDBFactory();
    let opens = 0;
    // The first open hangs (the browser fault); the next goes through.
    const factory = {
      open: (name: string, version?: number) => (++opens === 1 ? hand.factory : real).open(name, version),
    } as IDBFactory;
    const app = createApp({ logger: quietLogger() });
    const storage = app.register(new StoragePlugin({ driver: 'indexeddb', indexedDB: factory }));
    const first = failure(app.ready());
    await vi.waitFor(() => expect(opens).toBe(1), { timeout: 1_000 });
    await vi.advanceTimersByTimeAsync(openTimeoutMs);
    expect(await withTimeout(first, 'the first ready()')).toMatchObject({
      cause: { code: 'storage/unavailable' },
    });
    expect(vi.getTimerCount()).toBe(0);

    const second = app.ready(); // "Fix the cause and call ready() again."
    await vi.waitFor(() => expect(opens).toBe(2), { timeout: 1_000 });
    expect(vi.getTimerCount()).toBe(1); // its own, not stacked on another
    await withTimeout(second, 'the second ready()');
    expect(storage.driver).toBe('indexeddb');
    expect(vi.getTimerCount()).toBe(0);
    await storage.set('k', 1);
    const [late] = hand.requests;
    late!.onsuccess?.(); // the first open answers at last
    expect(late!.result.close).toHaveBeenCalledTimes(1);
    expect(await storage.get('k')).toBe(1); // the one in use is untouched
    await app.dispose();
  });
});
