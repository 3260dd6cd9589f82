import { invalidArgument } from '../core/errors.js';
import { checkOptions, describeInput } from '../core/input-checks.js';
import type { PluginContext } from '../core/plugin.js';
import { ConnectivityPlugin } from '../plugins/connectivity/index.js';

/** Options of {@link TestConnectivity}. */
export interface TestConnectivityOptions {
  /** Whether the app starts online. @default true */
  online?: boolean;
}

/**
 * The connectivity plugin for tests (plugin name `connectivity`): online or offline because the
 * test says so, whatever the platform (`navigator.onLine`, a DOM environment) reports at init or
 * on `check()`. (`online`/`offline` events the test itself dispatches on `window` still count, as
 * the platform's.) Sync reacts to it as to a real network change: going online starts a flush.
 *
 * @example
 * const connectivity = app.register(new TestConnectivity({ online: false }));
 * await notes.add('written offline');   // queued, not sent
 * connectivity.goOnline();              // sent now
 * await settled(app);
 */
export class TestConnectivity extends ConnectivityPlugin {
  #online: boolean;

  constructor(options: TestConnectivityOptions = {}) {
    const refuse = (problem: string) =>
      invalidArgument(`new TestConnectivity(options): ${problem}, e.g. { online: false }.`);
    const given = checkOptions(options, ['online'], (problem) => refuse(`options ${problem}`));
    if (given.online !== undefined && typeof given.online !== 'boolean')
      throw refuse(`online must be true or false (got ${describeInput(given.online)})`);
    const online = options.online ?? true;
    super({ initial: online });
    this.#online = online;
  }

  /** Starts like the real plugin, then restores the state the test chose. */
  override init(ctx: PluginContext): void {
    super.init(ctx);
    this.setOnline(this.#online);
  }

  /** The device loses the network: `isOnline` turns false, nothing is sent. */
  goOffline(): void {
    this.#online = false;
    this.setOnline(false);
  }

  /** The network is back: `isOnline` turns true and Sync starts sending. */
  goOnline(): void {
    this.#online = true;
    this.setOnline(true);
  }

  /**
   * Resolves with the state the test chose: it reads no platform (in a DOM environment such as
   * happy-dom or jsdom, `navigator.onLine` is true, which would turn a test offline app online).
   */
  override async check(): Promise<boolean> {
    await this.whenReady();
    return this.isOnline.value;
  }
}
