import { afterEach, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../src/core/app.js';
import { metadataKey } from '../../src/plugins/storage/database-metadata.js';
import { FileDriver } from '../../src/plugins/storage/drivers/file-driver.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import { resolveStorageOptions } from '../../src/plugins/storage/options.js';
import { expectCode, fastIterations, quietLogger, tempDirsPerTest } from './fixtures.js';

// Issue 17, finding 9: a stored PBKDF2 count of 10,000,000 delayed the wrong-secret error by
// seconds (it is now capped unless the iterations option asks for more); a whitespace-only
// secret was accepted.
const tempDir = tempDirsPerTest();

async function open(dir: string, secret: string) {
  const app = createApp({ logger: quietLogger() });
  app.register(new StoragePlugin({ driver: 'file', dir, secret, iterations: fastIterations }));
  try {
    await app.ready();
  } finally {
    await app.dispose();
  }
}

describe('database metadata limits', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('a stored iteration count above the cap is refused before any key derivation', async () => {
    const dir = await tempDir();
    // PBKDF2 as a Node or browser run derives it (WebCrypto): seen when the database is made.
    const derive = vi.spyOn(globalThis.crypto.subtle, 'deriveBits');
    await open(dir, 'the right secret');
    expect(derive).toHaveBeenCalled();
    derive.mockClear();
    const driver = await FileDriver.open({ dir, name: 'fluxy' });
    const metadata = JSON.parse((await driver.getItem(metadataKey)) as string) as Record<string, unknown>;
    await driver.setItem(metadataKey, JSON.stringify({ ...metadata, iterations: 10_000_000 }));
    await driver.close();
    for (const secret of ['a wrong secret', 'the right secret']) {
      const app = createApp({ logger: quietLogger() });
      const storage = app.register(
        new StoragePlugin({ driver: 'file', dir, secret, iterations: fastIterations }),
      );
      const error = await expectCode(storage.get('x'), 'storage/tampered');
      expect(error.message).toMatch(/10000000 PBKDF2 iterations/);
      await app.dispose().catch(() => undefined);
    }
    expect(derive).not.toHaveBeenCalled(); // 10M iterations take seconds
  });

  it('a whitespace-only secret is refused', () => {
    for (const secret of [' ', '\t\n', '   ']) {
      expect(() => resolveStorageOptions({ secret })).toThrow(
        expect.objectContaining({ code: 'storage/invalid-secret' }),
      );
    }
    expect(resolveStorageOptions({ secret: ' a ' }).credentials).toMatchObject({
      kind: 'secret',
      secret: ' a ',
    });
  });
});
