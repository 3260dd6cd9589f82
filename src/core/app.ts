import { checkDependencies } from './dependency-order.js';
import { describeValue, disposedError, FluxyError, invalidArgument } from './errors.js';
import { EventBus, type FluxyEvents } from './events.js';
import { checkOptions } from './input-checks.js';
import { consoleLogger, type Logger, logMethods, scopedLogger } from './logger.js';
import type { FluxyPlugins, Plugin, PluginClass, PluginContext, PluginHost } from './plugin.js';
import { isClass, validatePlugin } from './plugin-validation.js';

/** Options of {@link createApp}. */
export interface AppOptions {
  /** Where the app and its plugins log. @default consoleLogger('warn') */
  logger?: Logger;
}

/** What one init attempt set up: its signal and the disposers it recorded. */
interface InitScope {
  readonly controller: AbortController;
  readonly undos: Array<() => void | Promise<void>>;
  /** Set once the scope was released: a disposer recorded later runs at once. */
  released: boolean;
}

interface Entry {
  readonly plugin: Plugin;
  state: 'registered' | 'initializing' | 'ready' | 'failed';
  error?: unknown;
  scope?: InitScope;
  /** Resolves when this plugin's init succeeded (an entry is initialised at most once). */
  initialized: Promise<void>;
  markInitialized: () => void;
}

/**
 * @internal The hook by which an app tells a {@link FluxyPlugin} that it was registered, so the
 * plugin's public methods can wait for its init. Defined here, beside its one caller.
 */
export const attachHost: unique symbol = Symbol.for('fluxy.attachHost') as never;

/**
 * An isolated registry of plugins with its own event bus. Create one per app (or per test);
 * the free functions `register`, `use`, `ready`, `dispose` act on a default app.
 */
export class App {
  /** The app's typed event bus. */
  readonly events: EventBus<FluxyEvents>;
  /** The app's logger. */
  readonly logger: Logger;

  readonly #entries = new Map<string, Entry>();
  readonly #initOrder: Entry[] = [];
  readonly #host: PluginHost;
  #readyRun: { readonly promise: Promise<void>; readonly reject: (error: unknown) => void } | undefined;
  /** Wakes the running `ready()` when a plugin is registered, so it starts without waiting. */
  #wakeReadyRun: (() => void) | undefined;
  /** Bumped by every registration, so a running `ready()` knows to validate the graph again. */
  #registrations = 0;
  #disposal: Promise<void> | undefined;

  constructor(options: AppOptions = {}) {
    const { logger } = checkOptions(options, ['logger'], (problem) =>
      invalidArgument(`createApp(options): options ${problem}, e.g. createApp({ logger }).`),
    ) as AppOptions;
    if (
      logger !== undefined &&
      (logger === null ||
        typeof logger !== 'object' ||
        logMethods.some((method) => typeof logger[method] !== 'function'))
    ) {
      throw invalidArgument(
        'createApp({ logger }): logger must have debug, info, warn and error methods, e.g. consoleLogger("info").',
      );
    }
    this.logger = logger ?? consoleLogger('warn');
    this.events = new EventBus<FluxyEvents>((event, error) => {
      this.#logError(`a handler of "${event}" threw`, error);
      if (event !== 'app:handler-error') this.events.emit('app:handler-error', { event, error });
    });
    this.#host = {
      whenInitialized: (plugin) => this.#whenInitialized(plugin),
      isDisposed: () => this.disposed,
    };
  }

  /** True once `dispose()` was called. */
  get disposed(): boolean {
    return this.#disposal !== undefined;
  }

  /**
   * Add a plugin. It is initialised by the next `ready()` (or by its first public call).
   * Throws `plugin/duplicate` if the name is taken, `invalid-argument` for a malformed plugin;
   * the registry is unchanged in both cases.
   *
   * @returns the plugin itself, for `const sync = app.register(new SyncPlugin())`.
   */
  register<P extends Plugin>(plugin: P): P {
    this.#assertAlive();
    validatePlugin(plugin);
    const existing = this.#entries.get(plugin.name);
    if (existing) {
      // One literal (the difference is a call inside it), so the production build drops all of it.
      throw new FluxyError(
        'plugin/duplicate',
        `A plugin named "${plugin.name}" is already registered${existing.plugin === plugin ? ' (this very one)' : ''}: register each plugin once per app. (Built-in plugins have fixed names; for a second one, e.g. a second outbox, create a second app with createApp().)`,
      );
    }
    const attach = (plugin as { [attachHost]?: (host: PluginHost) => void })[attachHost];
    if (typeof attach === 'function') attach.call(plugin, this.#host);
    const entry = { plugin, state: 'registered' } as Partial<Entry> as Entry;
    entry.initialized = new Promise<void>((resolve) => {
      entry.markInitialized = resolve;
    });
    this.#entries.set(plugin.name, entry);
    this.#registrations += 1;
    this.#wakeReadyRun?.();
    return plugin;
  }

  /**
   * Whether a plugin with this name, or an instance of this class, is registered. Throws
   * `invalid-argument` for anything else (as `use()` does).
   */
  has(plugin: string | PluginClass): boolean {
    return this.#find(plugin) !== undefined;
  }

  /**
   * The registered plugin, by class (typed) or by name. Throws `plugin/not-registered`.
   *
   * @example const sync = app.use(SyncPlugin);
   */
  use<P extends Plugin>(plugin: PluginClass<P>): P;
  use<K extends keyof FluxyPlugins>(name: K): FluxyPlugins[K];
  use(name: string): Plugin;
  use(plugin: string | PluginClass): Plugin {
    this.#assertAlive();
    const found = this.#find(plugin);
    if (!found) {
      throw new FluxyError(
        'plugin/not-registered',
        `No plugin ${typeof plugin === 'string' ? `named "${plugin}"` : `of class ${plugin.name || '(anonymous)'}`} is registered: call register(new ${typeof plugin === 'string' ? 'ThatPlugin' : plugin.name}()) first.`,
      );
    }
    return found.plugin;
  }

  /**
   * Initialise every registered plugin not yet initialised, dependencies first (independent
   * plugins concurrently). Validates the whole graph before running anything. Concurrent calls
   * share one run; a plugin registered while it runs joins it at once. Rejects with
   * `plugin/missing-dependency`, `plugin/dependency-cycle` or `plugin/init-failed` (naming the
   * plugin), after every plugin that does not depend on a failed one was initialised; a failed
   * plugin is retried by the next `ready()`. Rejects with `app/disposed` when the app is disposed
   * first.
   */
  ready(): Promise<void> {
    if (this.#disposal) {
      return Promise.reject(disposedError('This app was disposed: create a new app with createApp().'));
    }
    if (this.#readyRun) return this.#readyRun.promise;
    // The shared promise is stored before any init starts: an init that synchronously calls
    // ready() (or a method awaiting `whenReady()`) must join this run, not start a second one.
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.#readyRun = { promise, reject };
    this.#runReady().then(resolve, reject);
    return promise;
  }

  /**
   * Dispose every initialised plugin in reverse initialisation order: abort its signal, run the
   * disposers it recorded, then its `dispose()`. Safe to call twice; later calls to `register`,
   * `use`, `ready` and `events.on` throw `app/disposed`, and a disposer recorded later with
   * `ctx.onDispose` runs at once.
   *
   * Inits still running are aborted (their `ctx.signal`) but not waited for, so an init that
   * ignores its signal cannot hold dispose up: a running `ready()` rejects with `app/disposed`
   * at once, and a plugin whose init settles later is disposed then.
   */
  dispose(): Promise<void> {
    if (this.#disposal) return this.#disposal;
    this.events.close();
    // Stored before anything runs, so an abort listener or an 'app:dispose' handler that calls
    // dispose() again gets this promise instead of starting a second disposal.
    this.#disposal = Promise.resolve().then(() => this.#runDispose());
    return this.#disposal;
  }

  /**
   * Start each plugin as soon as all its dependencies are ready, so independent plugins initialise
   * concurrently and a slow plugin holds up only its dependents. Plugins registered while the run
   * goes on join it (after the graph is validated again). A failed plugin's dependents are never
   * started; every other plugin is, so one failure does not fail a call to an unrelated plugin.
   */
  async #runReady(): Promise<void> {
    const run = this.#readyRun;
    const failures: Entry[] = [];
    const started = new Set<Entry>();
    const running = new Set<Promise<void>>();
    let validated = -1;
    let invalid: { error: unknown } | undefined;
    try {
      while (!this.disposed) {
        if (validated !== this.#registrations) {
          validated = this.#registrations;
          try {
            checkDependencies(this.#entries);
            invalid = undefined;
          } catch (error) {
            invalid = { error };
          }
        }
        if (!invalid) {
          for (const entry of this.#entries.values()) {
            if (entry.state === 'ready' || started.has(entry)) continue;
            const dependencies = entry.plugin.dependencies ?? [];
            if (!dependencies.every((name) => this.#entries.get(name)?.state === 'ready')) continue;
            started.add(entry);
            const init: Promise<void> = this.#initOne(entry, failures).finally(() => running.delete(init));
            running.add(init);
          }
        }
        if (running.size === 0) break;
        const woken = new Promise<void>((resolve) => {
          this.#wakeReadyRun = resolve;
        });
        await Promise.race([...running, woken]);
        this.#wakeReadyRun = undefined;
      }
      if (this.disposed) {
        throw disposedError(
          'The app was disposed while ready() was running: create a new app with createApp().',
        );
      }
      if (invalid) throw invalid.error;
      if (failures.length > 0) {
        throw initFailure(failures, this.#entries);
      }
      // Still inside the run: an 'app:ready' handler that calls ready() joins it.
      this.events.emit('app:ready');
    } finally {
      // Cleared the moment the run ends (synchronously, not a tick later): a plugin registered
      // from then on starts a new run instead of joining one that can no longer initialise it.
      if (this.#readyRun === run) this.#readyRun = undefined;
    }
  }

  async #initOne(entry: Entry, failures: Entry[]): Promise<void> {
    const scope: InitScope = { controller: new AbortController(), undos: [], released: false };
    entry.state = 'initializing';
    entry.scope = scope;
    const name = entry.plugin.name;
    const context: PluginContext = {
      use: ((plugin: string | PluginClass) => this.use(plugin as string)) as PluginContext['use'],
      events: this.events,
      logger: scopedLogger(this.logger, name),
      signal: scope.controller.signal,
      onDispose: (disposer) => {
        if (typeof disposer !== 'function')
          throw invalidArgument('onDispose(disposer): disposer must be a function.');
        if (scope.released) this.#runLateDisposer(name, disposer);
        else scope.undos.push(disposer);
      },
    };
    try {
      await entry.plugin.init?.(context);
    } catch (error) {
      entry.state = 'failed';
      entry.error = error;
      failures.push(entry);
      const reason = new FluxyError('plugin/init-failed', `Plugin "${name}" failed to initialise.`, {
        cause: error,
      });
      for (const failure of await this.#release(entry, false, reason)) {
        this.#logError(`cleaning up after the failed init of "${name}" failed`, failure);
      }
      return;
    }
    if (this.disposed) {
      // The app was disposed while this init ran, and the init finished anyway (it ignored its
      // aborted signal): dispose the plugin now, so nothing it set up leaks.
      entry.state = 'registered';
      for (const error of await this.#release(entry, true)) {
        this.#logError(`disposing plugin "${name}" failed`, error);
      }
      return;
    }
    entry.state = 'ready';
    entry.error = undefined;
    this.#initOrder.push(entry);
    entry.markInitialized();
  }

  /**
   * Logs a failure the app itself reports. A logger that throws cannot stop what is under way
   * (a disposal, an event's other handlers): its error is dropped.
   */
  #logError(message: string, error: unknown): void {
    try {
      this.logger.error(message, error);
    } catch {}
  }

  /** Run a disposer recorded after its plugin was released, at once; its failure is logged. */
  #runLateDisposer(name: string, disposer: () => void | Promise<void>): void {
    const report = (error: unknown): void =>
      this.#logError(`a disposer of "${name}" registered after it was disposed failed`, error);
    try {
      Promise.resolve(disposer()).catch(report);
    } catch (error) {
      report(error);
    }
  }

  async #release(
    entry: Entry,
    callDispose: boolean,
    reason: FluxyError = disposedError(`Plugin "${entry.plugin.name}" was disposed.`),
  ): Promise<unknown[]> {
    const errors: unknown[] = [];
    const scope = entry.scope;
    if (!scope || scope.released) return errors;
    scope.released = true;
    scope.controller.abort(reason);
    for (const disposer of scope.undos.splice(0).reverse()) {
      try {
        await disposer();
      } catch (error) {
        errors.push(error);
      }
    }
    if (callDispose) {
      try {
        await entry.plugin.dispose?.();
      } catch (error) {
        errors.push(error);
      }
    }
    return errors;
  }

  async #runDispose(): Promise<void> {
    // An init still running is told to stop (its signal aborts) but not waited for: one that
    // ignores its signal would hold dispose() forever. #initOne disposes it when it settles.
    for (const entry of this.#entries.values()) {
      if (entry.state === 'initializing')
        entry.scope?.controller.abort(disposedError(`Plugin "${entry.plugin.name}" was disposed.`));
    }
    const run = this.#readyRun;
    this.#readyRun = undefined;
    run?.reject(
      disposedError('The app was disposed while ready() was running: create a new app with createApp().'),
    );
    this.#wakeReadyRun?.();
    this.events.emit('app:dispose');
    for (const entry of this.#initOrder.splice(0).reverse()) {
      const errors = await this.#release(entry, true);
      entry.state = 'registered';
      for (const error of errors) this.#logError(`disposing plugin "${entry.plugin.name}" failed`, error);
    }
    this.events.clear();
  }

  async #whenInitialized(plugin: Plugin): Promise<void> {
    if (this.disposed) {
      throw disposedError(
        `Plugin "${plugin.name}" was used after its app was disposed: create a new app with createApp().`,
      );
    }
    const entry = this.#entries.get(plugin.name);
    if (entry?.plugin !== plugin) {
      throw new FluxyError(
        'plugin/not-registered',
        `Plugin "${plugin.name}" is not registered with this app: register it before using it.`,
      );
    }
    const isReady = (): boolean => entry.state === 'ready';
    if (isReady()) return;
    // Wait for this plugin only, not for the whole app: an unrelated slow or failing plugin must
    // not hold up (or fail) a call to this one.
    try {
      await Promise.race([entry.initialized, this.ready()]);
    } catch (error) {
      if (!isReady()) throw error;
    }
    if (!isReady()) {
      throw new FluxyError(
        'plugin/init-failed',
        `Plugin "${plugin.name}" is not initialised: call app.ready().`,
      );
    }
  }

  /** The entry of a name or class; `invalid-argument` for anything else (use() and has() alike). */
  #find(plugin: string | PluginClass): Entry | undefined {
    if (typeof plugin === 'string') return this.#entries.get(plugin);
    if (!isClass(plugin)) {
      throw invalidArgument(
        'use(plugin) and has(plugin): pass a plugin class (use(SyncPlugin)) or a name (use("sync")).',
      );
    }
    for (const entry of this.#entries.values()) if (entry.plugin instanceof plugin) return entry;
    return undefined;
  }

  /** Throws `app/disposed` once `dispose()` was called (the stack names the method). */
  #assertAlive(): void {
    if (this.#disposal) {
      throw disposedError('This app was disposed: create a new app with createApp().');
    }
  }
}

/** Why `ready()` failed; `entries` names, in the message, the plugins the failures held back. */
function initFailure(failures: Entry[], entries: Map<string, Entry>): FluxyError {
  const first = failures[0]?.error;
  // The prose is one literal (the plugins held back are named by a call inside it), so the
  // production build (scripts/strip-prose.mjs) drops all of it.
  return new FluxyError(
    'plugin/init-failed',
    `Plugin ${failures.map((entry) => `"${entry.plugin.name}"`).join(', ')} failed to initialise: ${describeValue(first).replace(/[.\s]+$/, '')}.${heldBack(failures, entries)} Fix the cause and call ready() again.`,
    {
      cause:
        failures.length === 1
          ? first
          : new AggregateError(
              failures.map((e) => e.error),
              'several plugins failed',
            ),
    },
  );
}

/** For the message of {@link initFailure}: the plugins not initialised because of the failures. */
function heldBack(failures: Entry[], entries: Map<string, Entry>): string {
  const names = [...entries.values()]
    .filter((entry) => entry.state !== 'ready' && !failures.includes(entry))
    .map((entry) => `"${entry.plugin.name}"`);
  return names.length > 0 ? ` Not initialised because of it: ${names.join(', ')}.` : '';
}

/**
 * Create an isolated app: a plugin registry with its own events. Use one per test, per SSR
 * request, or whenever two apps must not share plugins.
 *
 * @example
 * const app = createApp();
 * app.register(new StoragePlugin());
 * await app.ready();
 */
export function createApp(options?: AppOptions): App {
  return new App(options);
}
