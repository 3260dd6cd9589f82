import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/core/app.js';
import { FluxyError } from '../../src/core/errors.js';
import {
  ConnectivityMonitor,
  type ConnectivityOptions,
  ConnectivityPlugin,
} from '../../src/plugins/connectivity/index.js';
import { PROBE_DEFAULTS, resolveProbeUrl } from '../../src/plugins/connectivity/options.js';
import { controlledFetch, ManualTimers } from './helpers.js';

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

const badOptions: Array<[string, unknown, string]> = [
  ['options null', null, 'invalid-argument'],
  ['options a string', 'online', 'invalid-argument'],
  ['options an array', [], 'invalid-argument'],
  ['options a Map', new Map(), 'invalid-argument'],
  ['probe a Map', { probe: new Map([['url', 'https://x.test/']]) }, 'connectivity/invalid-probe'],
  ['an unknown option', { prob: { url: '/x' } }, 'invalid-argument'],
  ['initial not a boolean', { initial: 'yes' }, 'invalid-argument'],
  ['fetch not a function', { fetch: 'fetch' }, 'invalid-argument'],
  ['probe a string', { probe: 'https://x.test/' }, 'connectivity/invalid-probe'],
  ['probe null', { probe: null }, 'connectivity/invalid-probe'],
  ['probe an array', { probe: [] }, 'connectivity/invalid-probe'],
  ['probe without url', { probe: {} }, 'connectivity/invalid-probe'],
  ['probe url a number', { probe: { url: 42 } }, 'connectivity/invalid-probe'],
  ['probe url empty', { probe: { url: '  ' } }, 'connectivity/invalid-probe'],
  ['probe url ftp', { probe: { url: 'ftp://x.test/health' } }, 'connectivity/invalid-probe'],
  ['probe url javascript:', { probe: { url: 'javascript:alert(1)' } }, 'connectivity/invalid-probe'],
  ['probe url unparsable', { probe: { url: 'http://[::1' } }, 'connectivity/invalid-probe'],
  ['probe unknown key', { probe: { url: '/x', interval: 5 } }, 'connectivity/invalid-probe'],
  ['intervalMs 0', { probe: { url: '/x', intervalMs: 0 } }, 'connectivity/invalid-probe'],
  ['intervalMs negative', { probe: { url: '/x', intervalMs: -1 } }, 'connectivity/invalid-probe'],
  ['intervalMs NaN', { probe: { url: '/x', intervalMs: Number.NaN } }, 'connectivity/invalid-probe'],
  ['intervalMs Infinity', { probe: { url: '/x', intervalMs: Infinity } }, 'connectivity/invalid-probe'],
  ['intervalMs a string', { probe: { url: '/x', intervalMs: '100' } }, 'connectivity/invalid-probe'],
  [
    'intervalMs beyond setTimeout',
    { probe: { url: '/x', intervalMs: 2 ** 31 } },
    'connectivity/invalid-probe',
  ],
  ['timeoutMs 0', { probe: { url: '/x', timeoutMs: 0 } }, 'connectivity/invalid-probe'],
  ['intervalMs below 1 ms', { probe: { url: '/x', intervalMs: 0.001 } }, 'connectivity/invalid-probe'],
  [
    'intervals below 1 ms',
    { probe: { url: '/x', intervalMs: 0.001, maxIntervalMs: 0.001 } },
    'connectivity/invalid-probe',
  ],
  ['maxIntervalMs below 1 ms', { probe: { url: '/x', maxIntervalMs: 0.5 } }, 'connectivity/invalid-probe'],
  ['timeoutMs below 1 ms', { probe: { url: '/x', timeoutMs: 0.25 } }, 'connectivity/invalid-probe'],
  ['timeoutMs Infinity', { probe: { url: '/x', timeoutMs: Infinity } }, 'connectivity/invalid-probe'],
  ['maxIntervalMs NaN', { probe: { url: '/x', maxIntervalMs: Number.NaN } }, 'connectivity/invalid-probe'],
  [
    'maxIntervalMs below intervalMs',
    { probe: { url: '/x', intervalMs: 500, maxIntervalMs: 100 } },
    'connectivity/invalid-probe',
  ],
  ['method POST', { probe: { url: '/x', method: 'POST' } }, 'connectivity/invalid-probe'],
];

describe('bad options', () => {
  it.each(badOptions.map(([label, options, code]) => ({ label, options, code })))(
    '$label → $code',
    ({ options, code }) => {
      const app = createApp();
      const error = thrown(() => app.register(new ConnectivityPlugin(options as ConnectivityOptions)));
      expect(error).toBeInstanceOf(FluxyError);
      expect((error as FluxyError).code).toBe(code);
      expect(app.has('connectivity')).toBe(false);
      // The monitor validates the same way.
      const monitorError = thrown(() => new ConnectivityMonitor(options as ConnectivityOptions));
      expect((monitorError as FluxyError).code).toBe(code);
    },
  );

  it('the plugin refuses the monitor-only options (timers, random, now)', () => {
    for (const options of [{ timers: new ManualTimers() }, { random: Math.random }, { now: Date.now }]) {
      expect((thrown(() => new ConnectivityPlugin(options as ConnectivityOptions)) as FluxyError).code).toBe(
        'invalid-argument',
      );
    }
  });

  it.each([
    ['timers without clearTimeout', { timers: { setTimeout: () => 1 } }],
    ['random not a function', { random: 0.5 }],
    ['now not a function', { now: 123 }],
  ])('monitor: %s → invalid-argument', (_label, options) => {
    const error = thrown(() => new ConnectivityMonitor(options as never));
    expect((error as FluxyError).code).toBe('invalid-argument');
  });

  it('accepts what is valid and applies the documented defaults', async () => {
    const network = controlledFetch();
    const timers = new ManualTimers();
    const monitor = new ConnectivityMonitor({
      probe: { url: 'HTTPS://API.Example.test/health', method: 'get' as 'GET' },
      fetch: network.fetch,
      timers,
      random: () => 1,
    });
    monitor.start();
    expect(network.calls[0]?.url).toBe('https://api.example.test/health');
    expect(network.calls[0]?.init.method).toBe('GET');
    expect(timers.scheduled).toStrictEqual([PROBE_DEFAULTS.timeoutMs]);
    network.fail();
    await monitor.check();
    expect(timers.scheduled).toStrictEqual([PROBE_DEFAULTS.timeoutMs, PROBE_DEFAULTS.intervalMs]);
    monitor.dispose();
    expect(PROBE_DEFAULTS).toStrictEqual({
      intervalMs: 2000,
      maxIntervalMs: 60_000,
      timeoutMs: 5000,
      method: 'HEAD',
    });
  });

  it('resolves a relative URL against a base, and refuses it without one or to a non-http base', () => {
    expect(resolveProbeUrl('/health', 'https://app.test/notes/1')).toBe('https://app.test/health');
    expect(resolveProbeUrl('health', 'https://app.test/notes/')).toBe('https://app.test/notes/health');
    expect((thrown(() => resolveProbeUrl('/health', undefined)) as FluxyError).code).toBe(
      'connectivity/invalid-probe',
    );
    expect((thrown(() => resolveProbeUrl('/health', 'capacitor://localhost/')) as FluxyError).code).toBe(
      'connectivity/invalid-probe',
    );
  });

  it('start() refuses a malformed environment and stays stopped', async () => {
    const network = controlledFetch();
    const monitor = new ConnectivityMonitor({ probe: { url: '/health' }, fetch: network.fetch });
    expect((thrown(() => monitor.start({ platform: {} as never })) as FluxyError).code).toBe(
      'invalid-argument',
    );
    expect((thrown(() => monitor.start({ baseUrl: 42 as never })) as FluxyError).code).toBe(
      'invalid-argument',
    );
    expect((thrown(() => monitor.start()) as FluxyError).code).toBe('connectivity/invalid-probe');
    expect(network.calls).toHaveLength(0);
    monitor.start({ baseUrl: 'https://app.test/' });
    expect(network.calls[0]?.url).toBe('https://app.test/health');
    monitor.dispose();
  });
});

describe('bad arguments', () => {
  it.each([['true'], [1], [null], [undefined]])(
    'setOnline(%j) → invalid-argument, state unchanged',
    (value) => {
      const timers = new ManualTimers();
      const network = controlledFetch();
      const monitor = new ConnectivityMonitor({
        probe: { url: 'https://x.test/' },
        fetch: network.fetch,
        timers,
      });
      monitor.start();
      network.fail();
      const before = {
        online: monitor.isOnline.value,
        reason: monitor.reason.value,
        at: monitor.lastChangedAt.value,
      };
      const error = thrown(() => monitor.setOnline(value as unknown as boolean));
      expect((error as FluxyError).code).toBe('invalid-argument');
      expect({
        online: monitor.isOnline.value,
        reason: monitor.reason.value,
        at: monitor.lastChangedAt.value,
      }).toStrictEqual(before);
      expect(network.calls[0]?.init.signal?.aborted).toBe(false);
      monitor.dispose();
    },
  );

  it.each([
    ['a null-prototype object', Object.create(null)],
    [
      'an object whose toString throws',
      {
        toString() {
          throw new Error('nope');
        },
      },
    ],
  ])('setOnline(%s) → invalid-argument, not a TypeError', (_label, value) => {
    const monitor = new ConnectivityMonitor();
    expect((thrown(() => monitor.setOnline(value as never)) as FluxyError).code).toBe('invalid-argument');
    expect((thrown(() => new ConnectivityMonitor({ initial: value as never })) as FluxyError).code).toBe(
      'invalid-argument',
    );
    expect(
      (
        thrown(
          () => new ConnectivityMonitor({ probe: { url: '/x', intervalMs: value as never } }),
        ) as FluxyError
      ).code,
    ).toBe('connectivity/invalid-probe');
    expect(
      (thrown(() => new ConnectivityMonitor({ probe: { url: '/x', method: value as never } })) as FluxyError)
        .code,
    ).toBe('connectivity/invalid-probe');
  });

  it('the plugin setOnline() refuses a non-boolean too', () => {
    const plugin = new ConnectivityPlugin();
    expect((thrown(() => plugin.setOnline('false' as never)) as FluxyError).code).toBe('invalid-argument');
    expect(plugin.isOnline.value).toBe(true);
  });

  it('waitForOnline(non-signal) → invalid-argument', async () => {
    const monitor = new ConnectivityMonitor({ initial: false });
    await expect(monitor.waitForOnline({} as AbortSignal)).rejects.toMatchObject({
      code: 'invalid-argument',
    });
    const app = createApp();
    const plugin = app.register(new ConnectivityPlugin());
    await expect(plugin.waitForOnline('soon' as never)).rejects.toMatchObject({ code: 'invalid-argument' });
    await app.dispose();
  });
});
