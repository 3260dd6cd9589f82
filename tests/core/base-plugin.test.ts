import { afterEach, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../src/core/app.js';
import { FluxyPlugin } from '../../src/core/base-plugin.js';
import { isFluxyError } from '../../src/core/errors.js';
import type { PluginContext } from '../../src/core/plugin.js';
import { deferred, recordingLogger, rejectionOf, thrownBy } from './helpers.js';

function newApp() {
  return createApp({ logger: recordingLogger() });
}

/** A plugin whose public method needs its init, like `sync.queue()`. */
class GreeterPlugin extends FluxyPlugin {
  readonly name = 'greeter';
  readonly dependencies: readonly string[];
  inits = 0;
  #greeting: string | undefined;
  readonly #initGate: Promise<void> | undefined;

  constructor(options: { dependencies?: string[]; initGate?: Promise<void>; failTimes?: number } = {}) {
    super();
    this.dependencies = options.dependencies ?? [];
    this.#initGate = options.initGate;
    this.failTimes = options.failTimes ?? 0;
  }

  failTimes: number;

  override async init(ctx: PluginContext): Promise<void> {
    this.inits++;
    await this.#initGate;
    if (this.failTimes > 0) {
      this.failTimes--;
      throw new Error('greeter cannot start');
    }
    this.#greeting = `hello from ${ctx.logger ? 'greeter' : '?'}`;
  }

  async greet(): Promise<string> {
    await this.whenReady();
    return this.#greeting ?? 'not initialised';
  }
}

describe('FluxyPlugin.whenReady()', () => {
  it('lets a public method work before an explicit ready()', async () => {
    const app = newApp();
    const greeter = app.register(new GreeterPlugin());
    expect(await greeter.greet()).toBe('hello from greeter');
    expect(greeter.inits).toBe(1);
    await app.ready();
    expect(await greeter.greet()).toBe('hello from greeter');
    expect(greeter.inits).toBe(1);
  });

  it('initialises the dependencies first', async () => {
    const app = newApp();
    const log: string[] = [];
    app.register({ name: 'storage', init: () => void log.push('storage') });
    const greeter = app.register(new GreeterPlugin({ dependencies: ['storage'] }));
    await greeter.greet();
    expect(log).toStrictEqual(['storage']);
  });

  it('waits for an init already running', async () => {
    const app = newApp();
    const gate = deferred();
    const greeter = app.register(new GreeterPlugin({ initGate: gate.promise }));
    const running = app.ready();
    const greeting = greeter.greet();
    gate.resolve();
    expect(await greeting).toBe('hello from greeter');
    await running;
    expect(greeter.inits).toBe(1);
  });

  it('does not wait for unrelated slow plugins', async () => {
    const app = newApp();
    const slowGate = deferred();
    app.register({ name: 'slow', init: () => slowGate.promise });
    const greeter = app.register(new GreeterPlugin());
    const running = app.ready();
    expect(await greeter.greet()).toBe('hello from greeter');
    slowGate.resolve();
    await running;
  });

  it('works when another plugin’s init calls it without declaring the dependency', async () => {
    const app = newApp();
    const greeter = app.register(new GreeterPlugin());
    let heard = '';
    app.register({
      name: 'caller',
      async init(ctx) {
        heard = await ctx.use(GreeterPlugin).greet();
      },
    });
    await app.ready();
    expect(heard).toBe('hello from greeter');
    expect(greeter.inits).toBe(1);
  });

  it('works when called synchronously from an init registered before it (one run, one init)', async () => {
    const app = newApp();
    let heard: Promise<string> | undefined;
    app.register({
      name: 'early-caller',
      init(ctx) {
        heard = ctx.use(GreeterPlugin).greet();
      },
    });
    const greeter = app.register(new GreeterPlugin());
    await app.ready();
    expect(await heard).toBe('hello from greeter');
    expect(greeter.inits).toBe(1);
  });

  it('rejects with plugin/not-registered when never registered', async () => {
    const error = await rejectionOf(new GreeterPlugin().greet());
    expect(isFluxyError(error, 'plugin/not-registered')).toBe(true);
    expect((error as Error).message).toContain('"greeter"');
  });

  it('rejects with the init failure, and retries on the next call', async () => {
    const app = newApp();
    const greeter = app.register(new GreeterPlugin({ failTimes: 1 }));
    const error = await rejectionOf(greeter.greet());
    expect(isFluxyError(error, 'plugin/init-failed')).toBe(true);
    expect((error as Error).message).toContain('"greeter"');
    expect(await greeter.greet()).toBe('hello from greeter');
    expect(greeter.inits).toBe(2);
  });

  it('rejects with the ready() error when a dependency is missing', async () => {
    const app = newApp();
    const greeter = app.register(new GreeterPlugin({ dependencies: ['storage'] }));
    await expect(greeter.greet()).rejects.toMatchObject({ code: 'plugin/missing-dependency' });
  });

  it('is not blocked by an unrelated plugin that fails', async () => {
    const app = newApp();
    app.register({
      name: 'broken',
      init() {
        throw new Error('broken');
      },
    });
    const greeter = app.register(new GreeterPlugin());
    expect(await greeter.greet()).toBe('hello from greeter');
  });

  it('rejects with app/disposed after the app was disposed', async () => {
    const app = newApp();
    const greeter = app.register(new GreeterPlugin());
    await app.ready();
    await app.dispose();
    await expect(greeter.greet()).rejects.toMatchObject({ code: 'app/disposed' });
  });
});

describe('FluxyPlugin.whenReady() for a plugin registered while ready() runs', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A plugin whose init rejects after 20 ms (fake timers). */
  function failingLater(name: string) {
    return {
      name,
      init: () =>
        new Promise<void>((_resolve, reject) => {
          setTimeout(() => reject(new Error(`${name} broke`)), 20);
        }),
    };
  }

  it('is initialised and works although another plugin of that run fails', async () => {
    vi.useFakeTimers();
    const app = newApp();
    app.register(failingLater('bad'));
    const readyFailure = rejectionOf(app.ready());
    const greeter = app.register(new GreeterPlugin());
    const greeting = greeter.greet();
    await vi.advanceTimersByTimeAsync(20);
    expect(await greeting).toBe('hello from greeter');
    expect(greeter.inits).toBe(1);
    // The failed plugin is still reported by ready(), and only it.
    const error = await readyFailure;
    expect(isFluxyError(error, 'plugin/init-failed')).toBe(true);
    expect((error as Error).message).toContain('Plugin "bad" failed to initialise: bad broke.');
    expect((error as Error).message).not.toContain('greeter');
  });

  it('is not held up by a slow plugin of that run', async () => {
    vi.useFakeTimers();
    const app = newApp();
    app.register(failingLater('slow-bad'));
    const readyFailure = rejectionOf(app.ready());
    const greeter = app.register(new GreeterPlugin());
    // No timer advanced: slow-bad is still running while greeter initialises.
    expect(await greeter.greet()).toBe('hello from greeter');
    await vi.advanceTimersByTimeAsync(20);
    expect((await readyFailure) as Error).toMatchObject({ code: 'plugin/init-failed' });
  });

  it('still fails with the dependency’s error when it depends (transitively) on the failed plugin', async () => {
    vi.useFakeTimers();
    const app = newApp();
    app.register(failingLater('bad'));
    const readyFailure = rejectionOf(app.ready());
    app.register({ name: 'middle', dependencies: ['bad'] });
    const greeter = app.register(new GreeterPlugin({ dependencies: ['middle'] }));
    const greeting = rejectionOf(greeter.greet());
    await vi.advanceTimersByTimeAsync(20);
    const error = await greeting;
    expect(isFluxyError(error, 'plugin/init-failed')).toBe(true);
    expect((error as Error).message).toContain('Plugin "bad" failed to initialise');
    expect((error as Error).message).toContain('Not initialised because of it: "middle", "greeter".');
    expect(greeter.inits).toBe(0);
    expect(await readyFailure).toBe(error);
  });
});

describe('FluxyPlugin registration', () => {
  it('one instance in two apps → invalid-argument, and the second app is unchanged', () => {
    const first = newApp();
    const second = newApp();
    const greeter = first.register(new GreeterPlugin());
    const error = thrownBy(() => second.register(greeter));
    expect(isFluxyError(error, 'invalid-argument')).toBe(true);
    expect((error as Error).message).toContain('another app');
    expect(second.has('greeter')).toBe(false);
    expect(first.use(GreeterPlugin)).toBe(greeter);
  });

  it('a refused duplicate does not attach the instance to the app', async () => {
    const first = newApp();
    const second = newApp();
    first.register(new GreeterPlugin());
    const spare = new GreeterPlugin();
    expect(() => first.register(spare)).toThrow(/already registered/);
    // Not attached to `first`, so it can still go to another app.
    second.register(spare);
    expect(await spare.greet()).toBe('hello from greeter');
  });
});
