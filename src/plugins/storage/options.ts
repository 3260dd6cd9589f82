import { invalidArgument } from '../../core/errors.js';
import { checkOptions, hasLoneSurrogate } from '../../core/input-checks.js';
import type { CipherEngine } from './cipher.js';
import type { Credentials } from './database-metadata.js';
import type { LocalForageLike } from './drivers/localforage-driver.js';
import { driverNames, type StorageDriverName } from './drivers/open-driver.js';
import { storageError } from './errors.js';
import { defaultIterations, minIterations } from './record-keys.js';

const maxIterations = 10_000_000;

/**
 * Options of {@link StoragePlugin}.
 *
 * @example
 * new StoragePlugin({ name: 'notes', secret: userPassphrase });
 * new StoragePlugin({ driver: 'memory' });                      // tests
 * new StoragePlugin({ driver: 'file', dir: './data' });         // Node CLI
 */
export interface StorageOptions {
  /** The database name (IndexedDB database, localStorage key prefix, or folder under `dir`). @default 'fluxy' */
  name?: string;
  /** Encrypts and authenticates every value with keys derived from this passphrase (PBKDF2-SHA256). @default none (values stored in clear) */
  secret?: string;
  /** A random 32-byte key used instead of `secret` (no derivation; keep it somewhere safe, e.g. a non-extractable store). @default none */
  key?: Uint8Array;
  /** PBKDF2 iterations for a new database (an existing one keeps its stored count); at least 10,000. @default 600000 */
  iterations?: number;
  /**
   * The driver; by default IndexedDB where it exists, else `file` in Node, else `localstorage`
   * (with a warning). A localforage instance runs Fluxy on any localforage driver (SQLite on
   * Capacitor/Cordova, …); the instance's own name and store are used, and `name` is not.
   * @default automatic
   */
  driver?: StorageDriverName | LocalForageLike;
  /** The folder of the `file` driver (one sub-folder per database); refused with another explicit `driver`. @default '.fluxy' */
  dir?: string;
  /** Bytes (UTF-8 of keys and stored values) the `memory` and `file` drivers may hold; browsers enforce their own (refused with another explicit `driver`). @default unlimited */
  quota?: number;
  /** The crypto engine, with a `secret` or `key`; by default WebCrypto where `crypto.subtle` exists, else crypto-js. @default automatic */
  engine?: CipherEngine;
  /** The IndexedDB factory to use (e.g. `new IDBFactory()` from fake-indexeddb); refused with another explicit `driver`. @default globalThis.indexedDB */
  indexedDB?: IDBFactory;
}

/** Validated options with defaults applied. @internal */
export interface ResolvedStorageOptions {
  readonly name: string;
  readonly credentials: Credentials | undefined;
  readonly driver: StorageDriverName | LocalForageLike | undefined;
  readonly dir: string;
  readonly quota: number | undefined;
  readonly engine: CipherEngine | undefined;
  readonly indexedDB: IDBFactory | undefined;
}

/** The methods a {@link LocalForageLike} must have. */
const localForageMethods = ['ready', 'getItem', 'setItem', 'removeItem', 'keys', 'clear'];

const known: ReadonlyArray<keyof StorageOptions & string> = [
  'name',
  'secret',
  'key',
  'iterations',
  'driver',
  'dir',
  'quota',
  'engine',
  'indexedDB',
];

/**
 * Checks every option before anything is opened. Throws `invalid-argument` for malformed
 * options, `storage/unknown-driver` and `storage/invalid-secret` for their cases. @internal
 */
export function resolveStorageOptions(options: unknown): ResolvedStorageOptions {
  const given = checkOptions(options, known, (problem) =>
    invalidArgument(`new StoragePlugin(options): options ${problem}, e.g. { name: "app" }.`),
  );
  const { name = 'fluxy', secret, key, iterations, driver, dir = '.fluxy', quota, engine, indexedDB } = given;
  if (typeof name !== 'string' || name.trim() === '' || name.length > 100 || hasLoneSurrogate(name)) {
    throw invalidArgument(
      'new StoragePlugin({ name }): name must be a non-empty string of at most 100 characters.',
    );
  }
  const instance =
    typeof driver === 'object' && driver !== null
      ? localForageMethods.every(
          (method) => typeof (driver as Record<string, unknown>)[method] === 'function',
        )
      : undefined;
  // (An object that is no localforage instance is no driver name either: one check.)
  if (driver !== undefined && !instance && !driverNames.includes(driver as StorageDriverName)) {
    throw storageError(
      'storage/unknown-driver',
      `new StoragePlugin({ driver }): ${
        instance === false
          ? `an object given as driver must be a localforage instance (with ${localForageMethods.join(', ')})`
          : `unknown driver ${JSON.stringify(driver)}; use one of ${driverNames.map((d) => `"${d}"`).join(', ')}, or omit it`
      }.`,
    );
  }
  // With an explicit driver, an option only other drivers read is a mistake, not a no-op.
  if (
    driver !== undefined &&
    ((given.dir !== undefined && driver !== 'file') ||
      (quota !== undefined && driver !== 'memory' && driver !== 'file') ||
      (indexedDB !== undefined && driver !== 'indexeddb'))
  ) {
    throw invalidArgument(
      `new StoragePlugin(options): dir applies only to the file driver, quota to the memory and file drivers, indexedDB to the indexeddb driver, and driver is ${instance ? 'a localforage instance' : `"${String(driver)}"`}: remove the option that does not apply, or change driver.`,
    );
  }
  // One check, one throw in the production build (the message, which says which, is left out).
  if (
    typeof dir !== 'string' ||
    dir === '' ||
    (quota !== undefined && !(Number.isSafeInteger(quota) && (quota as number) > 0)) ||
    (engine !== undefined && engine !== 'webcrypto' && engine !== 'crypto-js') ||
    (indexedDB !== undefined && typeof (indexedDB as { open?: unknown } | null)?.open !== 'function')
  ) {
    throw invalidArgument(
      `new StoragePlugin(options): ${
        typeof dir !== 'string' || dir === ''
          ? 'dir must be a non-empty folder path'
          : quota !== undefined && !(Number.isSafeInteger(quota) && (quota as number) > 0)
            ? 'quota must be a positive whole number of bytes'
            : engine !== undefined && engine !== 'webcrypto' && engine !== 'crypto-js'
              ? 'engine must be "webcrypto" or "crypto-js", or omitted'
              : 'indexedDB must be an IDBFactory'
      }.`,
    );
  }
  return {
    name,
    credentials: resolveCredentials(secret, key, iterations, engine),
    driver: driver as StorageDriverName | LocalForageLike | undefined,
    dir,
    quota: quota as number | undefined,
    engine: engine as CipherEngine | undefined,
    indexedDB: indexedDB as IDBFactory | undefined,
  };
}

function resolveCredentials(
  secret: unknown,
  key: unknown,
  iterations: unknown,
  engine: unknown,
): Credentials | undefined {
  if (iterations !== undefined && secret === undefined) {
    throw invalidArgument(
      'new StoragePlugin({ iterations }): iterations only applies with a secret; remove it.',
    );
  }
  if (secret !== undefined) {
    // One check, one throw in the production build (the message, which says which, is left out).
    if (
      (iterations !== undefined &&
        (!Number.isInteger(iterations) ||
          (iterations as number) < minIterations ||
          (iterations as number) > maxIterations)) ||
      key !== undefined ||
      typeof secret !== 'string' ||
      secret.trim() === '' ||
      hasLoneSurrogate(secret)
    ) {
      throw storageError(
        'storage/invalid-secret',
        `new StoragePlugin(options): ${
          key !== undefined
            ? 'pass either `secret` or `key`, not both'
            : typeof secret !== 'string' || secret.trim() === '' || hasLoneSurrogate(secret)
              ? 'the secret must be a string with more than whitespace in it (e.g. a passphrase the user types); omit it to store values unencrypted'
              : `iterations must be a whole number from ${minIterations} to ${maxIterations} (got ${String(iterations)}); omit it for the default ${defaultIterations}`
        }.`,
      );
    }
    return { kind: 'secret', secret, iterations: (iterations as number | undefined) ?? defaultIterations };
  }
  if (key !== undefined) {
    if (!(key instanceof Uint8Array) || key.length !== 32) {
      throw storageError(
        'storage/invalid-secret',
        `new StoragePlugin({ key }): the key must be a Uint8Array of exactly 32 random bytes (got ${key instanceof Uint8Array ? `${key.length} bytes` : typeof key}); e.g. crypto.getRandomValues(new Uint8Array(32)).`,
      );
    }
    return { kind: 'key', key: key.slice() };
  }
  if (engine !== undefined) {
    throw invalidArgument(
      'new StoragePlugin({ engine }): engine only applies with a secret or key (it is the encryption engine); remove it.',
    );
  }
  return undefined;
}
