import type { ReadonlySignal } from '@preact/signals-core';
import { FluxyPlugin } from '../../core/base-plugin.js';
import { invalidArgument } from '../../core/errors.js';
import { checkOptions } from '../../core/input-checks.js';
import type { Logger } from '../../core/logger.js';
import type { BroadcastChannelLike } from '../../core/platform-types.js';
import type { PluginContext } from '../../core/plugin.js';
import { ConnectivityMonitor, type ConnectivityReason } from './monitor.js';
import { type ConnectivityOptions, isAbortSignal, PLUGIN_OPTION_KEYS } from './options.js';
import { browserPlatform } from './platform.js';

/**
 * An `isOnline` signal that does not lie. In browsers and workers it follows `navigator.onLine`
 * and the `online`/`offline` events; with a `probe`, "online" means the probe answered. In Node
 * it is online unless a probe or `setOnline()` says otherwise. Plugin name: `connectivity`.
 *
 * Throws `invalid-argument` (unknown option, wrong type) or `connectivity/invalid-probe`.
 *
 * @example
 * const connectivity = app.register(new ConnectivityPlugin({ probe: { url: '/api/health' } }));
 * effect(() => banner.hidden = connectivity.isOnline.value);
 */
export class ConnectivityPlugin extends FluxyPlugin {
  /** The registry name. */
  readonly name = 'connectivity';
  /**
   * Whether the network works, as far as we know; readable before init.
   * @default the `initial` option, else `false` with a probe (until it answers) and `true` without
   */
  declare readonly isOnline: ReadonlySignal<boolean>;
  /** When `isOnline` last changed, in ms since the epoch. */
  declare readonly lastChangedAt: ReadonlySignal<number>;
  /** What last decided `isOnline`, for UIs and logs. @default 'initial' */
  declare readonly reason: ReadonlySignal<ConnectivityReason>;

  #logger: Logger | undefined;
  readonly #monitor: ConnectivityMonitor;

  constructor(options: ConnectivityOptions = {}) {
    super();
    checkOptions(options, PLUGIN_OPTION_KEYS, (problem) =>
      invalidArgument(`new ConnectivityPlugin: options ${problem}, e.g. { probe: { url: '/health' } }.`),
    );
    // What a background probe's answer sets off and throws goes to the app's log (probes run
    // only once init gave one).
    // `options` as the prototype, not spread: an option read through a getter of its class counts too.
    this.#monitor = new ConnectivityMonitor({
      __proto__: options,
      onError: (error: unknown) => this.#logger?.error('an effect of a connectivity change threw', error),
    } as ConnectivityOptions);
    // isOnline, lastChangedAt and reason (declared above, no field code): the monitor's only own
    // enumerable properties (its state is in #fields, its methods on its prototype).
    Object.assign(this, this.#monitor);
  }

  /** Starts listening (and probing); called by the app. */
  override init(ctx: PluginContext): void {
    this.#logger = ctx.logger;
    const { location, BroadcastChannel: Channel } = globalThis as {
      location?: { href?: unknown };
      BroadcastChannel?: new (name: string) => BroadcastChannelLike;
    };
    this.#monitor.start({
      platform: browserPlatform(globalThis),
      baseUrl: typeof location?.href === 'string' ? location.href : undefined,
      channel: Channel,
    });
    ctx.onDispose(() => this.#monitor.dispose());
  }

  /**
   * Set the state by hand (React Native NetInfo, Capacitor, Electron, tests). Synchronous, works
   * before init, stops probing until the platform or `check()` asks again. Throws
   * `invalid-argument` for a non-boolean and `app/disposed` once the app was disposed (like
   * `check()` and `waitForOnline()`), leaving the state unchanged.
   *
   * @example NetInfo.addEventListener((s) => connectivity.setOnline(s.isConnected === true));
   */
  setOnline(online: boolean): void {
    this.throwIfDisposed('setOnline');
    this.#monitor.setOnline(online);
  }

  /**
   * Probe now (sharing a probe in flight); without a probe, re-read the platform. Initialises the
   * app if needed. Resolves with `isOnline`.
   *
   * @example if (await connectivity.check()) await sync.flush();
   */
  async check(): Promise<boolean> {
    await this.whenReady();
    return this.#monitor.check();
  }

  /**
   * A request failed at the network level (fetch threw, or timed out). With a probe: offline at
   * once, then probe with backoff until it answers. Without one: nothing changes, `isOnline`
   * keeps following the platform. No-op before init and after dispose (an HTTP layer may still
   * be finishing its requests).
   *
   * @example try { await fetch(url); } catch (error) { connectivity.reportFailure(); throw error; }
   */
  reportFailure(): void {
    this.#monitor.reportFailure();
  }

  /**
   * Resolves when online (at once if already, after init). Rejects with `signal.reason` when
   * `signal` aborts, `invalid-argument` for a non-signal, `app/disposed` on dispose.
   *
   * @example await connectivity.waitForOnline(AbortSignal.timeout(10_000));
   */
  async waitForOnline(signal?: AbortSignal): Promise<void> {
    if (signal !== undefined && !isAbortSignal(signal)) {
      throw invalidArgument('waitForOnline(signal): signal must be an AbortSignal.');
    }
    await this.whenReady();
    return this.#monitor.waitForOnline(signal);
  }
}
