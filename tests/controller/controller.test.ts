import { afterEach, describe, expect, it } from 'vitest';
import { type App, createApp } from '../../src/core/app.js';
import { Controller, type ControllerEffect } from '../../src/core/controller.js';
import { dispose as disposeDefaultApp, getDefaultApp } from '../../src/core/default-app.js';
import { isFluxyError } from '../../src/core/errors.js';
import { EventBus, type Unsubscribe } from '../../src/core/events.js';
import type { Plugin } from '../../src/core/plugin.js';
import { flux, type ReadonlySignal, type Signal } from '../../src/core/signals.js';
import { recordingLogger, thrownBy } from '../core/helpers.js';

function newApp(): App {
  return createApp({ logger: recordingLogger() });
}

/** A controller that exposes its protected helpers, for tests. */
class TestController extends Controller {
  stateOf<T>(initial: T): Signal<T> {
    return this.state(initial);
  }
  deriveOf<T>(fn: () => T): ReadonlySignal<T> {
    return this.derive(fn);
  }
  runEffect(fn: ControllerEffect): Unsubscribe {
    return this.effect(fn);
  }
  ownRelease(release: () => void): Unsubscribe {
    return this.own(release);
  }
  listenTo<Events extends object, K extends keyof Events>(
    source: EventBus<Events>,
    event: K,
    handler: (payload: Events[K]) => void,
  ): Unsubscribe {
    return this.listen(source, event, handler);
  }
  plugin(name: string): Plugin {
    return this.use(name);
  }
}

class Greeter implements Plugin {
  readonly name = 'greeter';
  greet(who: string): string {
    return `hello ${who}`;
  }
}

interface Note {
  id: string;
  done: boolean;
}

/** The shape of a real controller, as the docs show it. */
class NotesController extends Controller {
  readonly #notes = this.state<Note[]>([]);
  readonly notes: ReadonlySignal<Note[]> = this.#notes;
  readonly count = this.derive(() => this.#notes.value.length);
  readonly remaining = this.derive(() => this.#notes.value.filter((note) => !note.done).length);
  readonly titles: string[] = [];
  readonly greeting: string;

  constructor(app?: App) {
    super(app);
    this.effect(() => {
      this.titles.push(`${this.remaining.value}/${this.count.value}`);
    });
    this.greeting = this.use(Greeter).greet('notes');
  }

  add(id: string): void {
    this.#notes.value = [...this.#notes.value, { id, done: false }];
  }

  complete(id: string): void {
    this.#notes.value = this.#notes.value.map((note) => (note.id === id ? { ...note, done: true } : note));
  }
}

describe('Controller: state and derive', () => {
  it('state() is a writable signal with the initial value', () => {
    const controller = new TestController(newApp());
    const count = controller.stateOf(1);
    expect(count.value).toBe(1);
    count.value = 2;
    expect(count.peek()).toBe(2);
  });

  it('derive() follows its sources and is read-only', () => {
    const controller = new TestController(newApp());
    const count = controller.stateOf(2);
    const double = controller.deriveOf(() => count.value * 2);
    expect(double.value).toBe(4);
    count.value = 5;
    expect(double.value).toBe(10);
    expect(() => {
      (double as Signal<number>).value = 1;
    }).toThrow();
  });

  it('a subclass uses state, derive, effect and use together', () => {
    const app = newApp();
    app.register(new Greeter());
    const notes = new NotesController(app);
    notes.add('a');
    notes.add('b');
    notes.complete('a');
    expect(notes.count.value).toBe(2);
    expect(notes.remaining.value).toBe(1);
    expect(notes.titles).toStrictEqual(['0/0', '1/1', '2/2', '1/2']);
    expect(notes.greeting).toBe('hello notes');
  });
});

describe('Controller: ownership and dispose', () => {
  it('an effect runs on changes until dispose(), then never again, and its cleanup runs once', () => {
    const controller = new TestController(newApp());
    const source = flux(0);
    const seen: number[] = [];
    let cleanups = 0;
    controller.runEffect(() => {
      seen.push(source.value);
      return () => {
        cleanups += 1;
      };
    });
    source.value = 1;
    expect(seen).toStrictEqual([0, 1]);
    expect(cleanups).toBe(1);
    controller.dispose();
    expect(cleanups).toBe(2);
    source.value = 2;
    expect(seen).toStrictEqual([0, 1]);
  });

  it('dispose() stops effects so the signal has no watchers left', () => {
    let watchers = 0;
    const source = flux(0, {
      watched: () => {
        watchers += 1;
      },
      unwatched: () => {
        watchers -= 1;
      },
    });
    const controller = new TestController(newApp());
    controller.runEffect(() => {
      source.value;
    });
    expect(watchers).toBe(1);
    controller.dispose();
    expect(watchers).toBe(0);
  });

  it('listen() subscriptions are removed: the bus is back to its baseline', () => {
    const app = newApp();
    const baseline = app.events.listenerCount();
    const controller = new TestController(app);
    const received: string[] = [];
    controller.listenTo(app.events, 'app:handler-error', ({ event }) => received.push(event));
    const bus = new EventBus<{ saved: number }>();
    controller.listenTo(bus, 'saved', (id) => received.push(`saved:${id}`));
    expect(app.events.listenerCount()).toBe(baseline + 2); // app:dispose + app:handler-error
    expect(bus.listenerCount('saved')).toBe(1);

    bus.emit('saved', 1);
    controller.dispose();
    bus.emit('saved', 2);
    app.events.emit('app:handler-error', { event: 'x', error: null });

    expect(received).toStrictEqual(['saved:1']);
    expect(bus.listenerCount()).toBe(0);
    expect(app.events.listenerCount()).toBe(baseline);
  });

  it('own() releases run once, most recent first, on dispose()', () => {
    const controller = new TestController(newApp());
    const order: string[] = [];
    controller.ownRelease(() => order.push('first'));
    controller.ownRelease(() => order.push('second'));
    controller.runEffect(() => () => order.push('effect cleanup'));
    controller.dispose();
    expect(order).toStrictEqual(['effect cleanup', 'second', 'first']);
  });

  it('the returned function releases early, once, and dispose() does not release it again', () => {
    const controller = new TestController(newApp());
    let released = 0;
    const release = controller.ownRelease(() => {
      released += 1;
    });
    release();
    release();
    expect(released).toBe(1);
    controller.dispose();
    expect(released).toBe(1);
  });

  it('an effect stopped early does not run again, and dispose() does not clean it twice', () => {
    const controller = new TestController(newApp());
    const source = flux(0);
    let runs = 0;
    let cleanups = 0;
    const stop = controller.runEffect(() => {
      source.value;
      runs += 1;
      return () => {
        cleanups += 1;
      };
    });
    stop();
    source.value = 1;
    controller.dispose();
    expect(runs).toBe(1);
    expect(cleanups).toBe(1);
  });

  it('dispose() is idempotent', () => {
    const app = newApp();
    const baseline = app.events.listenerCount();
    const controller = new TestController(app);
    let released = 0;
    controller.ownRelease(() => {
      released += 1;
    });
    expect(controller.disposed).toBe(false);
    controller.dispose();
    controller.dispose();
    expect(controller.disposed).toBe(true);
    expect(released).toBe(1);
    expect(app.events.listenerCount()).toBe(baseline);
  });

  it('a release that throws does not stop the others; the failure is logged to the app', () => {
    const logger = recordingLogger();
    const controller = new TestController(createApp({ logger }));
    const order = ownThreeReleasesOneThrowing(controller);
    expect(() => controller.dispose()).not.toThrow();
    expect(order).toStrictEqual(['third', 'first']);
    expect(logger.lines.filter((line) => line.level === 'error')).toHaveLength(1);
    const [line] = logger.lines;
    expect(line?.message).toContain('TestController');
    expect(line?.details[0]).toBeInstanceOf(Error);
    expect((line?.details[0] as Error | undefined)?.message).toBe('boom');
  });

  it('a release that throws, with a logger that throws too: dispose() still never throws, every release runs', () => {
    const logger = {
      ...recordingLogger(),
      error() {
        throw new Error('the logger is down');
      },
    };
    const controller = new TestController(createApp({ logger }));
    const order = ownThreeReleasesOneThrowing(controller);
    expect(() => controller.dispose()).not.toThrow();
    expect(order).toStrictEqual(['third', 'first']);
  });
});

describe('Controller: with its app', () => {
  it('app.dispose() disposes every controller of the app, before its plugins', async () => {
    const app = newApp();
    const order: string[] = [];
    app.register({
      name: 'store',
      dispose: () => {
        order.push('plugin dispose');
      },
    });
    await app.ready();
    const first = new TestController(app);
    const second = new TestController(app);
    first.ownRelease(() => order.push('first released'));
    second.ownRelease(() => order.push('second released'));
    await app.dispose();
    expect(first.disposed).toBe(true);
    expect(second.disposed).toBe(true);
    expect(order).toStrictEqual(['first released', 'second released', 'plugin dispose']);
  });

  it('a controller of another app is not disposed', async () => {
    const app = newApp();
    const other = new TestController(newApp());
    new TestController(app);
    await app.dispose();
    expect(other.disposed).toBe(false);
  });

  it('a controller disposed first no longer listens for the app disposal', () => {
    const app = newApp();
    const baseline = app.events.listenerCount('app:dispose');
    const controllers = [new TestController(app), new TestController(app), new TestController(app)];
    expect(app.events.listenerCount('app:dispose')).toBe(baseline + 3);
    for (const controller of controllers) controller.dispose();
    expect(app.events.listenerCount('app:dispose')).toBe(baseline);
  });

  it('defaults to the default app', async () => {
    try {
      const controller = new TestController();
      expect(controller.app).toBe(getDefaultApp());
      await disposeDefaultApp();
      expect(controller.disposed).toBe(true);
    } finally {
      await disposeDefaultApp();
    }
  });

  it('use() finds plugins by class and by name, and throws plugin/not-registered otherwise', () => {
    const app = newApp();
    const greeter = app.register(new Greeter());
    const controller = new TestController(app);
    expect(controller.plugin('greeter')).toBe(greeter);
    expect(
      isFluxyError(
        thrownBy(() => controller.plugin('missing')),
        'plugin/not-registered',
      ),
    ).toBe(true);
    expect(thrownBy(() => new NotesController(newApp()))).toMatchObject({ code: 'plugin/not-registered' });
  });

  it('use() keeps working after the controller (not the app) is disposed', () => {
    const app = newApp();
    const greeter = app.register(new Greeter());
    const controller = new TestController(app);
    controller.dispose();
    expect(controller.plugin('greeter')).toBe(greeter);
  });

  it('use() throws app/disposed once the app is disposed', async () => {
    const app = newApp();
    app.register(new Greeter());
    const controller = new TestController(app);
    await app.dispose();
    expect(
      isFluxyError(
        thrownBy(() => controller.plugin('greeter')),
        'app/disposed',
      ),
    ).toBe(true);
  });
});

describe('Controller: errors', () => {
  afterEach(async () => {
    await disposeDefaultApp();
  });

  it('effect, own and listen throw controller/disposed after dispose()', () => {
    const app = newApp();
    const controller = new TestController(app);
    controller.dispose();
    const baseline = app.events.listenerCount();
    let released = 0;
    for (const attempt of [
      () => controller.runEffect(() => {}),
      () => controller.ownRelease(() => released++),
      () => controller.listenTo(app.events, 'app:ready', () => {}),
    ]) {
      const error = thrownBy(attempt);
      expect(isFluxyError(error, 'controller/disposed')).toBe(true);
      expect((error as Error).message).toContain('after dispose()');
    }
    expect(app.events.listenerCount()).toBe(baseline);
    expect(released).toBe(0);
  });

  it('state and derive still work after dispose()', () => {
    const controller = new TestController(newApp());
    controller.dispose();
    const count = controller.stateOf(1);
    expect(controller.deriveOf(() => count.value + 1).value).toBe(2);
  });

  it('refuses a disposed app with app/disposed', async () => {
    const app = newApp();
    await app.dispose();
    expect(
      isFluxyError(
        thrownBy(() => new TestController(app)),
        'app/disposed',
      ),
    ).toBe(true);
  });

  it.each([
    ['null', null],
    ['a plain object', { use() {}, events: {} }],
  ])('refuses %s as the app with invalid-argument', (_label, app) => {
    expect(
      isFluxyError(
        thrownBy(() => new TestController(app as never)),
        'invalid-argument',
      ),
    ).toBe(true);
  });

  it('refuses non-function arguments with invalid-argument and owns nothing', () => {
    const app = newApp();
    const controller = new TestController(app);
    const baseline = app.events.listenerCount();
    for (const attempt of [
      () => controller.runEffect(42 as never),
      () => controller.ownRelease('nope' as never),
      () => controller.deriveOf(null as never),
      () => controller.listenTo({ on: () => () => {} } as never, 'x' as never, () => {}),
    ]) {
      expect(isFluxyError(thrownBy(attempt), 'invalid-argument')).toBe(true);
    }
    controller.dispose();
    expect(app.events.listenerCount()).toBe(baseline - 1);
  });

  it('an effect whose first run throws rethrows and is not owned', () => {
    const logger = recordingLogger();
    const controller = new TestController(createApp({ logger }));
    const source = flux(0);
    let runs = 0;
    expect(() =>
      controller.runEffect(() => {
        runs += 1;
        if (source.value === 0) throw new Error('first run');
      }),
    ).toThrow('first run');
    source.value = 1;
    controller.dispose();
    expect(runs).toBe(1);
    expect(logger.lines).toStrictEqual([]);
  });
});

/** Three releases, the middle one throwing 'boom'; returns the order the others ran in. */
function ownThreeReleasesOneThrowing(controller: TestController): string[] {
  const order: string[] = [];
  controller.ownRelease(() => order.push('first'));
  controller.ownRelease(() => {
    throw new Error('boom');
  });
  controller.ownRelease(() => order.push('third'));
  return order;
}
