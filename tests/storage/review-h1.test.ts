import { afterEach, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../src/core/app.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import { expectCode, quietLogger } from './fixtures.js';

// Regressions for the defects of fluxy/storage left open by session 14 (each test failed before its fix).

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('requestPersistence() and persistence() after dispose', () => {
  it('reject with app/disposed, as every other method does, and ask nothing', async () => {
    const persist = vi.fn(async () => true);
    const persisted = vi.fn(async () => true);
    vi.stubGlobal('navigator', { storage: { persist, persisted } });
    const app = createApp({ logger: quietLogger() });
    const storage = app.register(new StoragePlugin({ driver: 'memory' }));
    await app.ready();
    expect(await storage.persistence()).toBe('persisted');
    await app.dispose();
    await expectCode(storage.get('k'), 'app/disposed'); // as the others
    await expectCode(storage.requestPersistence(), 'app/disposed');
    await expectCode(storage.persistence(), 'app/disposed');
    expect(persist).not.toHaveBeenCalled();
    expect(persisted).toHaveBeenCalledTimes(1);
  });
});
