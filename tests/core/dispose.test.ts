import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/core/app.js';
import { isFluxyError } from '../../src/core/errors.js';
import type { PluginContext } from '../../src/core/plugin.js';
import { deferred, recordingLogger, rejectionOf, thrownBy, tracedPlugin } from './helpers.js';

function newApp(logger = recordingLogger()) {
  return createApp({ logger });
}

describe('dispose()', () => {
  it('disposes in reverse init order, disposers before the plugin’s own dispose', async () => {
    const app = newApp();
    const log: string[] = [];
    const withDisposers = (name: string) => (ctx: PluginContext) => {
      ctx.onDispose(() => void log.push(`${name}:disposer-1`));
      ctx.onDispose(async () => {
        await Promise.resolve();
        log.push(`${name}:disposer-2`);
      });
    };
    app.register(tracedPlugin('sync', log, { dependencies: ['storage'], onInit: withDisposers('sync') }));
    app.register(tracedPlugin('storage', log, { onInit: withDisposers('storage') }));
    app.register(tracedPlugin('ui', log, { dependencies: ['sync'] }));
    await app.ready();
    log.length = 0;
    await app.dispose();
    expect(log).toStrictEqual([
      'dispose:ui',
      'sync:disposer-2',
      'sync:disposer-1',
      'dispose:sync',
      'storage:disposer-2',
      'storage:disposer-1',
      'dispose:storage',
    ]);
  });

  it('aborts every plugin’s signal, with an app/disposed reason', async () => {
    const app = newApp();
    const signals: AbortSignal[] = [];
    for (const name of ['a', 'b']) {
      app.register({ name, init: (ctx) => void signals.push(ctx.signal) });
    }
    await app.ready();
    expect(signals.map((s) => s.aborted)).toStrictEqual([false, false]);
    await app.dispose();
    expect(signals.map((s) => s.aborted)).toStrictEqual([true, true]);
    expect(isFluxyError(signals[0]?.reason, 'app/disposed')).toBe(true);
  });

  it('calls each dispose once, and is safe to call twice (same promise)', async () => {
    const app = newApp();
    let disposals = 0;
    let disposerRuns = 0;
    app.register({
      name: 'once',
      init: (ctx) => ctx.onDispose(() => void disposerRuns++),
      dispose: () => void disposals++,
    });
    await app.ready();
    const first = app.dispose();
    const second = app.dispose();
    expect(second).toBe(first);
    await first;
    await app.dispose();
    expect(disposals).toBe(1);
    expect(disposerRuns).toBe(1);
    expect(app.disposed).toBe(true);
  });

  it('does not dispose plugins that were never initialised', async () => {
    const app = newApp();
    const log: string[] = [];
    app.register(tracedPlugin('never-ready', log));
    await app.dispose();
    expect(log).toStrictEqual([]);
  });

  it('register, use and ready after dispose → app/disposed', async () => {
    const app = newApp();
    app.register({ name: 'x' });
    await app.ready();
    await app.dispose();
    expect(
      isFluxyError(
        thrownBy(() => app.register({ name: 'y' })),
        'app/disposed',
      ),
    ).toBe(true);
    expect(
      isFluxyError(
        thrownBy(() => app.use('x')),
        'app/disposed',
      ),
    ).toBe(true);
    const error = await rejectionOf(app.ready());
    expect(isFluxyError(error, 'app/disposed')).toBe(true);
    expect((error as Error).message).toContain('createApp()');
  });

  it("emits 'app:dispose' before plugins are disposed, then removes every listener", async () => {
    const app = newApp();
    const log: string[] = [];
    app.register(
      tracedPlugin('listener', log, {
        onInit: (ctx) => {
          ctx.events.on('app:ready', () => {});
        },
      }),
    );
    await app.ready();
    app.events.on('app:dispose', () => log.push('app:dispose'));
    expect(app.events.listenerCount()).toBe(2);
    await app.dispose();
    expect(log).toStrictEqual(['init:listener', 'app:dispose', 'dispose:listener']);
    expect(app.events.listenerCount()).toBe(0);
  });

  it('an unsubscribe passed to onDispose removes the listener it created', async () => {
    const app = newApp();
    const removed: number[] = [];
    app.register({
      name: 'tidy',
      init(ctx) {
        const off = ctx.events.on('app:ready', () => {});
        ctx.onDispose(() => {
          off();
          removed.push(app.events.listenerCount('app:ready'));
        });
      },
    });
    await app.ready();
    expect(app.events.listenerCount('app:ready')).toBe(1);
    await app.dispose();
    expect(removed).toStrictEqual([0]);
  });

  it('a throwing dispose or disposer is logged and does not stop the others', async () => {
    const logger = recordingLogger();
    const app = newApp(logger);
    const log: string[] = [];
    app.register({
      name: 'first',
      init: (ctx) => ctx.onDispose(() => void log.push('first:disposer')),
      dispose: () => void log.push('first:dispose'),
    });
    app.register({
      name: 'bad',
      dependencies: ['first'],
      init(ctx) {
        ctx.onDispose(() => {
          throw new Error('disposer broke');
        });
      },
      async dispose() {
        throw new Error('dispose broke');
      },
    });
    await app.ready();
    await app.dispose();
    expect(log).toStrictEqual(['first:disposer', 'first:dispose']);
    expect(
      logger.lines.map((line) => [line.level, line.message, (line.details[0] as Error).message]),
    ).toStrictEqual([
      ['error', 'disposing plugin "bad" failed', 'disposer broke'],
      ['error', 'disposing plugin "bad" failed', 'dispose broke'],
    ]);
  });

  it('during ready(): aborts running inits, disposes what finished, rejects ready()', async () => {
    const app = newApp();
    const log: string[] = [];
    const initStarted = deferred();
    app.register(tracedPlugin('quick', log));
    app.register(
      tracedPlugin('waits-for-abort', log, {
        // An init that only ends when its signal aborts: dispose must not wait for it forever.
        onInit: (ctx) =>
          new Promise<void>((_resolve, reject) => {
            initStarted.resolve();
            ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
          }),
      }),
    );
    app.register(tracedPlugin('dependent', log, { dependencies: ['waits-for-abort'] }));
    const running = app.ready();
    await initStarted.promise;
    await app.dispose();
    const error = await rejectionOf(running);
    expect(isFluxyError(error, 'app/disposed')).toBe(true);
    expect(log).toStrictEqual(['init:quick', 'init:waits-for-abort', 'dispose:quick']);
  });

  it('during ready(): an init that finishes anyway is disposed when it settles, and no new init starts', async () => {
    const app = newApp();
    const log: string[] = [];
    const gate = deferred();
    const lateDisposal = deferred();
    app.register({
      name: 'slow',
      async init(ctx) {
        log.push('init:slow');
        ctx.onDispose(() => void log.push('slow:disposer'));
        await gate.promise;
      },
      dispose() {
        log.push('dispose:slow');
        lateDisposal.resolve();
      },
    });
    app.register(tracedPlugin('next', log, { dependencies: ['slow'] }));
    const running = app.ready();
    await app.dispose();
    await expect(running).rejects.toMatchObject({ code: 'app/disposed' });
    expect(log).toStrictEqual(['init:slow']);
    gate.resolve();
    await lateDisposal.promise;
    expect(log).toStrictEqual(['init:slow', 'slow:disposer', 'dispose:slow']);
  });

  it('during ready(): does not wait for an init that ignores its aborted signal and never settles', async () => {
    const app = newApp();
    const log: string[] = [];
    const stubbornStarted = deferred();
    let stubbornSignal: AbortSignal | undefined;
    app.register(tracedPlugin('quick', log));
    app.register(
      tracedPlugin('stubborn', log, {
        dependencies: ['quick'],
        onInit: (ctx) => {
          stubbornSignal = ctx.signal;
          stubbornStarted.resolve();
          return new Promise<void>(() => {}); // ignores ctx.signal
        },
      }),
    );
    const running = app.ready();
    const runFailure = rejectionOf(running);
    await stubbornStarted.promise;
    // Before the fix this hung (and the test timed out): dispose() waited for the init.
    await app.dispose();
    expect(stubbornSignal?.aborted).toBe(true);
    expect(log).toStrictEqual(['init:quick', 'init:stubborn', 'dispose:quick']);
    expect(isFluxyError(await runFailure, 'app/disposed')).toBe(true);
  });

  it('after dispose: a pending whenReady() of an init that never settles rejects with app/disposed', async () => {
    const app = newApp();
    const started = deferred();
    app.register({
      name: 'never',
      init: () => {
        started.resolve();
        return new Promise<void>(() => {});
      },
    });
    const running = rejectionOf(app.ready());
    await started.promise;
    await app.dispose();
    expect(isFluxyError(await running, 'app/disposed')).toBe(true);
  });
});

describe('a logger that throws', () => {
  const throwing = () => ({
    debug() {},
    info() {},
    warn() {},
    error() {
      throw new Error('the logger is down');
    },
  });

  it('cannot make dispose() reject or skip a plugin', async () => {
    const app = createApp({ logger: throwing() });
    const disposed: string[] = [];
    app.register({ name: 'base', dispose: () => void disposed.push('base') });
    app.register({
      name: 'failing',
      dependencies: ['base'],
      dispose() {
        disposed.push('failing');
        throw new Error('dispose failed');
      },
    });
    await app.ready();
    await expect(app.dispose()).resolves.toBeUndefined();
    expect(disposed).toStrictEqual(['failing', 'base']);
  });

  it('cannot make an emit throw when a handler throws', () => {
    const app = createApp({ logger: throwing() });
    const heard: string[] = [];
    app.events.on('app:ready', () => {
      throw new Error('handler failed');
    });
    app.events.on('app:ready', () => void heard.push('second'));
    expect(() => app.events.emit('app:ready')).not.toThrow();
    expect(heard).toStrictEqual(['second']);
  });
});

describe('calls after dispose', () => {
  it('ctx.onDispose(fn) after dispose runs fn at once, and logs its error', async () => {
    const logger = recordingLogger();
    const app = newApp(logger);
    let context: PluginContext | undefined;
    app.register({
      name: 'keeper',
      init(ctx) {
        context = ctx;
      },
    });
    await app.ready();
    await app.dispose();
    const runs: string[] = [];
    context?.onDispose(() => void runs.push('late disposer'));
    expect(runs).toStrictEqual(['late disposer']);
    context?.onDispose(() => {
      throw new Error('late disposer broke');
    });
    const rejected = deferred();
    context?.onDispose(async () => {
      await Promise.resolve();
      rejected.resolve();
      throw new Error('late async disposer broke');
    });
    await rejected.promise;
    await Promise.resolve();
    await Promise.resolve();
    expect(logger.lines.map((line) => [line.message, (line.details[0] as Error).message])).toStrictEqual([
      ['a disposer of "keeper" registered after it was disposed failed', 'late disposer broke'],
      ['a disposer of "keeper" registered after it was disposed failed', 'late async disposer broke'],
    ]);
  });

  it('ctx.onDispose(fn) after a failed init released its context runs fn at once', async () => {
    const app = newApp();
    let context: PluginContext | undefined;
    app.register({
      name: 'half',
      init(ctx) {
        context = ctx;
        throw new Error('half way');
      },
    });
    await expect(app.ready()).rejects.toMatchObject({ code: 'plugin/init-failed' });
    let ran = false;
    context?.onDispose(() => {
      ran = true;
    });
    expect(ran).toBe(true);
  });

  it('events.on() and events.once() after dispose → app/disposed, no listener added', async () => {
    const app = newApp();
    await app.dispose();
    for (const subscribe of [
      () => app.events.on('app:ready', () => {}),
      () => app.events.once('app:ready', () => {}),
    ]) {
      const error = thrownBy(subscribe);
      expect(isFluxyError(error, 'app/disposed')).toBe(true);
      expect((error as Error).message).toContain('createApp()');
    }
    expect(app.events.listenerCount()).toBe(0);
    expect(() => app.events.emit('app:ready')).not.toThrow();
  });
});
