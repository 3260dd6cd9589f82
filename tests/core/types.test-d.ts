import { describe, expectTypeOf, it } from 'vitest';
import {
  type App,
  createApp,
  EventBus,
  FluxyError,
  FluxyPlugin,
  flux,
  isFluxyError,
  type Plugin,
  type PluginContext,
  type ReadonlySignal,
  type Signal,
  type Unsubscribe,
  use,
} from '../../src/index.js';

class CounterPlugin extends FluxyPlugin {
  readonly name = 'counter';
  readonly count: ReadonlySignal<number> = flux(0);
}

class NotesPlugin implements Plugin {
  readonly name = 'notes';
  list(): string[] {
    return [];
  }
}

// Registering a plugin's name makes `use('notes')` typed, as each plugin entry does for itself.
declare module '../../src/core/plugin.js' {
  interface FluxyPlugins {
    notes: NotesPlugin;
  }
}

// An app's own events, added the same way.
declare module '../../src/core/events.js' {
  interface FluxyEvents {
    'notes:changed': { id: string };
  }
}

declare const app: App;

describe('use()', () => {
  it('by class returns that class', () => {
    expectTypeOf(app.use(CounterPlugin)).toEqualTypeOf<CounterPlugin>();
    expectTypeOf(app.use(NotesPlugin)).toEqualTypeOf<NotesPlugin>();
    expectTypeOf(use(CounterPlugin)).toEqualTypeOf<CounterPlugin>();
  });

  it('by an unknown name returns Plugin', () => {
    expectTypeOf(app.use('something')).toEqualTypeOf<Plugin>();
    expectTypeOf(use('something')).toEqualTypeOf<Plugin>();
  });

  it('by a name declared in FluxyPlugins returns that plugin', () => {
    expectTypeOf(app.use('notes')).toEqualTypeOf<NotesPlugin>();
    expectTypeOf(use('notes')).toEqualTypeOf<NotesPlugin>();
    expectTypeOf(app.use('notes').list()).toEqualTypeOf<string[]>();
  });

  it('through the plugin context too', () => {
    expectTypeOf<PluginContext['use']>().toBeCallableWith('notes');
    const ctx = {} as PluginContext;
    expectTypeOf(ctx.use('notes')).toEqualTypeOf<NotesPlugin>();
    expectTypeOf(ctx.use(CounterPlugin)).toEqualTypeOf<CounterPlugin>();
  });

  it('refuses values that are neither a name nor a class', () => {
    // @ts-expect-error a number is not a plugin reference
    app.use(42);
  });

  it('register returns the exact plugin type', () => {
    expectTypeOf(createApp().register(new CounterPlugin())).toEqualTypeOf<CounterPlugin>();
  });
});

describe('events', () => {
  it('payloads are typed and on() returns an Unsubscribe', () => {
    expectTypeOf(
      app.events.on('notes:changed', (payload) => {
        expectTypeOf(payload).toEqualTypeOf<{ id: string }>();
      }),
    ).toEqualTypeOf<Unsubscribe>();
    app.events.on('app:handler-error', (payload) => {
      expectTypeOf(payload).toEqualTypeOf<{ event: string; error: unknown }>();
    });
    app.events.emit('notes:changed', { id: 'a' });
    app.events.emit('app:ready');
    // @ts-expect-error the payload is required
    app.events.emit('notes:changed');
    // @ts-expect-error wrong payload type
    app.events.emit('notes:changed', { id: 1 });
    // @ts-expect-error unknown event
    app.events.on('nope', () => {});
  });

  it('a standalone EventBus is typed by its map', () => {
    const bus = new EventBus<{ saved: number; cleared: undefined }>();
    bus.emit('saved', 1);
    bus.emit('cleared');
    // @ts-expect-error wrong payload type
    bus.emit('saved', 'one');
    bus.once('saved', (value) => expectTypeOf(value).toEqualTypeOf<number>());
  });
});

describe('signals', () => {
  it('a ReadonlySignal has no writable value', () => {
    const count = flux(0);
    expectTypeOf(count).toEqualTypeOf<Signal<number>>();
    const readonlyCount: ReadonlySignal<number> = count;
    expectTypeOf(readonlyCount.value).toEqualTypeOf<number>();
    // @ts-expect-error value is read-only on a ReadonlySignal
    readonlyCount.value = 1;
    // @ts-expect-error public plugin state is read-only
    new CounterPlugin().count.value = 2;
  });
});

describe('errors', () => {
  it('isFluxyError narrows, with the code', () => {
    const value: unknown = new FluxyError('x', 'y');
    if (isFluxyError(value, 'plugin/duplicate')) {
      expectTypeOf(value).toEqualTypeOf<FluxyError<'plugin/duplicate'>>();
      expectTypeOf(value.code).toEqualTypeOf<'plugin/duplicate'>();
    }
    expectTypeOf(new FluxyError('a/b', 'm').code).toEqualTypeOf<'a/b'>();
  });
});
