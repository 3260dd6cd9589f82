import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/core/app.js';
import { FluxyError, isFluxyError } from '../../src/core/errors.js';
import type { Plugin, PluginContext } from '../../src/core/plugin.js';
import { deferred, recordingLogger, rejectionOf, tracedPlugin } from './helpers.js';

function newApp() {
  return createApp({ logger: recordingLogger() });
}

describe('ready(): order', () => {
  it('initialises dependencies first, whatever the registration order', async () => {
    const app = newApp();
    const log: string[] = [];
    app.register(tracedPlugin('sync', log, { dependencies: ['storage', 'connectivity'] }));
    app.register(tracedPlugin('connectivity', log));
    app.register(tracedPlugin('ui', log, { dependencies: ['sync'] }));
    app.register(tracedPlugin('storage', log));
    await app.ready();
    expect(log).toStrictEqual(['init:connectivity', 'init:storage', 'init:sync', 'init:ui']);
  });

  it('starts a dependent only after its dependency init resolved (async init)', async () => {
    const app = newApp();
    const log: string[] = [];
    const storageGate = deferred();
    app.register(tracedPlugin('sync', log, { dependencies: ['storage'] }));
    app.register(
      tracedPlugin('storage', log, {
        onInit: async () => {
          await storageGate.promise;
          log.push('storage:done');
        },
      }),
    );
    const running = app.ready();
    await Promise.resolve();
    expect(log).toStrictEqual(['init:storage']);
    storageGate.resolve();
    await running;
    expect(log).toStrictEqual(['init:storage', 'storage:done', 'init:sync']);
  });

  it('accepts sync and async init, and plugins without init', async () => {
    const app = newApp();
    const log: string[] = [];
    app.register({ name: 'sync-init', init: () => void log.push('sync-init') });
    app.register({
      name: 'async-init',
      async init() {
        await Promise.resolve();
        log.push('async-init');
      },
    });
    app.register({ name: 'no-init' });
    await app.ready();
    expect(log.sort()).toStrictEqual(['async-init', 'sync-init']);
  });

  it('initialises independent plugins concurrently', async () => {
    const app = newApp();
    const aStarted = deferred();
    const bStarted = deferred();
    // Each init waits for the other to have started: this only completes if both run at once.
    app.register({
      name: 'a',
      async init() {
        aStarted.resolve();
        await bStarted.promise;
      },
    });
    app.register({
      name: 'b',
      async init() {
        bStarted.resolve();
        await aStarted.promise;
      },
    });
    await app.ready();
    expect(app.has('a') && app.has('b')).toBe(true);
  });

  it('a slow plugin holds up only its dependents', async () => {
    const app = newApp();
    const log: string[] = [];
    const slowGate = deferred();
    const dependentStarted = deferred();
    app.register(tracedPlugin('slow', log, { onInit: () => slowGate.promise }));
    app.register(tracedPlugin('fast', log));
    app.register(
      tracedPlugin('after-fast', log, { dependencies: ['fast'], onInit: () => dependentStarted.resolve() }),
    );
    app.register(tracedPlugin('after-slow', log, { dependencies: ['slow'] }));
    const running = app.ready();
    await dependentStarted.promise;
    expect(log).toStrictEqual(['init:slow', 'init:fast', 'init:after-fast']);
    slowGate.resolve();
    await running;
    expect(log).toStrictEqual(['init:slow', 'init:fast', 'init:after-fast', 'init:after-slow']);
  });

  it('passes the plugin as `this` to init and dispose', async () => {
    const app = newApp();
    const seen: unknown[] = [];
    const plugin: Plugin = {
      name: 'self',
      init() {
        seen.push(this);
      },
      dispose() {
        seen.push(this);
      },
    };
    app.register(plugin);
    await app.ready();
    await app.dispose();
    expect(seen).toStrictEqual([plugin, plugin]);
  });
});

describe('ready(): each plugin once', () => {
  it('concurrent ready() calls share one run', async () => {
    const app = newApp();
    let inits = 0;
    const gate = deferred();
    app.register({
      name: 'counted',
      async init() {
        inits++;
        await gate.promise;
      },
    });
    const first = app.ready();
    const second = app.ready();
    expect(second).toBe(first);
    gate.resolve();
    await Promise.all([first, second]);
    expect(inits).toBe(1);
  });

  it('a later ready() does not re-initialise', async () => {
    const app = newApp();
    let inits = 0;
    app.register({ name: 'counted', init: () => void inits++ });
    await app.ready();
    await app.ready();
    expect(inits).toBe(1);
  });

  it('an init that synchronously calls ready() joins the run instead of starting another', async () => {
    const app = newApp();
    const log: string[] = [];
    let inner: Promise<void> | undefined;
    app.register(tracedPlugin('other', log));
    app.register({
      name: 'reentrant',
      init() {
        log.push('init:reentrant');
        inner = app.ready();
      },
    });
    const outer = app.ready();
    await outer;
    expect(inner).toBe(outer);
    expect(log).toStrictEqual(['init:other', 'init:reentrant']);
  });

  it('a plugin registered after ready() is initialised by the next ready(), alone', async () => {
    const app = newApp();
    const log: string[] = [];
    app.register(tracedPlugin('first', log));
    await app.ready();
    app.register(tracedPlugin('second', log, { dependencies: ['first'] }));
    expect(log).toStrictEqual(['init:first']);
    await app.ready();
    expect(log).toStrictEqual(['init:first', 'init:second']);
  });

  it('a plugin registered during a run is initialised by that run', async () => {
    const app = newApp();
    const log: string[] = [];
    app.register(
      tracedPlugin('first', log, {
        onInit: () => {
          app.register(tracedPlugin('late', log, { dependencies: ['first'] }));
        },
      }),
    );
    await app.ready();
    expect(log).toStrictEqual(['init:first', 'init:late']);
  });

  it("emits 'app:ready' after every plugin initialised", async () => {
    const app = newApp();
    const log: string[] = [];
    app.register(tracedPlugin('one', log));
    app.events.on('app:ready', () => log.push('app:ready'));
    await app.ready();
    expect(log).toStrictEqual(['init:one', 'app:ready']);
  });

  it("an 'app:ready' handler that calls ready() joins the run (no second 'app:ready')", async () => {
    const app = newApp();
    const log: string[] = [];
    let inner: Promise<void> | undefined;
    app.register(tracedPlugin('one', log));
    app.events.on('app:ready', () => {
      log.push('app:ready');
      inner = app.ready();
    });
    const outer = app.ready();
    await outer;
    expect(inner).toBe(outer);
    expect(log).toStrictEqual(['init:one', 'app:ready']);
  });

  it('gives each init its own context: use, events, prefixed logger, live signal, onDispose', async () => {
    const logger = recordingLogger();
    const app = createApp({ logger });
    const other = app.register({ name: 'other' });
    let context: PluginContext | undefined;
    app.register({
      name: 'probe',
      dependencies: ['other'],
      init(ctx) {
        context = ctx;
        ctx.logger.info('started', 1);
      },
    });
    await app.ready();
    expect(context?.use('other')).toBe(other);
    expect(context?.events).toBe(app.events);
    expect(context?.signal.aborted).toBe(false);
    expect(typeof context?.onDispose).toBe('function');
    expect(logger.lines).toStrictEqual([{ level: 'info', message: 'probe: started', details: [1] }]);
    expect(() => context?.onDispose('nope' as never)).toThrow(FluxyError);
  });
});

describe('ready(): validation before anything runs', () => {
  it('missing dependency → plugin/missing-dependency naming both plugins, and nothing initialised', async () => {
    const app = newApp();
    const log: string[] = [];
    app.register(tracedPlugin('storage', log));
    app.register(tracedPlugin('sync', log, { dependencies: ['storage', 'connectivity'] }));
    const error = await rejectionOf(app.ready());
    expect(isFluxyError(error, 'plugin/missing-dependency')).toBe(true);
    expect((error as Error).message).toBe(
      'The dependency "connectivity" of plugin "sync" is not registered: register it before calling ready().',
    );
    expect(log).toStrictEqual([]);
  });

  it('the missing dependency can be registered afterwards, then ready() succeeds', async () => {
    const app = newApp();
    const log: string[] = [];
    app.register(tracedPlugin('sync', log, { dependencies: ['storage'] }));
    await expect(app.ready()).rejects.toMatchObject({ code: 'plugin/missing-dependency' });
    app.register(tracedPlugin('storage', log));
    await app.ready();
    expect(log).toStrictEqual(['init:storage', 'init:sync']);
  });

  it('cycle → plugin/dependency-cycle printing the path, and nothing initialised', async () => {
    const app = newApp();
    const log: string[] = [];
    app.register(tracedPlugin('independent', log));
    app.register(tracedPlugin('a', log, { dependencies: ['b'] }));
    app.register(tracedPlugin('b', log, { dependencies: ['c'] }));
    app.register(tracedPlugin('c', log, { dependencies: ['a'] }));
    const error = await rejectionOf(app.ready());
    expect(isFluxyError(error, 'plugin/dependency-cycle')).toBe(true);
    expect((error as Error).message).toContain('a → b → c → a');
    expect((error as Error).message).toContain('Remove one of these dependencies');
    expect(log).toStrictEqual([]);
  });

  it('prints only the cycle, not the path that led to it', async () => {
    const app = newApp();
    app.register({ name: 'entry', dependencies: ['x'] });
    app.register({ name: 'x', dependencies: ['y'] });
    app.register({ name: 'y', dependencies: ['x'] });
    const error = await rejectionOf(app.ready());
    expect((error as Error).message).toContain(': x → y → x.');
  });
});

describe('ready(): init failures', () => {
  it('init that throws → plugin/init-failed naming the plugin, the reason, the fix, with cause', async () => {
    const app = newApp();
    const boom = new Error('disk on fire.');
    app.register({
      name: 'storage',
      init() {
        throw boom;
      },
    });
    const error = await rejectionOf(app.ready());
    expect(isFluxyError(error, 'plugin/init-failed')).toBe(true);
    expect((error as Error).message).toBe(
      'Plugin "storage" failed to initialise: disk on fire. Fix the cause and call ready() again.',
    );
    expect((error as Error).cause).toBe(boom);
  });

  it.each([
    ['a null-prototype object', () => Object.create(null), '[object Object]'],
    [
      'an object whose toString throws',
      () => ({
        toString() {
          throw new Error('no string for you');
        },
      }),
      '[object Object]',
    ],
    [
      'an Error whose message getter throws',
      () =>
        Object.defineProperty(new Error('hidden'), 'message', {
          get() {
            throw new Error('no message');
          },
        }),
      '[object Error]',
    ],
    ['a symbol', () => Symbol('odd'), 'Symbol(odd)'],
  ])(
    'init that throws %s → still a plugin/init-failed FluxyError, with that value as cause',
    async (_label, make, shown) => {
      const app = newApp();
      const thrown: unknown = make();
      app.register({
        name: 'odd',
        init() {
          throw thrown;
        },
      });
      const error = await rejectionOf(app.ready());
      expect(error).toBeInstanceOf(FluxyError);
      expect((error as FluxyError).code).toBe('plugin/init-failed');
      expect((error as Error).message).toBe(
        `Plugin "odd" failed to initialise: ${shown}. Fix the cause and call ready() again.`,
      );
      expect((error as Error).cause).toBe(thrown);
    },
  );

  it('an async init that rejects is reported the same way', async () => {
    const app = newApp();
    app.register({
      name: 'remote',
      async init() {
        await Promise.resolve();
        throw new Error('unreachable');
      },
    });
    await expect(app.ready()).rejects.toMatchObject({ code: 'plugin/init-failed' });
  });

  it('dependents of a failed plugin are not initialised and are named; independent ones are', async () => {
    const app = newApp();
    const log: string[] = [];
    app.register(
      tracedPlugin('storage', log, {
        onInit: () => {
          throw new Error('no disk');
        },
      }),
    );
    app.register(tracedPlugin('sync', log, { dependencies: ['storage'] }));
    app.register(tracedPlugin('ui', log, { dependencies: ['sync'] }));
    app.register(tracedPlugin('clock', log));
    const error = await rejectionOf(app.ready());
    expect(log.sort()).toStrictEqual(['init:clock', 'init:storage']);
    expect((error as Error).message).toContain('Not initialised because of it: "sync", "ui".');
  });

  it('several failures are all named and aggregated in cause', async () => {
    const app = newApp();
    app.register({
      name: 'one',
      init() {
        throw new Error('first');
      },
    });
    app.register({
      name: 'two',
      init() {
        throw new Error('second');
      },
    });
    const error = (await rejectionOf(app.ready())) as FluxyError;
    expect(error.message).toContain('"one", "two"');
    expect(error.cause).toBeInstanceOf(AggregateError);
    expect((error.cause as AggregateError).errors.map((e: Error) => e.message)).toStrictEqual([
      'first',
      'second',
    ]);
  });

  it('a failed init is retried by the next ready(), and then its dependents run', async () => {
    const app = newApp();
    const log: string[] = [];
    let attempts = 0;
    app.register(
      tracedPlugin('flaky', log, {
        onInit: () => {
          attempts++;
          if (attempts === 1) throw new Error('not yet');
        },
      }),
    );
    app.register(tracedPlugin('dependent', log, { dependencies: ['flaky'] }));
    app.register(tracedPlugin('steady', log));
    await expect(app.ready()).rejects.toMatchObject({ code: 'plugin/init-failed' });
    await app.ready();
    expect(attempts).toBe(2);
    expect(log.filter((line) => line === 'init:steady')).toStrictEqual(['init:steady']);
    expect(log.slice(-2)).toStrictEqual(['init:flaky', 'init:dependent']);
  });

  it('a plugin that keeps failing is reported again by every ready()', async () => {
    const app = newApp();
    let attempts = 0;
    app.register({
      name: 'broken',
      init() {
        attempts++;
        throw new Error('still broken');
      },
    });
    await expect(app.ready()).rejects.toMatchObject({ code: 'plugin/init-failed' });
    await expect(app.ready()).rejects.toMatchObject({ code: 'plugin/init-failed' });
    expect(attempts).toBe(2);
  });

  it('a failed init releases what it set up: signal aborted, onDispose run, dispose() not called', async () => {
    const app = newApp();
    const log: string[] = [];
    let signal: AbortSignal | undefined;
    app.register({
      name: 'half',
      init(ctx) {
        signal = ctx.signal;
        ctx.onDispose(() => void log.push('disposer'));
        throw new Error('half way');
      },
      dispose() {
        log.push('dispose');
      },
    });
    await expect(app.ready()).rejects.toMatchObject({ code: 'plugin/init-failed' });
    expect(signal?.aborted).toBe(true);
    expect(log).toStrictEqual(['disposer']);
    await app.dispose();
    expect(log).toStrictEqual(['disposer']);
  });
});
