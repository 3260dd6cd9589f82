// @ts-check
/**
 * JSON-file persistence for the reference server.
 *
 * The whole database is one small JSON document. Every change is made on a copy, written with
 * an atomic replace (temp file → fsync → rename → fsync the directory), and only then becomes
 * the current document. So a crash at any moment leaves either the old or the new file on
 * disk, never half of one, and nobody ever reads a change that is not yet durable.
 *
 * This file knows nothing about HTTP, notes or idempotency keys.
 */
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

let tempCounter = 0;

/**
 * @template T
 */
export class JsonFileDatabase {
  /** @type {string | null} */
  #file;
  /** @type {T} */
  #current;
  /** Updates run one after another: each one starts from the document the previous one wrote. */
  /** @type {Promise<unknown>} */
  #queue = Promise.resolve();
  #closed = false;

  /**
   * @param {string | null} file
   * @param {T} initial
   */
  constructor(file, initial) {
    this.#file = file;
    this.#current = initial;
  }

  /**
   * Opens `file` (creating nothing until the first update), or an in-memory database when
   * `file` is null.
   * @template T
   * @param {string | null} file
   * @param {() => T} createEmpty used when the file does not exist yet
   * @returns {Promise<JsonFileDatabase<T>>}
   */
  static async open(file, createEmpty) {
    const loaded = file ? await readJsonFile(file) : undefined;
    return new JsonFileDatabase(file, loaded === undefined ? createEmpty() : /** @type {T} */ (loaded));
  }

  /** The last committed document. Treat it as read-only: change it through `update()`. */
  get current() {
    return this.#current;
  }

  /**
   * Runs `mutate` on a deep copy of the current document, persists the copy, then makes it
   * current. If `mutate` throws or the write fails, the current document is unchanged and the
   * promise rejects.
   * @template R
   * @param {(draft: T) => R | Promise<R>} mutate
   * @returns {Promise<R>}
   */
  update(mutate) {
    const run = this.#queue.then(async () => {
      if (this.#closed) throw new Error('The database is closed.');
      const draft = structuredClone(this.#current);
      const result = await mutate(draft);
      if (this.#file) await writeJsonFileAtomically(this.#file, draft);
      this.#current = draft;
      return result;
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Waits for the updates already queued, then refuses new ones. */
  async close() {
    this.#closed = true;
    await this.#queue;
  }
}

/**
 * @param {string} file
 * @returns {Promise<unknown>} the parsed document, or undefined when the file does not exist
 */
async function readJsonFile(file) {
  let text;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (/** @type {NodeJS.ErrnoException} */ (error).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    // Never start over an unreadable file: writing would destroy whatever is left in it.
    throw new Error(`The data file ${file} is not valid JSON. Fix it or move it away, then restart.`, {
      cause: error,
    });
  }
}

/**
 * @param {string} file
 * @param {unknown} value
 */
export async function writeJsonFileAtomically(file, value) {
  const directory = dirname(file);
  await mkdir(directory, { recursive: true });
  const temp = `${file}.${process.pid}.${++tempCounter}.tmp`;
  try {
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(JSON.stringify(value));
      await handle.sync(); // the bytes are on disk before the rename makes them visible
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
  await syncDirectory(directory);
}

/**
 * Makes the rename itself durable (POSIX). Some platforms (Windows) cannot open a directory;
 * there the rename is as durable as the OS makes it.
 * @param {string} directory
 */
async function syncDirectory(directory) {
  let handle;
  try {
    handle = await open(directory, 'r');
    await handle.sync();
  } catch {
    // best effort, see above
  } finally {
    await handle?.close();
  }
}
