import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/core/app.js';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import { SyncPlugin } from '../../src/plugins/sync/index.js';
import { MemoryStore } from '../support/memory-store.js';
import { faultServerPerTest, silentLogger, until } from './harness.js';

// Issue 17, finding 3: pending() and failed() read every record at once (100,000 ops on the file
// driver: EMFILE and gigabytes of RSS). They now read a few at a time, and can page.
const fixture = faultServerPerTest();

/** A store that counts how many reads run at the same time. */
class CountingStore extends MemoryStore {
  reading = 0;
  mostAtOnce = 0;
  override async get(key: string): Promise<unknown> {
    this.reading++;
    this.mostAtOnce = Math.max(this.mostAtOnce, this.reading);
    try {
      await new Promise((resolve) => setImmediate(resolve));
      return await super.get(key);
    } finally {
      this.reading--;
    }
  }
}

describe('pending() and failed() on long lists', () => {
  it('read a bounded number of records at once, and return them all in order', async () => {
    const store = new CountingStore();
    const { engine, queue } = fixture.engineFor({ baseUrl: fixture.server.url, store, online: false });
    await engine.start();
    const ids: string[] = [];
    for (let n = 0; n < 200; n++) ids.push((await queue('POST', `/api/${n}`, { body: { n } })).id);
    store.mostAtOnce = 0;
    const pending = await engine.pending();
    expect(pending.map((operation) => operation.id)).toStrictEqual(ids);
    expect(store.mostAtOnce).toBeGreaterThan(1);
    expect(store.mostAtOnce).toBeLessThanOrEqual(16);
  });

  it('page with { limit, after } through the plugin, for pending and failed', async () => {
    const app = createApp({ logger: silentLogger });
    try {
      app.register(new StoragePlugin({ driver: 'memory' }));
      const connectivity = app.register(new ConnectivityPlugin());
      const sync = app.register(new SyncPlugin({ baseUrl: fixture.server.url }));
      await app.ready();
      connectivity.setOnline(false);
      const ids: string[] = [];
      for (let n = 0; n < 25; n++) ids.push((await sync.queue('POST', `/api/${n}`, { body: { n } })).id);
      const pages: string[][] = [];
      let after: string | undefined;
      for (let round = 0; round < 5; round++) {
        const page = await sync.pending(after === undefined ? { limit: 10 } : { limit: 10, after });
        if (page.length === 0) break;
        pages.push(page.map((operation) => operation.id));
        after = page.at(-1)?.id;
      }
      expect(pages.map((page) => page.length)).toStrictEqual([10, 10, 5]);
      expect(pages.flat()).toStrictEqual(ids);
      expect((await sync.pending({ after: ids[22] })).map((operation) => operation.id)).toStrictEqual(
        ids.slice(23),
      );

      fixture.server.script(...ids.map(() => ({ status: 422 })));
      connectivity.setOnline(true);
      await until(() => sync.failedCount.value === 25, 'every op failed');
      const first = await sync.failed({ limit: 3 });
      expect(first.map((operation) => operation.id)).toStrictEqual(ids.slice(0, 3));
      expect(
        (await sync.failed({ limit: 3, after: first.at(-1)?.id })).map((operation) => operation.id),
      ).toStrictEqual(ids.slice(3, 6));

      for (const options of [
        { limit: 0 },
        { limit: 1.5 },
        { limit: '10' },
        { after: 5 },
        { after: '' },
        { page: 2 },
        'x',
      ]) {
        await expect(sync.pending(options as never)).rejects.toMatchObject({ code: 'sync/invalid-options' });
        await expect(sync.failed(options as never)).rejects.toMatchObject({ code: 'sync/invalid-options' });
      }
    } finally {
      await app.dispose();
    }
  });
});
