import { afterEach, describe, expect, it } from 'vitest';
import { type App, createApp } from '../../src/core/app.js';
import type { BroadcastChannelLike } from '../../src/core/platform-types.js';
import type { ReadonlySignal } from '../../src/core/signals.js';
import { ConnectivityMonitor, ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { type ProbeServer, startProbeServer, until } from './helpers.js';

// Several tabs of one origin probing the same URL: what one of them learns from a probe or a failed
// request reaches the others over a BroadcastChannel (Node's works between instances of one
// process, as a browser's does between tabs), so a tab that sends nothing (a follower, while the
// leader's requests fail) does not say "online" for as long as its own probe does not run.

let server: ProbeServer | undefined;
const apps: App[] = [];

afterEach(async () => {
  for (const app of apps.splice(0)) await app.dispose();
  await server?.close();
  server = undefined;
});

/** `until()` with a deadline that names what it waited for. */
async function reaches<T>(source: ReadonlySignal<T>, value: T, label: string, ms = 5000): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${label}`)), ms);
  });
  try {
    await Promise.race([until(source, value), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** A tab: an app with a ConnectivityPlugin probing the server (its own retries a minute apart). */
async function tab(url: string, intervalMs = 60_000): Promise<ConnectivityPlugin> {
  const app = createApp();
  apps.push(app);
  const connectivity = app.register(
    new ConnectivityPlugin({ probe: { url, intervalMs, maxIntervalMs: intervalMs } }),
  );
  await app.ready();
  await reaches(connectivity.isOnline, true, 'the first probe to answer');
  return connectivity;
}

describe('connectivity across tabs (BroadcastChannel)', () => {
  it('a failed request in one tab takes the others offline; the first probe that answers brings them all back', async () => {
    server = await startProbeServer();
    const url = server.url;
    // The leader (short retries) and two followers that would not probe again for a minute.
    const leader = await tab(url, 50);
    const followers = [await tab(url), await tab(url)];
    server.mode = { kind: 'refuse' };
    const before = server.requests.length;
    leader.reportFailure();
    expect(leader.isOnline.value).toBe(false);
    for (const [index, follower] of followers.entries()) {
      await reaches(follower.isOnline, false, `follower ${index} to hear that the leader went offline`);
      expect(follower.reason.value).toBe('request-failure');
    }
    // Each follower checks for itself (one probe each), then backs off for a minute.
    await server.receivedCount(before + 3);
    server.mode = { kind: 'answer', status: 204 };
    // The leader's retry (50 ms) answers; the followers hear it long before their own retry.
    await reaches(leader.isOnline, true, "the leader's retry to answer");
    for (const [index, follower] of followers.entries()) {
      await reaches(follower.isOnline, true, `follower ${index} to hear that the leader is back`, 2000);
      expect(follower.reason.value).toBe('probe');
    }
  });

  it('a probe that fails in one tab takes the others offline, and they probe for themselves', async () => {
    server = await startProbeServer();
    const url = server.url;
    const [first, second] = [await tab(url), await tab(url)];
    server.mode = { kind: 'refuse' };
    await expect(first.check()).resolves.toBe(false);
    await reaches(second.isOnline, false, 'the second tab to hear the failed probe');
    // It probed too (reportFailure's probe): three requests after the two first answers.
    await server.receivedCount(4);
    expect(first.reason.value).toBe('probe');
  });

  it('tabs probing another URL, and a tab whose state setOnline() decides, are not told', async () => {
    server = await startProbeServer();
    const [one, other, manual, witness] = [
      await tab(server.url),
      await tab(`${server.url}?other`),
      await tab(server.url),
      await tab(server.url),
    ];
    manual.setOnline(true);
    server.mode = { kind: 'refuse' };
    one.reportFailure();
    // The witness (same URL) hears it; the others got the message by then too, or never will.
    await reaches(witness.isOnline, false, 'the witness tab to hear the failure');
    await new Promise((resolve) => setImmediate(resolve));
    expect(other.isOnline.value).toBe(true);
    expect(other.reason.value).toBe('probe');
    expect(manual.isOnline.value).toBe(true);
    expect(manual.reason.value).toBe('manual');
  });

  it('the monitor takes a channel from start(); a wrong one is refused; dispose() closes it', () => {
    const posted: unknown[] = [];
    let closed = false;
    const channel: BroadcastChannelLike = {
      postMessage: (message) => posted.push(message),
      addEventListener: () => {},
      removeEventListener: () => {},
      close: () => {
        closed = true;
      },
    };
    const names: string[] = [];
    const monitor = new ConnectivityMonitor({
      probe: { url: 'https://api.example.test/health' },
      initial: true,
      fetch: () => new Promise(() => {}),
    });
    expect(() => monitor.start({ channel: 'yes' as never })).toThrow(
      expect.objectContaining({ code: 'invalid-argument' }),
    );
    monitor.start({
      channel: asClass((name) => {
        names.push(name);
        return channel;
      }),
    });
    expect(names).toStrictEqual(['fluxy-connectivity:https://api.example.test/health']);
    monitor.reportFailure();
    expect(posted).toStrictEqual([[false, expect.any(Number)]]);
    monitor.setOnline(true); // the app's own decision: not the other tabs'
    expect(posted).toHaveLength(1);
    monitor.dispose();
    expect(closed).toBe(true);
  });
});

describe('what a monitor does with what it hears', () => {
  function heard() {
    let listener: ((event: { data: unknown }) => void) | undefined;
    const channel: BroadcastChannelLike = {
      postMessage: () => {},
      addEventListener: (_type, added) => {
        listener = added;
      },
      removeEventListener: () => {},
      close: () => {},
    };
    let time = 1000;
    const monitor = new ConnectivityMonitor({
      probe: { url: 'https://api.example.test/health' },
      initial: true,
      now: () => time,
      fetch: () => new Promise(() => {}), // probes never answer: only messages decide here
    });
    monitor.start({ channel: asClass(() => channel) });
    return {
      monitor,
      tell: (online: boolean, at: number) => listener?.({ data: [online, at] }),
      setTime: (at: number) => {
        time = at;
      },
    };
  }

  it('an "online" older than its own last change is ignored; a newer one ends its probing', () => {
    const { monitor, tell, setTime } = heard();
    setTime(2000);
    monitor.reportFailure(); // offline at 2000, probing
    tell(true, 1500); // another tab's probe answered before this failure: old news
    expect(monitor.isOnline.value).toBe(false);
    tell(true, 2000); // the same millisecond: not known to be newer
    expect(monitor.isOnline.value).toBe(false);
    setTime(2600);
    tell(true, 2500);
    expect(monitor.isOnline.value).toBe(true);
    expect(monitor.reason.value).toBe('probe');
    expect(monitor.lastChangedAt.value).toBe(2600);
    monitor.dispose();
  });

  it('an "offline" as new as its own last change is taken (a probe checks it); an older one is not', () => {
    const { monitor, tell, setTime } = heard();
    tell(false, 999); // before this monitor was made (its last change: 1000)
    expect(monitor.isOnline.value).toBe(true);
    tell(false, 1000);
    expect(monitor.isOnline.value).toBe(false);
    expect(monitor.reason.value).toBe('request-failure');
    setTime(3000);
    monitor.setOnline(true); // the app decides from now on
    tell(false, 4000);
    expect(monitor.isOnline.value).toBe(true);
    monitor.dispose();
  });
});

/** A channel class (what `start({ channel })` takes, as `BroadcastChannel`) making `make(name)`. */
function asClass(make: (name: string) => BroadcastChannelLike): new (name: string) => BroadcastChannelLike {
  // A constructor that returns an object gives that object to `new`.
  return function channelOf(name: string) {
    return make(name);
  } as unknown as new (
    name: string,
  ) => BroadcastChannelLike;
}
