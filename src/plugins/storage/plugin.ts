import type { ReadonlySignal } from '@preact/signals-core';
import { FluxyPlugin } from '../../core/base-plugin.js';
import { disposedError, invalidArgument, isFluxyError, publish } from '../../core/errors.js';
import { EventBus, type Unsubscribe } from '../../core/events.js';
import type { Logger } from '../../core/logger.js';
import type { PluginContext } from '../../core/plugin.js';
import { signal } from '../../core/signals-core.js';
import type { StorageDriverName } from './drivers/open-driver.js';
import type { KeyValueStore, StorageChange } from './key-value-store.js';
import { NamespaceView } from './namespace-view.js';
import { openStore } from './open-store.js';
import { type ResolvedStorageOptions, resolveStorageOptions, type StorageOptions } from './options.js';
import type { RecordStore } from './record-store.js';
import { assertKey, namespaceSeparator } from './storage-keys.js';

/**
 * The database this app used is gone (see `storage.lost`). `when`: `'between-runs'` — found at
 * open (the wiped database's leftovers were deleted; storage goes on, empty); `'while-running'` —
 * deleted under the running app (every later call fails with `storage/lost`: reload). `at`: ms
 * since epoch.
 *
 * @example
 * storage.on('storageLost', ({ when }) => showBanner(when === 'while-running' ? 'reload' : 'data cleared'));
 */
export interface StorageLoss {
  readonly when: 'between-runs' | 'while-running';
  readonly at: number;
}

/** The events of `storage.on()`. */
export interface StorageEvents {
  /** The database was wiped: between runs (reported during init) or under the running app. */
  storageLost: StorageLoss;
}

/**
 * Whether the browser may evict this origin's storage under pressure: `'persisted'` (it will
 * not without asking the user), `'best-effort'` (it may), `'unsupported'` (no
 * `navigator.storage` here: Node, an insecure context, an old browser).
 */
export type StoragePersistence = 'persisted' | 'best-effort' | 'unsupported';

/**
 * Persistent key-value storage over localforage, encrypted and authenticated when a `secret`
 * (or raw `key`) is given. Plugin name `storage`. Methods wait for the plugin's init, so they
 * work before an explicit `app.ready()`. A wrong secret fails init: `app.ready()` rejects with
 * `plugin/init-failed`, its `cause` `storage/wrong-secret`.
 *
 * @example
 * const storage = app.register(new StoragePlugin({ secret: passphrase }));
 * await storage.set('settings', { theme: 'dark' });
 * const notes = storage.namespace('notes'); // keys under 'notes/'
 */
export class StoragePlugin extends FluxyPlugin implements KeyValueStore {
  readonly name = 'storage';
  readonly #options: ResolvedStorageOptions;
  #store: RecordStore | undefined;
  #driver: StorageDriverName | 'localforage' | undefined;
  #initError: unknown;
  #logger: Logger | undefined;
  /** Calls that wait for init and have not reached the store yet, and their wait (see {@link #call}). */
  #waiting = 0;
  #opening: Promise<RecordStore> | undefined;
  readonly #lost = signal<StorageLoss | null>(null);
  readonly #events = new EventBus<StorageEvents>((event, error) =>
    this.#logger?.error(`a "storage.on('${event}')" handler threw`, error),
  );

  /** Validates the options at once (bad options throw here, before registration). */
  constructor(options: StorageOptions = {}) {
    super();
    this.#options = resolveStorageOptions(options);
  }

  /**
   * The driver in use once initialised (after a fallback, the fallback's name; `'localforage'`
   * for an instance given as `driver`); `undefined` before.
   */
  get driver(): StorageDriverName | 'localforage' | undefined {
    return this.#driver;
  }

  /** The database name (the `name` option). @default 'fluxy' */
  get databaseName(): string {
    return this.#options.name;
  }

  /** True when values are encrypted at rest (a `secret` or `key` was given). */
  get encrypted(): boolean {
    return this.#options.credentials !== undefined;
  }

  /**
   * `null` while the database is the one this app had; a {@link StorageLoss} once it was found
   * wiped — at init (between runs) or under the running app. Between runs, Fluxy knows of the
   * earlier database from a hint kept outside it (`localStorage` for IndexedDB, a file beside the
   * folder for the file driver): a wipe that also removed the hint looks like a first run.
   */
  get lost(): ReadonlySignal<StorageLoss | null> {
    return this.#lost;
  }

  /**
   * Listen to `storageLost`; returns the unsubscribe function. Subscribe before `ready()` to hear
   * a loss found at init (or read `storage.lost` afterwards). Throws `app/disposed` once the app
   * was disposed (the handler could never run).
   *
   * @example storage.on('storageLost', (loss) => console.warn('offline data lost', loss.when));
   */
  on<K extends keyof StorageEvents>(event: K, handler: (payload: StorageEvents[K]) => void): Unsubscribe {
    this.throwIfDisposed('on');
    if (event !== 'storageLost')
      throw invalidArgument(`storage.on(): unknown event "${String(event)}". Events: storageLost.`);
    return this.#events.on(event, handler);
  }

  /**
   * Ask the browser not to evict this origin's storage (`navigator.storage.persist()`); resolves
   * with the answer. Browsers may grant it silently (an installed app, a bookmarked site) or
   * prompt; call it on a user's gesture. A refusal or a failure resolves `'best-effort'`. Rejects
   * with `app/disposed` once the app was disposed, as every other method does.
   *
   * @example if ((await storage.requestPersistence()) !== 'persisted') showBackupHint();
   */
  requestPersistence(): Promise<StoragePersistence> {
    return this.#ask('requestPersistence');
  }

  /**
   * Whether this origin's storage is already persisted (`navigator.storage.persisted()`), without
   * asking. Rejects with `app/disposed` once the app was disposed.
   */
  persistence(): Promise<StoragePersistence> {
    return this.#ask('persistence');
  }

  /** persistence.ts's answer to `method`, loaded at the first call (off the start-up path). */
  async #ask(method: 'requestPersistence' | 'persistence'): Promise<StoragePersistence> {
    this.throwIfDisposed(method);
    return (await import('./persistence.js')).askStorageManager(method);
  }

  /** @internal Opens the driver and the encryption; called by the app. */
  override async init(ctx: PluginContext): Promise<void> {
    this.#initError = undefined;
    this.#logger = ctx.logger;
    try {
      const { store, driver, lost } = await openStore(this.#options, ctx.logger, () =>
        this.#reportLost('while-running'),
      );
      this.#store = store;
      this.#driver = driver;
      if (lost) this.#reportLost('between-runs');
    } catch (error) {
      this.#initError = error;
      throw error;
    }
  }

  /** @internal Closes the driver; called by the app's `dispose()`. */
  async dispose(): Promise<void> {
    const store = this.#store;
    this.#store = undefined;
    await store?.close();
  }

  get<T = unknown>(key: string): Promise<T | undefined> {
    return this.#call((store) => store.get<T>(key));
  }

  set(key: string, value: unknown): Promise<void> {
    return this.#call((store) => store.set(key, value));
  }

  remove(key: string): Promise<void> {
    return this.#call((store) => store.remove(key));
  }

  /** See {@link KeyValueStore.commit}: several changes committed together. */
  commit(changes: readonly StorageChange[]): Promise<void> {
    return this.#call((store) => store.commit(changes));
  }

  keys(prefix?: string): Promise<string[]> {
    return this.#call((store) => store.keys(prefix));
  }

  clear(prefix?: string): Promise<void> {
    return this.#call((store) => store.clear(prefix));
  }

  /**
   * A view whose keys live under `prefix/`; usable at once, its calls wait for init too. `U`
   * types its values, as the caller declares them.
   *
   * @example
   * const notes = storage.namespace<Note>('notes');
   * const note = await notes.get('n1'); // Note | undefined
   */
  namespace<U = unknown>(prefix: string): KeyValueStore<U> {
    assertKey(prefix, 'namespace');
    return new NamespaceView(this, prefix + namespaceSeparator);
  }

  #reportLost(when: StorageLoss['when']): void {
    if (this.#lost.peek()?.when === 'while-running') return;
    this.#logger?.warn(
      'The database was wiped (site data cleared, evicted, its folder removed): what it held is gone, nothing of it is used. See storage.lost:',
      when, // all the production build keeps
    );
    const loss: StorageLoss = { when, at: Date.now() };
    publish(() => {
      this.#lost.value = loss;
    });
    this.#events.emit('storageLost', loss);
  }

  /**
   * Runs `use` on the open store, at once once initialised: a value is then read (and checked)
   * when it is given, not a microtask later when the caller may have changed it, and a call made
   * before `app.dispose()` reaches the store before it closes (its `close()` waits for it). Calls
   * made before init wait for it; while one of them has not reached the store, later calls wait
   * behind it, so every call reaches the store in call order.
   */
  #call<T>(use: (store: RecordStore) => Promise<T>): Promise<T> {
    if (this.#store && !this.#waiting) return use(this.#store);
    this.#waiting++;
    const done = (): void => {
      this.#waiting--;
      this.#opening = undefined; // a call made from now on waits anew, after these
    };
    // One wait shared by the calls made meanwhile: they resume in call order.
    this.#opening ??= this.#opened();
    return this.#opening.then(
      (store) => {
        done();
        return use(store);
      },
      (error: unknown) => {
        done();
        throw error;
      },
    );
  }

  /** The open store, once init is over. */
  async #opened(): Promise<RecordStore> {
    if (!this.#store)
      try {
        await this.whenReady();
      } catch (error) {
        // Surface the storage error itself (e.g. storage/wrong-secret), not the registry's wrapper.
        throw isFluxyError(error, 'plugin/init-failed') && this.#initError !== undefined
          ? this.#initError
          : error;
      }
    const store = this.#store;
    if (!store) {
      throw disposedError(
        'The storage plugin was disposed: create a new app and plugin to use storage again.',
      );
    }
    return store;
  }
}
