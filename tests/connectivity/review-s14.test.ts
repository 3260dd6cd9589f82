import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/core/app.js';
import { type ConnectivityOptions, ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';

// A fresh user's review (session 14) of connectivity: each test failed before its fix.

describe('ConnectivityPlugin options (review s14)', () => {
  it('reads options given by getters of a class instance, as it checks them (they were dropped)', async () => {
    const requested: string[] = [];
    class Settings implements ConnectivityOptions {
      get initial(): boolean {
        return false;
      }
      get probe() {
        return { url: 'http://127.0.0.1:9/health', timeoutMs: 1000 };
      }
      get fetch() {
        return async (url: string): Promise<Response> => {
          requested.push(url);
          return new Response(null, { status: 204 });
        };
      }
    }
    const app = createApp();
    const connectivity = app.register(new ConnectivityPlugin(new Settings()));
    expect(connectivity.isOnline.value).toBe(false);
    await app.ready();
    expect(await connectivity.check()).toBe(true);
    expect(requested[0]).toBe('http://127.0.0.1:9/health');
    expect(connectivity.reason.value).toBe('probe');
    await app.dispose();
  });
});
