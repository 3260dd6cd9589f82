import type { EffectOptions, SignalOptions } from '@preact/signals-core';
import { App } from './app.js';
import { getDefaultApp } from './default-app.js';
import { disposedError, FluxyError, invalidArgument } from './errors.js';
import { EventBus, type Unsubscribe } from './events.js';
import type { FluxyPlugins, Plugin, PluginClass } from './plugin.js';
import {
  computed,
  effect as createEffect,
  signal as createSignal,
  type ReadonlySignal,
  type Signal,
} from './signals.js';

/** The error codes a {@link Controller} raises (besides the core's `app/disposed`). */
// (Written as a union, like every other `…ErrorCode`, so scripts/errors-doc.mjs lists it.)
// biome-ignore format: the leading | makes the one code a union
export type ControllerErrorCode = | 'controller/disposed';

/** What {@link Controller.effect} runs: it may return a cleanup, run before each re-run and on dispose. */
// biome-ignore lint/suspicious/noConfusingVoidType: the same contract as signals-core's effect(), so `() => list.push(x)` fits
export type ControllerEffect = () => void | (() => void);

/**
 * The state-management half of an app: state as signals, values derived from them, and the
 * effects and subscriptions that keep them up to date — all owned by the controller and released
 * together by `dispose()`, or automatically when its app is disposed.
 *
 * A controller reaches plugins through its app (`this.use(SyncPlugin)`), so it is the one place
 * where UI-facing state meets the sync queue; the UI binds to its signals with `fluxy/react`,
 * `fluxy/dom` or any framework that can subscribe to a signal.
 *
 * Lifecycle:
 * - `effect`, `own` and `listen` on a disposed controller throw `controller/disposed` (nothing
 *   would ever release what they create).
 * - `state`, `derive` and `use` keep working after `dispose()`: signals hold no resources, and an
 *   action that started before an unmount may still need to queue its write.
 * - Constructing a controller on a disposed app throws `app/disposed`.
 *
 * @example
 * class NotesController extends Controller {
 *   readonly #notes = this.state<Note[]>([]);
 *   readonly notes: ReadonlySignal<Note[]> = this.#notes;
 *   readonly count = this.derive(() => this.#notes.value.length);
 *
 *   constructor(app?: App) {
 *     super(app);
 *     this.effect(() => { document.title = `${this.count.value} notes`; });
 *     this.own(this.use(SyncPlugin).on('sent', ({ operation }) => this.#confirm(operation.id)));
 *   }
 * }
 *
 * const notes = new NotesController(app); // released by notes.dispose() or app.dispose()
 */
export abstract class Controller {
  /**
   * The app this controller belongs to.
   *
   * @default getDefaultApp()
   */
  readonly app: App;

  /** Release functions in acquisition order; a Set so an early release is O(1). */
  readonly #disposers = new Set<() => void>();
  readonly #stopFollowingApp: Unsubscribe;
  #disposed = false;

  /**
   * @param app the app whose plugins this controller uses and whose disposal disposes it.
   *   @default getDefaultApp()
   * @throws FluxyError `invalid-argument` when `app` is not an {@link App}, `app/disposed` when
   *   it was disposed.
   */
  constructor(app: App = getDefaultApp()) {
    if (!(app instanceof App)) {
      throw invalidArgument(
        `new ${this.constructor.name}(app): app must be an App from createApp(), or omitted for the default app.`,
      );
    }
    if (app.disposed) {
      throw disposedError(
        `new ${this.constructor.name}(app): the app was disposed; create the controller with a live app.`,
      );
    }
    this.app = app;
    this.#stopFollowingApp = app.events.on('app:dispose', () => this.dispose());
  }

  /** True once `dispose()` ran (called directly or by the app's disposal). */
  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * Release everything this controller owns, most recent first: effects stop (running their
   * cleanups), subscriptions are undone. Idempotent. Never throws: every release runs, and
   * failures are reported to the app's logger, as the app does for plugins.
   *
   * @example
   * notes.dispose(); // also done by app.dispose(), and by useController() on unmount
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#stopFollowingApp();
    const disposers = [...this.#disposers].reverse();
    this.#disposers.clear();
    for (const dispose of disposers) {
      try {
        dispose();
      } catch (error) {
        // (A logger that throws is ignored: every release still runs.)
        try {
          this.app.logger.error(`disposing controller ${this.constructor.name} failed`, error);
        } catch {}
      }
    }
  }

  /**
   * A writable signal holding part of this controller's state. Expose it as a `ReadonlySignal`
   * when only the controller should write it.
   *
   * @param options signal options (`name`, `watched`, `unwatched`). @default {}
   * @example readonly #filter = this.state<'all' | 'done'>('all');
   */
  protected state<T>(initial: T, options?: SignalOptions<T>): Signal<T> {
    return createSignal(initial, options);
  }

  /**
   * A read-only signal computed from other signals, recomputed lazily when they change.
   *
   * @param options computed options (`name`, `watched`, `unwatched`). @default {}
   * @example readonly remaining = this.derive(() => this.todos.value.filter((t) => !t.done).length);
   */
  protected derive<T>(fn: () => T, options?: SignalOptions<T>): ReadonlySignal<T> {
    if (typeof fn !== 'function') throw invalidArgument('derive(fn): fn must be a function.');
    return computed(fn, options);
  }

  /**
   * Run `fn` now and again whenever a signal it read changes, until the returned function is
   * called or the controller is disposed. `fn` may return a cleanup, run before each re-run and
   * at the end.
   *
   * @param options effect options (`name`). @default {}
   * @returns a function that stops this effect early. Safe to call more than once.
   * @throws FluxyError `controller/disposed` after `dispose()`.
   * @example this.effect(() => localStorage.setItem('filter', this.#filter.value));
   */
  protected effect(fn: ControllerEffect, options?: EffectOptions): Unsubscribe {
    this.#assertAlive('effect');
    if (typeof fn !== 'function') throw invalidArgument('effect(fn): fn must be a function.');
    // If the first run throws, signals-core has already disposed the effect: nothing to own.
    return this.#adopt(createEffect(fn, options));
  }

  /**
   * Take ownership of a release function (an unsubscribe, a `clearInterval`, …): it runs once,
   * when the controller is disposed or when the returned function is called, whichever is first.
   *
   * @returns a function that releases it early. Safe to call more than once.
   * @throws FluxyError `controller/disposed` after `dispose()` (release the resource yourself).
   * @example this.own(sync.on('failed', ({ operation }) => this.#rollBack(operation)));
   */
  protected own(release: () => void): Unsubscribe {
    this.#assertAlive('own');
    if (typeof release !== 'function') {
      throw invalidArgument('own(release): release must be a function, e.g. the result of events.on().');
    }
    return this.#adopt(release);
  }

  /**
   * Subscribe to an event of an {@link EventBus} (the app's `events`, or your own) for as long as
   * the controller lives. For a plugin's own `on()` (such as `sync.on`), which already returns its
   * unsubscribe function, use `this.own(sync.on(event, handler))`.
   *
   * @returns the unsubscribe function, to stop listening early.
   * @throws FluxyError `controller/disposed` after `dispose()`.
   * @example this.listen(this.app.events, 'app:ready', () => this.#load());
   */
  protected listen<Events extends object, K extends keyof Events>(
    bus: EventBus<Events>,
    event: K,
    handler: (payload: Events[K]) => void,
  ): Unsubscribe {
    this.#assertAlive('listen');
    if (!(bus instanceof EventBus)) {
      throw invalidArgument(
        `listen(bus, "${String(event)}", handler): bus must be an EventBus, such as app.events; for sync.on() use this.own(sync.on(...)).`,
      );
    }
    return this.#adopt(bus.on(event, handler));
  }

  /**
   * A plugin of this controller's app, typed by class or by registered name (as `app.use`).
   * Throws `plugin/not-registered`, or `app/disposed` once the app is disposed.
   *
   * @example const sync = this.use(SyncPlugin); // or this.use('sync')
   */
  protected use<P extends Plugin>(plugin: PluginClass<P>): P;
  protected use<K extends keyof FluxyPlugins>(name: K): FluxyPlugins[K];
  protected use(name: string): Plugin;
  protected use(plugin: string | PluginClass): Plugin {
    return this.app.use(plugin as string);
  }

  #adopt(release: () => void): Unsubscribe {
    let released = false;
    const once = (): void => {
      if (released) return;
      released = true;
      this.#disposers.delete(once);
      release();
    };
    this.#disposers.add(once);
    return once;
  }

  #assertAlive(method: string): void {
    if (this.#disposed) {
      throw new FluxyError<ControllerErrorCode>(
        'controller/disposed',
        `${this.constructor.name}.${method}() was called after dispose(): create a new controller instead.`,
      );
    }
  }
}
