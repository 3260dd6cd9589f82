import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { encodeFileName } from '../../src/plugins/storage/drivers/file-names.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import { SyncPlugin } from '../../src/plugins/sync/index.js';
import { tempDirsPerTest } from '../storage/fixtures.js';
import { registryPerTest, until } from './harness.js';

// Issue 17, finding 6, through Sync: an op copied from Alice's database folder into Bob's (one
// raw key for both) was sent with Bob's credentials. The MAC now binds the database id.
const fixture = registryPerTest();
const tempDir = tempDirsPerTest();
const key = new Uint8Array(32).fill(42);

async function session(dir: string, online: boolean, token: string) {
  const app = fixture.app();
  app.register(new StoragePlugin({ driver: 'file', dir, key }));
  const connectivity = app.register(new ConnectivityPlugin());
  const sync = app.register(
    new SyncPlugin({ baseUrl: fixture.server.url, headers: { 'X-Session-Token': token } }),
  );
  connectivity.setOnline(online);
  await app.ready();
  return { app, sync };
}

describe('an operation copied between databases', () => {
  it('is never sent: it ends in the failed list as unreadable', async () => {
    const [aliceDir, bobDir] = [await tempDir(), await tempDir()];
    const alice = await session(aliceDir, false, 'alice');
    const op = await alice.sync.queue('POST', '/api/transfer', { body: { to: 'mallory' } });
    await alice.app.dispose();
    const bob = await session(bobDir, false, 'bob');
    await bob.app.dispose();
    const file = `k-${encodeFileName(`sync/p/${op.id}`)}.rec`;
    const folder = encodeFileName('fluxy');
    await copyFile(join(aliceDir, folder, file), join(bobDir, folder, file));

    const again = await session(bobDir, true, 'bob');
    await until(() => again.sync.failedCount.value === 1, 'the copied op in the failed list');
    expect(await again.sync.failed()).toMatchObject([
      { id: op.id, unreadable: true, lastError: { code: 'sync/record-unreadable' } },
    ]);
    expect(fixture.server.received).toStrictEqual([]);
  });
});
