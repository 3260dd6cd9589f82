import { describe, expectTypeOf, it } from 'vitest';
import {
  type App,
  Controller,
  EventBus,
  FluxyPlugin,
  flux,
  type Plugin,
  type ReadonlySignal,
  type Signal,
  type Unsubscribe,
} from '../../src/index.js';

class CounterPlugin extends FluxyPlugin {
  readonly name = 'counter';
  readonly count: ReadonlySignal<number> = flux(0);
}

class ClockPlugin implements Plugin {
  readonly name = 'clock';
  now(): number {
    return 0;
  }
}

declare module '../../src/core/plugin.js' {
  interface FluxyPlugins {
    clock: ClockPlugin;
  }
}

declare module '../../src/core/events.js' {
  interface FluxyEvents {
    'controller-test:saved': { id: string };
  }
}

class TypedController extends Controller {
  readonly items = this.state<string[]>([]);
  readonly count = this.derive(() => this.items.value.length);
  readonly byClass = this.use(CounterPlugin);
  readonly byName = this.use('clock');
  readonly byUnknownName = this.use('unknown');
  readonly stop = this.effect(() => {});
  readonly release = this.own(() => {});
  readonly off = this.listen(this.app.events, 'controller-test:saved', (payload) => {
    expectTypeOf(payload).toEqualTypeOf<{ id: string }>();
  });
  readonly offBus = this.listen(new EventBus<{ saved: number }>(), 'saved', (id) => {
    expectTypeOf(id).toEqualTypeOf<number>();
  });

  wrong(): void {
    // @ts-expect-error not an event of the app
    this.listen(this.app.events, 'nope', () => {});
    // @ts-expect-error wrong payload type
    this.listen(new EventBus<{ saved: number }>(), 'saved', (id: string) => id);
    // @ts-expect-error a number is not a plugin reference
    this.use(42);
    // @ts-expect-error state is typed by its initial value
    this.state(1).value = 'one';
  }
}

declare const app: App;

describe('Controller', () => {
  it('state() is a Signal and derive() a ReadonlySignal', () => {
    const controller = new TypedController(app);
    expectTypeOf(controller.items).toEqualTypeOf<Signal<string[]>>();
    expectTypeOf(controller.count).toEqualTypeOf<ReadonlySignal<number>>();
  });

  it('use() is typed like app.use()', () => {
    const controller = new TypedController(app);
    expectTypeOf(controller.byClass).toEqualTypeOf<CounterPlugin>();
    expectTypeOf(controller.byName).toEqualTypeOf<ClockPlugin>();
    expectTypeOf(controller.byUnknownName).toEqualTypeOf<Plugin>();
  });

  it('effect, own and listen return Unsubscribe', () => {
    const controller = new TypedController(app);
    expectTypeOf(controller.stop).toEqualTypeOf<Unsubscribe>();
    expectTypeOf(controller.release).toEqualTypeOf<Unsubscribe>();
    expectTypeOf(controller.off).toEqualTypeOf<Unsubscribe>();
    expectTypeOf(controller.offBus).toEqualTypeOf<Unsubscribe>();
  });

  it('the app is optional; the helpers are protected; dispose and disposed are public', () => {
    expectTypeOf(TypedController).toBeConstructibleWith();
    expectTypeOf(TypedController).toBeConstructibleWith(app);
    const controller = new TypedController();
    expectTypeOf(controller.dispose).toEqualTypeOf<() => void>();
    expectTypeOf(controller.disposed).toEqualTypeOf<boolean>();
    expectTypeOf(controller.app).toEqualTypeOf<App>();
    // @ts-expect-error protected
    controller.use(CounterPlugin);
    // @ts-expect-error protected
    controller.state(1);
    // @ts-expect-error protected
    controller.effect(() => {});
  });

  it('cannot be instantiated directly', () => {
    // @ts-expect-error Controller is abstract
    new Controller(app);
  });
});
