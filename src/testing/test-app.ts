import { type App, type AppOptions, createApp } from '../core/app.js';
import { invalidArgument } from '../core/errors.js';
import { checkOptions, describeInput } from '../core/input-checks.js';
import { type StorageOptions, StoragePlugin } from '../plugins/storage/index.js';
import { type SyncOptions, SyncPlugin } from '../plugins/sync/index.js';
import { TestConnectivity } from './connectivity.js';
import { type SettledOptions, settled } from './settled.js';

/** Options of {@link createTestApp}. */
export interface TestAppOptions {
  /** Options of the SyncPlugin (usually `{ baseUrl: server.url }`). @default {} */
  sync?: SyncOptions;
  /**
   * Options of the StoragePlugin, on the `memory` driver unless they name another (`driver`, or
   * `dir` or `indexedDB`, which choose one): `{ secret }` is encrypted and still in memory.
   * @default { driver: 'memory' } — give `{ driver: 'indexeddb', indexedDB }` (fake-indexeddb) to
   * keep data across a simulated restart.
   */
  storage?: StorageOptions;
  /** Whether the app starts online. @default true */
  online?: boolean;
  /** Options of the app itself (a logger, …). @default {} */
  app?: AppOptions;
}

/** What {@link createTestApp} returns: the app, its plugins, and helpers bound to it. */
export interface TestApp {
  readonly app: App;
  readonly storage: StoragePlugin;
  readonly connectivity: TestConnectivity;
  readonly sync: SyncPlugin;
  /** The device loses the network. */
  goOffline(): void;
  /** The network is back: Sync starts sending. */
  goOnline(): void;
  /** {@link settled} for this app. */
  settled(options?: SettledOptions): Promise<void>;
  /** Disposes the app (timers, listeners, storage). */
  dispose(): Promise<void>;
}

/**
 * An isolated app for a test, ready to use: in-memory storage, a {@link TestConnectivity} and a
 * SyncPlugin, registered on a fresh `createApp()` (never the default app) and initialised.
 * Register your own plugins or controllers on `app` next to them. Rejects with
 * `invalid-argument`, making no app, for options it does not know (a typo) or of the wrong type
 * (the plugins check their own options).
 *
 * @example
 * const server = await FaultServer.start();
 * const t = await createTestApp({ sync: { baseUrl: server.url }, online: false });
 * await t.sync.queue('POST', '/notes', { body: { title: 'Groceries' } });
 * t.goOnline();
 * await t.settled();
 * await t.dispose();
 */
export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const refuse = (problem: string) =>
    invalidArgument(
      `createTestApp(options): ${problem}, e.g. { sync: { baseUrl: server.url }, online: false }.`,
    );
  const { online } = checkOptions(options, ['sync', 'storage', 'online', 'app'], (problem) =>
    refuse(`options ${problem}`),
  );
  if (online !== undefined && typeof online !== 'boolean')
    throw refuse(`online must be true or false (got ${describeInput(online)})`);
  const app = createApp(options.app);
  const storage = app.register(new StoragePlugin(onMemory(options.storage)));
  const connectivity = app.register(new TestConnectivity({ online: options.online ?? true }));
  const sync = app.register(new SyncPlugin(options.sync));
  try {
    await app.ready();
  } catch (error) {
    await app.dispose();
    throw error;
  }
  return {
    app,
    storage,
    connectivity,
    sync,
    goOffline: () => connectivity.goOffline(),
    goOnline: () => connectivity.goOnline(),
    settled: (settledOptions) => settled(app, settledOptions),
    dispose: () => app.dispose(),
  };
}

/** Numbers the in-memory databases of the test apps of this process. */
let memoryApps = 0;

/**
 * Storage options on the `memory` driver unless they choose one: Node's default driver would be
 * `file`, under `.fluxy/` in the working folder, which keeps a test's queue for the next run.
 * An in-memory database gets a name of its own (`fluxy-test-<n>`) unless the options give one:
 * the tabs of one database talk over channels named after it (the outbox's state, a collection's
 * rows), and two test apps, each with its own memory, are two devices, never two tabs — under one
 * name, an offline app showed the rows another had pulled, and another's 401 paused it.
 * Anything but a plain object goes as given, for StoragePlugin to refuse.
 */
function onMemory(storage: StorageOptions | undefined): StorageOptions | undefined {
  const given = storage ?? {};
  const prototype = typeof given === 'object' && given !== null && Object.getPrototypeOf(given);
  const plain = prototype === Object.prototype || prototype === null;
  const chooses = ['driver', 'dir', 'indexedDB'].some(
    (name) => plain && (given as Record<string, unknown>)[name] !== undefined,
  );
  if (!plain || chooses) return storage;
  return { name: `fluxy-test-${++memoryApps}`, ...given, driver: 'memory' };
}
