import { FluxyPlugin } from '../../core/base-plugin.js';
import { FluxyError, isFluxyError } from '../../core/errors.js';
import type { PluginContext } from '../../core/plugin.js';
import type { StorageDriverName } from './drivers/open-driver.js';
import type { KeyValueStore, StorageChange } from './key-value-store.js';
import { NamespaceView } from './namespace-view.js';
import { openStore } from './open-store.js';
import { type ResolvedStorageOptions, resolveStorageOptions, type StorageOptions } from './options.js';
import type { RecordStore } from './record-store.js';
import { assertNamespace, namespaceSeparator } from './storage-keys.js';

/**
 * Persistent key-value storage over localforage, encrypted and authenticated when a `secret`
 * (or raw `key`) is given. Plugin name `storage`. Methods wait for the plugin's init, so they
 * work before an explicit `app.ready()`. A wrong secret fails init with `storage/wrong-secret`.
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

  /** @internal Opens the driver and the encryption; called by the app. */
  override async init(ctx: PluginContext): Promise<void> {
    this.#initError = undefined;
    try {
      const { store, driver } = await openStore(this.#options, ctx.logger);
      this.#store = store;
      this.#driver = driver;
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

  async get<T = unknown>(key: string): Promise<T | undefined> {
    return (await this.#opened()).get<T>(key);
  }

  async set(key: string, value: unknown): Promise<void> {
    return (await this.#opened()).set(key, value);
  }

  async remove(key: string): Promise<void> {
    return (await this.#opened()).remove(key);
  }

  /** See {@link KeyValueStore.commit}: several changes committed together. */
  async commit(changes: readonly StorageChange[]): Promise<void> {
    return (await this.#opened()).commit(changes);
  }

  async keys(prefix?: string): Promise<string[]> {
    return (await this.#opened()).keys(prefix);
  }

  async clear(prefix?: string): Promise<void> {
    return (await this.#opened()).clear(prefix);
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
    assertNamespace(prefix);
    return new NamespaceView(this, prefix + namespaceSeparator);
  }

  async #opened(): Promise<RecordStore> {
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
      throw new FluxyError(
        'app/disposed',
        'The storage plugin was disposed: create a new app and plugin to use storage again.',
      );
    }
    return store;
  }
}
