import { decodeFileName, encodeFileName } from './file-names.js';
import {
  type GenerationHint,
  quotaExceeded,
  recordSize,
  type StorageBackend,
  type StorageWrite,
  unstorableKey,
} from './storage-backend.js';

type FileSystem = typeof import('node:fs/promises');
type Path = typeof import('node:path');

const recordFile = /^k-(.*)\.rec$/;
const tempFile = /\.tmp$/;

/** Options of {@link FileDriver.open}. */
export interface FileDriverOptions {
  /** The folder holding one sub-folder per database. */
  readonly dir: string;
  /** The database name (its folder is the file-name-safe encoding of it). */
  readonly name: string;
  /** Bytes (UTF-8 of keys and values) the database may hold. @default unlimited */
  readonly quota?: number | undefined;
}

/**
 * A {@link StorageBackend} on the Node file system: one folder per database, one file per key
 * (`k-<encoded key>.rec`). Each write is atomic and durable: write a temp file, fsync it, rename
 * it over the record, fsync the folder; so a crash leaves the old or the new record, never a
 * torn one. Leftover temp files are deleted at open. Mutations run one at a time, in call order.
 * Node modules are imported when a database is opened, never at module load.
 *
 * @example
 * const backend = await FileDriver.open({ dir: '.fluxy', name: 'fluxy' });
 */
export class FileDriver implements StorageBackend {
  readonly #fs: FileSystem;
  readonly #path: Path;
  readonly #folder: string;
  readonly #quota: number | undefined;
  readonly #sizes: Map<string, number>;
  #used: number;
  #tail: Promise<unknown> = Promise.resolve();
  /**
   * The generation id in `<folder>.generation` beside the database's folder (a `.` never appears
   * in a folder name, so it is no other database's): it survives the folder being deleted.
   */
  readonly hint: GenerationHint;

  private constructor(
    fs: FileSystem,
    path: Path,
    folder: string,
    quota: number | undefined,
    sizes: Map<string, number>,
  ) {
    this.#fs = fs;
    this.#path = path;
    this.#folder = folder;
    this.#quota = quota;
    this.#sizes = sizes;
    this.#used = [...sizes.values()].reduce((total, size) => total + size, 0);
    const hintFile = `${folder}.generation`;
    this.hint = {
      read: () =>
        fs.readFile(hintFile, 'utf8').catch((error: unknown) => {
          if (codeOf(error) === 'ENOENT') return undefined;
          throw error;
        }),
      write: async (id) => {
        const temp = path.join(folder, tempName()); // a leftover is deleted at the next open
        await this.#writeDurably(temp, id);
        await fs.rename(temp, hintFile);
      },
    };
  }

  /**
   * The folder was deleted while its hint file stays: the database is gone. When both are
   * missing (the whole `dir` moved away, a disk unmounted) it is only unreachable for now.
   */
  async gone(): Promise<boolean> {
    // One listing of the parent: two separate checks could straddle a move of the whole `dir`.
    const name = this.#path.basename(this.#folder);
    const entries = await this.#fs.readdir(this.#path.dirname(this.#folder)).catch(() => [name]);
    return !entries.includes(name) && entries.includes(`${name}.generation`);
  }

  /** Opens (creating if needed) the database folder and deletes leftover temp files. */
  static async open(options: FileDriverOptions): Promise<FileDriver> {
    const [fs, path] = await Promise.all([import('node:fs/promises'), import('node:path')]);
    let folderName: string;
    try {
      folderName = encodeFileName(options.name);
    } catch {
      throw unstorableKey(
        `The database name "${options.name.slice(0, 40)}…" is too long for the file driver (its folder name would pass 240 characters): use a shorter \`name\`.`,
      );
    }
    const folder = path.resolve(options.dir, folderName);
    await fs.mkdir(folder, { recursive: true });
    const sizes = new Map<string, number>();
    for (const entry of await fs.readdir(folder)) {
      if (tempFile.test(entry)) {
        // A temp file of a live process (another instance on this folder) is a write in progress.
        if (!writerIsAlive(entry)) await fs.rm(path.join(folder, entry), { force: true });
        continue;
      }
      const key = decodeKey(entry);
      if (key !== undefined && options.quota !== undefined) {
        const { size } = await fs.stat(path.join(folder, entry));
        sizes.set(key, new TextEncoder().encode(key).length + size);
      }
    }
    return new FileDriver(fs, path, folder, options.quota, sizes);
  }

  async getItem(key: string): Promise<string | undefined> {
    try {
      return await this.#fs.readFile(this.#file(key), 'utf8');
    } catch (error) {
      // An absent record, unless the whole folder is gone (moved, unmounted): that is no empty
      // database but an unavailable one, and must not read as "this record was removed".
      if (codeOf(error) === 'ENOENT' && (await this.#folderExists())) return undefined;
      throw error;
    }
  }

  setItem(key: string, value: string): Promise<void> {
    return this.writeBatch([{ key, value }]);
  }

  /**
   * Writes (and fsyncs) every new value to its own temp file at once, then renames them over their
   * records and deletes removed keys in order, then fsyncs the folder once. Each record changes
   * atomically; a crash part-way leaves some records old and some new, never a torn one.
   */
  writeBatch(writes: readonly StorageWrite[]): Promise<void> {
    return this.#serially(async () => {
      const sizes = new Map<string, number | undefined>();
      let used = this.#used;
      for (const { key, value } of writes) {
        const previous = sizes.has(key) ? sizes.get(key) : this.#sizes.get(key);
        const size = value === undefined ? undefined : recordSize(key, value);
        used += (size ?? 0) - (previous ?? 0);
        sizes.set(key, size);
      }
      if (this.#quota !== undefined && used > this.#quota) throw quotaExceeded(this.#quota, used);
      // The last write of a key wins; earlier ones in the batch need no file.
      const last = new Map<string, string | undefined>();
      for (const { key, value } of writes) {
        last.delete(key);
        last.set(key, value);
      }
      const temps = new Map<string, string>();
      try {
        await Promise.all(
          [...last].map(async ([key, value]) => {
            if (value === undefined) return;
            const temp = this.#path.join(this.#folder, tempName());
            temps.set(key, temp);
            await this.#writeDurably(temp, value);
          }),
        );
        for (const [key, value] of last) {
          const temp = temps.get(key);
          if (value === undefined) await this.#fs.rm(this.#file(key), { force: true });
          else if (temp !== undefined) {
            await this.#fs.rename(temp, this.#file(key));
            temps.delete(key);
          }
        }
      } catch (error) {
        await Promise.all(
          [...temps.values()].map((temp) => this.#fs.rm(temp, { force: true }).catch(() => {})),
        );
        throw asQuotaError(error);
      }
      await this.#syncFolder();
      for (const [key, size] of sizes) {
        if (size === undefined) this.#sizes.delete(key);
        else if (this.#quota !== undefined) this.#sizes.set(key, size);
      }
      this.#used = used;
    });
  }

  /** Writes and fsyncs a temp file, then hard-links it as the record: `link` fails if the record exists. */
  insertIfAbsent(key: string, value: string): Promise<boolean> {
    return this.#serially(async () => {
      const size = recordSize(key, value);
      if (this.#quota !== undefined && this.#used + size > this.#quota)
        throw quotaExceeded(this.#quota, this.#used + size);
      const temp = this.#path.join(this.#folder, tempName());
      let inserted = true;
      try {
        await this.#writeDurably(temp, value);
        await this.#fs.link(temp, this.#file(key)).catch(async (error: unknown) => {
          if (codeOf(error) === 'EEXIST') {
            inserted = false;
            return;
          }
          if (!['EPERM', 'ENOTSUP', 'ENOSYS', 'EOPNOTSUPP'].includes(codeOf(error) ?? '')) throw error;
          // No hard links on this file system: check, then rename (not atomic across processes).
          inserted = (await this.getItem(key)) === undefined;
          if (inserted) await this.#fs.rename(temp, this.#file(key));
        });
      } catch (error) {
        throw asQuotaError(error);
      } finally {
        await this.#fs.rm(temp, { force: true }).catch(() => {});
      }
      if (!inserted) return false;
      await this.#syncFolder();
      if (this.#quota !== undefined) this.#sizes.set(key, size);
      this.#used += size;
      return true;
    });
  }

  keys(): Promise<string[]> {
    // In the mutation queue, so the listing includes every write called before it.
    return this.#serially(async () => {
      const keys: string[] = [];
      for (const entry of await this.#fs.readdir(this.#folder)) {
        const key = decodeKey(entry);
        if (key !== undefined) keys.push(key);
      }
      return keys;
    });
  }

  clear(): Promise<void> {
    return this.#serially(async () => {
      for (const entry of await this.#fs.readdir(this.#folder)) {
        if (decodeKey(entry) !== undefined)
          await this.#fs.rm(this.#path.join(this.#folder, entry), { force: true });
      }
      await this.#syncFolder();
      this.#sizes.clear();
      this.#used = 0;
    });
  }

  async close(): Promise<void> {
    await this.#tail;
  }

  async #folderExists(): Promise<boolean> {
    try {
      return (await this.#fs.stat(this.#folder)).isDirectory();
    } catch {
      return false;
    }
  }

  /** Creates `file` (never an existing one), writes `value` and fsyncs it. */
  async #writeDurably(file: string, value: string): Promise<void> {
    const handle = await this.#fs.open(file, 'wx');
    try {
      await handle.writeFile(value, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  #file(key: string): string {
    return this.#path.join(this.#folder, `k-${encodeFileName(key)}.rec`);
  }

  #serially<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(task, task);
    this.#tail = run.catch(() => {});
    return run;
  }

  // The rename is durable only once the folder entry is flushed. Windows cannot open a folder
  // for fsync; there the rename itself is the best available.
  async #syncFolder(): Promise<void> {
    let handle: Awaited<ReturnType<FileSystem['open']>> | undefined;
    try {
      handle = await this.#fs.open(this.#folder, 'r');
      await handle.sync();
    } catch (error) {
      if (!['EISDIR', 'EPERM', 'EINVAL', 'EBADF', 'EACCES'].includes(codeOf(error) ?? '')) throw error;
    } finally {
      await handle?.close();
    }
  }
}

const ownTemp = /^t-(\d+)-[0-9a-f]+\.tmp$/;

/** `t-<pid>-<random>.tmp`: short (a long key's temp name must fit the file-name limit too), and says who writes it. */
function tempName(): string {
  const pid = (globalThis as { process?: { pid?: number } }).process?.pid ?? 0;
  return `t-${pid}-${Array.from(globalThis.crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('')}.tmp`;
}

/** True when `entry` is a temp file of a process that is still running (this one included). */
function writerIsAlive(entry: string): boolean {
  const pid = Number(ownTemp.exec(entry)?.[1] ?? 0);
  if (pid <= 0) return false;
  const node = (globalThis as { process?: { kill?: (pid: number, signal: number) => void } }).process;
  if (typeof node?.kill !== 'function') return false;
  try {
    node.kill(pid, 0);
    return true;
  } catch (error) {
    return codeOf(error) === 'EPERM';
  }
}

function decodeKey(entry: string): string | undefined {
  const match = recordFile.exec(entry);
  return match?.[1] === undefined ? undefined : decodeFileName(match[1]);
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function asQuotaError(error: unknown): unknown {
  const code = codeOf(error);
  if (code !== 'ENOSPC' && code !== 'EDQUOT') return error;
  const quota = new Error(`the disk is full (${code})`, { cause: error });
  quota.name = 'QuotaExceededError';
  return quota;
}
