import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/core/app.js';
import { Collection } from '../../src/plugins/collections/index.js';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import { SyncPlugin } from '../../src/plugins/sync/index.js';
import { FaultServer } from '../../src/testing/index.js';
import { silentLogger } from '../sync/harness.js';

// sync.read() follows no redirect (your credentials would follow it): a feed the server redirects
// (a trailing slash, a login page) fails every pull. A review found the collection reported it as
// "got no answer", with no cause in lastError: an app could not tell it from being offline.
describe('a collection whose feed answers a redirect', () => {
  it('reports it in lastError: the read error sync/redirected as its cause, in the message too', async () => {
    const server = await FaultServer.start();
    for (let n = 0; n < 5; n++) server.script({ status: 301, headers: { Location: '/notes/' } });
    const app = createApp({ logger: silentLogger });
    app.register(new StoragePlugin({ driver: 'memory' }));
    app.register(new ConnectivityPlugin()).setOnline(true);
    app.register(new SyncPlugin({ baseUrl: server.url }));
    const notes = app.register(new Collection('notes', { url: '/notes', pullIntervalMs: 0, locks: false }));
    try {
      await app.ready();
      const error = await notes.pull().catch((caught: unknown) => caught);
      expect(error).toMatchObject({ code: 'collections/pull-failed', cause: { code: 'sync/redirected' } });
      const last = notes.lastError.value;
      expect(last).toMatchObject({ code: 'collections/pull-failed', cause: { code: 'sync/redirected' } });
      // The development build's message (tests run the sources) names it.
      expect(last?.message).toContain('redirect');
    } finally {
      await app.dispose();
      await server.close();
    }
  });
});
