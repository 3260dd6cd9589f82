import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { FileDriver } from '../../src/plugins/storage/drivers/file-driver.js';
import { IndexedDbDriver } from '../../src/plugins/storage/drivers/indexeddb-driver.js';
import { MemoryDriver } from '../../src/plugins/storage/drivers/memory-driver.js';
import type { StorageBackend, StorageWrite } from '../../src/plugins/storage/drivers/storage-backend.js';
import { GroupCommit } from '../../src/plugins/storage/group-commit.js';
import { PlainCodec } from '../../src/plugins/storage/record-codec.js';
import { RecordStore } from '../../src/plugins/storage/record-store.js';
import { snapshot, tempDirsPerTest } from './fixtures.js';

const tempDir = tempDirsPerTest();

/** A memory backend whose commits finish when the test says, counting what reaches it. */
class SlowBackend extends MemoryDriver {
  readonly commits: string[][] = [];
  readonly #gates: Array<() => void> = [];

  override async setItem(key: string, value: string): Promise<void> {
    await this.#commit([{ key, value }]);
  }
  override async writeBatch(writes: readonly StorageWrite[]): Promise<void> {
    await this.#commit(writes);
  }
  /** Lets the oldest waiting commit finish; resolves once the next commit has started. */
  release(): void {
    this.#gates.shift()?.();
  }
  get waiting(): number {
    return this.#gates.length;
  }
  async #commit(writes: readonly StorageWrite[]): Promise<void> {
    this.commits.push(writes.map(({ key, value }) => (value === undefined ? `-${key}` : `${key}=${value}`)));
    await new Promise<void>((resolve) => this.#gates.push(resolve));
    await super.writeBatch(writes);
  }
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await Promise.resolve();
  expect(condition()).toBe(true);
}

describe('GroupCommit', () => {
  it('sends a lone write at once, and the writes made during a commit together in one batch', async () => {
    const backend = new SlowBackend();
    const commits = new GroupCommit(backend);
    const settled: string[] = [];
    const first = commits.writeGroup([{ key: 'a', value: '1' }]).then(() => settled.push('a'));
    expect(backend.commits).toStrictEqual([['a=1']]);
    const rest = ['b', 'c', 'd'].map((key) =>
      commits.writeGroup([{ key, value: key }]).then(() => settled.push(key)),
    );
    const removal = commits.writeGroup([{ key: 'a', value: undefined }]).then(() => settled.push('-a'));
    expect(backend.commits).toHaveLength(1); // the others wait for the commit in progress
    backend.release();
    await first;
    expect(settled).toStrictEqual(['a']); // nothing else resolved before its own commit
    await until(() => backend.commits.length === 2);
    expect(backend.commits[1]).toStrictEqual(['b=b', 'c=c', 'd=d', '-a']);
    backend.release();
    await Promise.all([...rest, removal]);
    expect(settled).toStrictEqual(['a', 'b', 'c', 'd', '-a']);
    expect(await backend.keys()).toStrictEqual(['b', 'c', 'd']);
  });

  it('rejects only the write that made a batch fail, and commits the others', async () => {
    const backend = new MemoryDriver({ quota: 40 });
    const commits = new GroupCommit(backend);
    const results = await Promise.allSettled([
      commits.writeGroup([{ key: 'a', value: 'x' }]),
      commits.writeGroup([{ key: 'b', value: 'y' }]),
      commits.writeGroup([{ key: 'huge', value: 'z'.repeat(100) }]),
      commits.writeGroup([{ key: 'c', value: 'w' }]),
    ]);
    expect(results.map((result) => result.status)).toStrictEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ name: 'QuotaExceededError' });
    expect((await backend.keys()).sort()).toStrictEqual(['a', 'b', 'c']);
  });
});

describe('RecordStore with group commit', () => {
  it('commits a burst of concurrent sets in a few driver commits, each resolving after its own, in call order', async () => {
    const backend = new SlowBackend();
    const store = new RecordStore(backend, new PlainCodec());
    const writes = Array.from({ length: 50 }, (_, i) => store.set(`k${i % 10}`, i));
    await until(() => backend.waiting === 1);
    // Let every set reach the store while the first commit is in progress (as during a real ~1 ms commit).
    await new Promise((resolve) => setImmediate(resolve));
    while (backend.commits.flat().length < 50 || backend.waiting > 0) {
      backend.release();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(writes);
    expect(backend.commits.map((commit) => commit.length)).toStrictEqual([1, 49]);
    expect(backend.commits.flat()).toHaveLength(50);
    // The last call for each key wins, as with one transaction per write.
    for (let k = 0; k < 10; k++) expect(await store.get(`k${k}`)).toBe(40 + k);
  });

  it('clear() removes what was written before it and nothing written after it', async () => {
    const store = new RecordStore(new SlowBackendAutoRelease(), new PlainCodec());
    const before = [store.set('a', 1), store.set('b', 2)];
    const cleared = store.clear();
    const after = store.set('c', 3);
    await Promise.all([...before, cleared, after]);
    expect(await snapshot(store)).toStrictEqual({ c: 3 });
  });
});

/** A backend whose commits finish on the next macrotask: slow enough for writes to pile up. */
class SlowBackendAutoRelease extends MemoryDriver {
  readonly batches: number[] = [];
  override async writeBatch(writes: readonly StorageWrite[]): Promise<void> {
    this.batches.push(writes.length);
    await new Promise((resolve) => setImmediate(resolve));
    await super.writeBatch(writes);
  }
  override async setItem(key: string, value: string): Promise<void> {
    await this.writeBatch([{ key, value }]);
  }
}

const backends: Array<{ name: string; open: () => Promise<StorageBackend> }> = [
  { name: 'memory', open: async () => new MemoryDriver() },
  { name: 'indexeddb', open: () => IndexedDbDriver.open(new IDBFactory(), 'db') },
  { name: 'file', open: async () => FileDriver.open({ dir: await tempDir(), name: 'db' }) },
];

describe.each(backends)('$name driver: writeBatch and insertIfAbsent', ({ open }) => {
  it('applies a batch of puts and deletes in order', async () => {
    const backend = await open();
    await backend.setItem('old', 'x');
    await backend.writeBatch([
      { key: 'a', value: '1' },
      { key: 'b', value: '2' },
      { key: 'a', value: '3' },
      { key: 'old', value: undefined },
      { key: 'b', value: undefined },
      { key: 'b', value: '4' },
    ]);
    expect((await backend.keys()).sort()).toStrictEqual(['a', 'b']);
    expect(await backend.getItem('a')).toBe('3');
    expect(await backend.getItem('b')).toBe('4');
    await backend.close();
  });

  it('inserts only when the key is absent, once among concurrent callers', async () => {
    const backend = await open();
    const results = await Promise.all(
      ['first', 'second', 'third'].map((value) => backend.insertIfAbsent('m', value)),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = ['first', 'second', 'third'][results.indexOf(true)];
    expect(await backend.getItem('m')).toBe(winner);
    expect(await backend.insertIfAbsent('m', 'later')).toBe(false);
    expect(await backend.getItem('m')).toBe(winner);
    await backend.close();
  });
});

describe('the indexeddb driver batch', () => {
  it('is all or nothing: a batch that aborts leaves the earlier data as it was', async () => {
    const backend = await IndexedDbDriver.open(new IDBFactory(), 'db');
    await backend.setItem('a', 'kept');
    // A key IndexedDB refuses (not a valid key) aborts the transaction part-way through.
    const bad = [
      { key: 'a', value: 'changed' },
      { key: 'b', value: 'new' },
      { key: {} as string, value: 'x' },
    ];
    await expect(backend.writeBatch(bad)).rejects.toBeDefined();
    expect(await backend.getItem('a')).toBe('kept');
    expect(await backend.getItem('b')).toBeUndefined();
    await backend.close();
  });
});
