import { describe, expect, it } from 'vitest';
import { App, createApp } from '../../src/core/app.js';
import { FluxyError, isFluxyError } from '../../src/core/errors.js';
import type { Plugin } from '../../src/core/plugin.js';
import { recordingLogger, thrownBy } from './helpers.js';

function newApp(): App {
  return createApp({ logger: recordingLogger() });
}

class AlphaPlugin implements Plugin {
  readonly name = 'alpha';
}
class BetaPlugin implements Plugin {
  readonly name = 'beta';
}

describe('createApp', () => {
  it('returns an App with register, use, has, ready, dispose and events', () => {
    const app = createApp();
    expect(app).toBeInstanceOf(App);
    for (const method of ['register', 'use', 'has', 'ready', 'dispose'] as const) {
      expect(typeof app[method]).toBe('function');
    }
    expect(typeof app.events.on).toBe('function');
    expect(typeof app.events.emit).toBe('function');
    expect(app.disposed).toBe(false);
  });

  it('creates isolated apps', () => {
    const first = newApp();
    const second = newApp();
    first.register({ name: 'only-in-first' });
    expect(first.has('only-in-first')).toBe(true);
    expect(second.has('only-in-first')).toBe(false);
    expect(first.events).not.toBe(second.events);
  });

  it.each([
    ['null', null],
    ['a number', 42],
    ['a string', 'options'],
    // Objects that are not plain would read as {}: a mistake, refused rather than ignored.
    ['an array', []],
    ['a Map', new Map([['logger', console]])],
    ['a Date', new Date()],
  ])('refuses %s as options with invalid-argument', (_label, options) => {
    const error = thrownBy(() => createApp(options as never));
    expect(isFluxyError(error, 'invalid-argument')).toBe(true);
  });

  it.each([
    ['null', null],
    ['a string', 'console'],
    ['an object missing methods', { error() {} }],
  ])('refuses %s as logger with invalid-argument', (_label, logger) => {
    const error = thrownBy(() => createApp({ logger: logger as never }));
    expect(isFluxyError(error, 'invalid-argument')).toBe(true);
    expect((error as Error).message).toContain('logger');
  });

  it('uses the given logger', async () => {
    const logger = recordingLogger();
    const app = createApp({ logger });
    expect(app.logger).toBe(logger);
    app.register({
      name: 'talker',
      init(ctx) {
        ctx.logger.warn('hello');
      },
    });
    await app.ready();
    expect(logger.lines).toStrictEqual([{ level: 'warn', message: 'talker: hello', details: [] }]);
  });
});

describe('register / has / use', () => {
  it('returns the plugin it registered', () => {
    const app = newApp();
    const alpha = new AlphaPlugin();
    expect(app.register(alpha)).toBe(alpha);
    expect(app.has('alpha')).toBe(true);
    expect(app.has(AlphaPlugin)).toBe(true);
    expect(app.has('beta')).toBe(false);
    expect(app.has(BetaPlugin)).toBe(false);
  });

  it('finds a plugin by name and by class', () => {
    const app = newApp();
    const alpha = app.register(new AlphaPlugin());
    const beta = app.register(new BetaPlugin());
    expect(app.use('alpha')).toBe(alpha);
    expect(app.use(AlphaPlugin)).toBe(alpha);
    expect(app.use(BetaPlugin)).toBe(beta);
  });

  it('finds a subclass instance by its base class', () => {
    class SpecialAlpha extends AlphaPlugin {}
    const app = newApp();
    const special = app.register(new SpecialAlpha());
    expect(app.use(AlphaPlugin)).toBe(special);
  });

  it('throws plugin/not-registered for an unknown name or class, naming it', () => {
    const app = newApp();
    app.register(new AlphaPlugin());
    const byName = thrownBy(() => app.use('missing'));
    expect(isFluxyError(byName, 'plugin/not-registered')).toBe(true);
    expect((byName as Error).message).toContain('"missing"');
    const byClass = thrownBy(() => app.use(BetaPlugin));
    expect(isFluxyError(byClass, 'plugin/not-registered')).toBe(true);
    expect((byClass as Error).message).toContain('BetaPlugin');
  });

  it.each([
    ['a number', 42],
    ['null', null],
    ['undefined', undefined],
    ['an object', {}],
    ['an arrow function', () => {}],
  ])('use(%s) throws invalid-argument', (_label, value) => {
    const app = newApp();
    app.register(new AlphaPlugin());
    const error = thrownBy(() => app.use(value as never));
    expect(isFluxyError(error, 'invalid-argument')).toBe(true);
  });

  it.each([
    ['a number', 42],
    ['null', null],
    ['undefined', undefined],
    ['an object', {}],
    ['an arrow function', () => {}],
  ])('has(%s) throws invalid-argument, as use() does (it answered false)', (_label, value) => {
    const app = newApp();
    app.register(new AlphaPlugin());
    const error = thrownBy(() => app.has(value as never));
    expect(isFluxyError(error, 'invalid-argument')).toBe(true);
    // A name or a class still answers.
    expect(app.has('alpha')).toBe(true);
    expect(app.has(BetaPlugin)).toBe(false);
  });
});

describe('register refuses bad input and leaves the registry unchanged', () => {
  const badPlugins: Array<[string, unknown, string]> = [
    ['null', null, 'invalid-argument'],
    ['undefined', undefined, 'invalid-argument'],
    ['a number', 42, 'invalid-argument'],
    ['a string', 'sync', 'invalid-argument'],
    ['a function', () => {}, 'invalid-argument'],
    ['an object without a name', { init() {} }, 'invalid-argument'],
    ['a non-string name', { name: 7 }, 'invalid-argument'],
    ['an empty name', { name: '' }, 'invalid-argument'],
    ['a blank name', { name: '   ' }, 'invalid-argument'],
    ['non-array dependencies', { name: 'bad', dependencies: 'alpha' }, 'invalid-argument'],
    ['dependencies with a non-string', { name: 'bad', dependencies: ['alpha', 3] }, 'invalid-argument'],
    ['dependencies with an empty name', { name: 'bad', dependencies: [''] }, 'invalid-argument'],
    ['a dependency on itself', { name: 'bad', dependencies: ['alpha', 'bad'] }, 'plugin/dependency-cycle'],
    ['a dependency listed twice', { name: 'bad', dependencies: ['alpha', 'alpha'] }, 'invalid-argument'],
    ['init not a function', { name: 'bad', init: 'go' }, 'invalid-argument'],
    ['dispose not a function', { name: 'bad', dispose: {} }, 'invalid-argument'],
  ];

  it.each(badPlugins)('%s', async (_label, plugin, code) => {
    const app = newApp();
    const alpha = app.register(new AlphaPlugin());
    const error = thrownBy(() => app.register(plugin as never));
    expect(error).toBeInstanceOf(FluxyError);
    expect((error as FluxyError).code).toBe(code);
    expect((error as Error).message.length).toBeGreaterThan(20);
    expect(app.has('bad')).toBe(false);
    expect(app.use('alpha')).toBe(alpha);
    await app.ready();
    expect(app.has('bad')).toBe(false);
  });

  it('a dependency on itself names the plugin and the fix', () => {
    const app = newApp();
    const error = thrownBy(() => app.register({ name: 'loop', dependencies: ['loop'] }));
    expect((error as Error).message).toContain('"loop" depends on itself');
  });

  it('a dependency listed twice names it and the fix', () => {
    const app = newApp();
    const error = thrownBy(() => app.register({ name: 'twice', dependencies: ['alpha', 'beta', 'alpha'] }));
    expect((error as Error).message).toBe(
      'Plugin "twice": the dependency "alpha" is listed twice; list each dependency once.',
    );
  });

  it('the same instance twice → plugin/duplicate, the first registration kept', () => {
    const app = newApp();
    const alpha = app.register(new AlphaPlugin());
    const error = thrownBy(() => app.register(alpha));
    expect(isFluxyError(error, 'plugin/duplicate')).toBe(true);
    expect((error as Error).message).toContain('"alpha"');
    expect(app.use('alpha')).toBe(alpha);
  });

  it('a different instance with a taken name → plugin/duplicate, the first registration kept', async () => {
    const app = newApp();
    const inits: string[] = [];
    const first = app.register({ name: 'dup', init: () => void inits.push('first') });
    const error = thrownBy(() => app.register({ name: 'dup', init: () => void inits.push('second') }));
    expect(isFluxyError(error, 'plugin/duplicate')).toBe(true);
    expect((error as Error).message).toContain('createApp()');
    expect(app.use('dup')).toBe(first);
    await app.ready();
    expect(inits).toStrictEqual(['first']);
  });
});

describe('review: odd inputs to createApp and the event bus', () => {
  it('createApp refuses unknown options', () => {
    expect(() => createApp({ logr: {} } as never)).toThrowError(
      expect.objectContaining({ code: 'invalid-argument' }),
    );
  });

  it('events.on and emit refuse event names that are not non-empty strings', async () => {
    const app = createApp();
    for (const name of [5, '', null, {}]) {
      expect(() => app.events.on(name as never, () => {})).toThrowError(
        expect.objectContaining({ code: 'invalid-argument' }),
      );
      expect(() => app.events.emit(name as never, undefined as never)).toThrowError(
        expect.objectContaining({ code: 'invalid-argument' }),
      );
    }
    await app.dispose();
  });
});
