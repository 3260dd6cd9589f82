/** One change of a {@link StorageBackend.writeBatch}: store `value` under `key`, or delete `key` when `value` is absent or `undefined`. */
export interface StorageWrite {
  readonly key: string;
  readonly value?: string | undefined;
}

/**
 * The raw string operations under a store: what each driver provides and what the record
 * store is built on. Values are opaque strings (the record format lives above this layer).
 *
 * @example
 * const backend = new MemoryDriver();
 * await backend.setItem('a', '{"v":1,"value":1}');
 */
export interface StorageBackend {
  /** The stored string, or `undefined` when the key is absent. */
  getItem(key: string): Promise<string | undefined>;
  /** Stores `value`; resolves only once the driver committed it. */
  setItem(key: string, value: string): Promise<void>;
  /** Every key, in no particular order, without reading values. */
  keys(): Promise<string[]>;
  /**
   * Applies several writes in order and resolves once all are committed — in one transaction
   * where the driver has them (IndexedDB: all or nothing), otherwise one after the other, each
   * atomic (file: temp files written and fsynced together, renamed in order, one folder fsync;
   * localforage: the changes before a failed one put back). A quota failure changes nothing.
   */
  writeBatch(writes: readonly StorageWrite[]): Promise<void>;
  /**
   * Stores `value` under `key` only if the key is absent, atomically where the driver allows
   * (IndexedDB `add`, a file `link`); resolves `false`, changing nothing, if the key exists. For
   * records two tabs or processes may create at once (an encrypted database's salt).
   */
  insertIfAbsent(key: string, value: string): Promise<boolean>;
  /** Deletes every key. */
  clear(): Promise<void>;
  /** Releases connections and handles. The backend is unusable afterwards. */
  close(): Promise<void>;
  /**
   * Where this database's generation id is remembered outside it (the file driver: a file beside
   * its folder), so a database wiped between runs can be told from a first run. Optional.
   */
  readonly hint?: GenerationHint | undefined;
  /**
   * Asked after a failure: true when the database itself is gone (file: its folder removed while
   * its hint file stays), not merely unreachable.
   */
  gone?(): Promise<boolean>;
  /** Calls `listener` when the driver learns that its database was deleted under it (IndexedDB). */
  onGone?(listener: () => void): void;
}

/** A generation id kept outside the database (see {@link StorageBackend.hint}). @internal */
export interface GenerationHint {
  read(): Promise<string | undefined>;
  write(id: string): Promise<void>;
  /**
   * IndexedDB's hint (in `localStorage`): truthy when a run that fell back to localStorage left
   * records of this database there, to merge at open (fallback-merge.ts).
   */
  readonly fallback?: string | null;
}

/**
 * A key (or database name) this driver cannot store, such as one too long for a file name;
 * `message` says why and what to do. Drivers report failures as plain errors: the store
 * (`toStorageError`) turns one named `UnstorableKeyError` into `storage/invalid-key`, keeping its
 * message, as it turns a `QuotaExceededError` into `storage/quota-exceeded`. @internal
 */
export function unstorableKey(message: string): Error {
  const error = new Error(message);
  error.name = 'UnstorableKeyError';
  return error;
}

/** A quota failure, shaped like the browser's DOMException so one check recognises both. @internal */
export function quotaExceeded(quota: number, needed: number): Error {
  const error = new Error(`quota of ${quota} bytes exceeded: ${needed} bytes needed`);
  error.name = 'QuotaExceededError';
  return error;
}

/** Bytes a record occupies for quota accounting: UTF-8 of key and value. @internal */
export function recordSize(key: string, value: string): number {
  const encoder = new TextEncoder();
  return encoder.encode(key).length + encoder.encode(value).length;
}
