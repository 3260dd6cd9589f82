import { attachHost } from './app.js';
import { disposedError, FluxyError, invalidArgument } from './errors.js';
import type { Plugin, PluginContext, PluginHost } from './plugin.js';

// Re-exported from here only to shape a code-splitting build (nothing imports them from here; an
// entry built alone drops them): the modules below join the chunk of the core that every entry
// loads. The backoff the connectivity probe and the sync flush share would otherwise be a 0.2 KB
// chunk of those two entries (scripts/size.mjs: -85 B own code, -100 B with dependencies); the
// controller and the default app, what the `fluxy` entry adds to the core (every app imports
// `fluxy`), code of that entry's own chunk, a second gzip stream (-68 B, -96 B).
export { backoffDelay } from './backoff.js';
export { Controller } from './controller.js';
export { dispose, getDefaultApp, ready, register, use } from './default-app.js';

/**
 * A convenient base for plugin classes. It remembers the app it was registered with, so public
 * methods can `await this.whenReady()` and work before the app's explicit `ready()`:
 *
 * @example
 * class Greeter extends FluxyPlugin {
 *   readonly name = 'greeter';
 *   async greet() { await this.whenReady(); return 'hi'; }
 * }
 */
export abstract class FluxyPlugin implements Plugin {
  abstract readonly name: string;
  #host: PluginHost | undefined;

  /** @internal */
  [attachHost](host: PluginHost): void {
    if (this.#host && this.#host !== host) {
      throw invalidArgument(
        `Plugin "${this.name}" is already registered with another app: create a new instance for each app.`,
      );
    }
    this.#host = host;
  }

  /** Called once by the app's `ready()`. */
  init?(ctx: PluginContext): void | Promise<void>;

  /**
   * Resolves once this plugin is initialised, starting the app's `ready()` if nobody has. It
   * waits for this plugin (and so its dependencies) only, not for unrelated plugins.
   * Rejects with `plugin/not-registered` when the plugin was never registered, with the
   * `ready()` error when this plugin (or a dependency) failed to initialise, and with
   * `app/disposed` when the app is (or gets) disposed first.
   *
   * Do not await it from this plugin's own `init`: the init would wait for itself.
   */
  protected async whenReady(): Promise<void> {
    const host = this.#host;
    if (!host) {
      throw new FluxyError(
        'plugin/not-registered',
        `Plugin "${this.name}" is not registered: call register(plugin) (or app.register(plugin)) first.`,
      );
    }
    await host.whenInitialized(this);
  }

  /**
   * Throws `app/disposed` once the app this plugin was registered with was disposed; nothing
   * before registration. For synchronous public methods that must not act on a disposed plugin
   * (asynchronous ones get the same error from {@link FluxyPlugin.whenReady}).
   *
   * @example
   * pause(): void { this.throwIfDisposed('pause'); this.#paused.value = true; }
   */
  protected throwIfDisposed(method: string): void {
    if (this.#host?.isDisposed()) {
      throw disposedError(
        `${this.name}.${method}() was called after its app was disposed: create a new app with createApp().`,
      );
    }
  }
}
