import type { EventBus, FluxyEvents } from './events.js';
import type { Logger } from './logger.js';

/**
 * Names of registered plugins mapped to their types, so `use('sync')` is typed. Each plugin entry
 * adds itself by declaration merging; add your own the same way:
 *
 * @example
 * declare module 'fluxy' { interface FluxyPlugins { analytics: AnalyticsPlugin } }
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by declaration merging
export interface FluxyPlugins {}

/** A class whose instances are plugins; `use(SyncPlugin)` finds the registered instance. */
export type PluginClass<P extends Plugin = Plugin> = abstract new (...args: never[]) => P;

/** Looks up another plugin of the same app, typed by class or by registered name. */
export interface PluginLookup {
  <P extends Plugin>(plugin: PluginClass<P>): P;
  <K extends keyof FluxyPlugins>(name: K): FluxyPlugins[K];
  (name: string): Plugin;
}

/** What a plugin receives in `init`. Everything it creates through it is released on dispose. */
export interface PluginContext {
  /** Another plugin of this app (declare it in `dependencies` so it is initialised first). */
  readonly use: PluginLookup;
  /** The app's event bus. */
  readonly events: EventBus<FluxyEvents>;
  /** A logger whose lines are prefixed with the plugin's name. */
  readonly logger: Logger;
  /** Aborted when the app is disposed (pass it to `fetch`, `addEventListener`, …). */
  readonly signal: AbortSignal;
  /**
   * Run `disposer` when the app is disposed (before the plugin's own `dispose`), or when this
   * init fails. Called after that (say, by a late callback), it runs `disposer` at once and logs
   * its error, so nothing leaks.
   */
  onDispose(disposer: () => void | Promise<void>): void;
}

/**
 * A plugin: a name, the names it depends on, and optional lifecycle hooks.
 *
 * @example
 * const clock: Plugin = { name: 'clock', init(ctx) { const t = setInterval(tick, 1000); ctx.onDispose(() => clearInterval(t)); } };
 */
export interface Plugin {
  /** Unique within an app; `use(name)` finds the plugin by it. */
  readonly name: string;
  /** Names of plugins that must be initialised before this one. @default [] */
  readonly dependencies?: readonly string[];
  /** Called once by `app.ready()`, after every dependency's `init` resolved. */
  init?(ctx: PluginContext): void | Promise<void>;
  /** Called once by `app.dispose()`, in reverse initialisation order. */
  dispose?(): void | Promise<void>;
}

/** The part of an app a {@link FluxyPlugin} sees before its init. @internal */
export interface PluginHost {
  /** Resolves once `plugin` is initialised, starting the app's `ready()` if needed. */
  whenInitialized(plugin: Plugin): Promise<void>;
  /** True once the app's `dispose()` was called. */
  isDisposed(): boolean;
}
