import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLock, RowCache } from '../../src/plugins/collections/cache.js';
import type { KeyValueStore } from '../../src/plugins/storage/key-value-store.js';
import { MemoryStore } from '../support/memory-store.js';

type Note = { id: string; title: string };

/** A MemoryStore whose next key listing runs `afterListing` before it answers (a write landing meanwhile). */
class ListingHookStore extends MemoryStore {
  afterListing: (() => Promise<void>) | undefined;

  override async keys(prefix = ''): Promise<string[]> {
    const keys = await super.keys(prefix);
    const hook = this.afterListing;
    this.afterListing = undefined;
    await hook?.();
    return keys;
  }
}

/** 65 pages, one write: past 64 chunks, the write compacts the log. `x` and `y` are in the first page. */
const manyPages = () => [
  {
    rows: [
      { id: 'x', title: 'old' },
      { id: 'y', title: 'kept?' },
    ],
    deleted: [],
  },
  ...Array.from({ length: 64 }, (_, n) => ({ rows: [{ id: `r${n}`, title: '' }], deleted: [] })),
];

// A review: a snapshot's key extended the last chunk key it read, so a chunk another tab wrote in
// the same millisecond (a smaller counter or node id) sorted before it, and the snapshot's older
// rows overrode that chunk's rows on replay (deleted rows came back, rows without a numeric
// version went back to their old values) — in every tab, until a full resync.
describe('log compaction and another tab writing in the same millisecond', () => {
  afterEach(() => vi.useRealTimers());

  const rowsOf = async (store: KeyValueStore) =>
    new Map(
      (await new RowCache<Note>(store, 'id', createLock(false, 'c')).readRows()).map((row) => [row.id, row]),
    );

  it("a chunk written after another tab's compaction replays after its snapshot", async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_800_000_000_000); // frozen: every chunk id below has this millisecond
    const store = new MemoryStore() as unknown as KeyValueStore;
    const a = new RowCache<Note>(store, 'id', createLock(false, 'a'));
    const b = new RowCache<Note>(store, 'id', createLock(false, 'b'));
    await a.writePages(manyPages()); // tab a: chunks with counters 0 to 64, then compacted
    expect((await store.keys('c/')).every((key) => key.includes('.s'))).toBe(true);
    // Tab b, later but in the same millisecond: its chunk id has counter 0, below a's last.
    await b.writePages([{ rows: [{ id: 'x', title: 'new (tab b)' }], deleted: ['y'] }]);
    const rows = await rowsOf(store);
    expect(rows.get('x')?.title).toBe('new (tab b)');
    expect(rows.has('y')).toBe(false);
    expect(rows.size).toBe(65);
  });

  it('a chunk written while another tab compacts is kept and replays after the snapshot', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_800_000_000_000);
    const memory = new ListingHookStore();
    const store = memory as unknown as KeyValueStore;
    const a = new RowCache<Note>(store, 'id', createLock(false, 'a'));
    const b = new RowCache<Note>(store, 'id', createLock(false, 'b'));
    // Tab b writes once the compaction listed the keys, before it writes its snapshot.
    memory.afterListing = () => b.writePages([{ rows: [{ id: 'x', title: 'new (tab b)' }], deleted: ['y'] }]);
    await a.writePages(manyPages());
    expect(memory.afterListing).toBeUndefined(); // the compaction ran
    expect((await store.keys('c/')).filter((key) => !key.includes('.s'))).toHaveLength(1); // b's chunk
    const rows = await rowsOf(store);
    expect(rows.get('x')?.title).toBe('new (tab b)');
    expect(rows.has('y')).toBe(false);
    expect(rows.size).toBe(65);
  });

  it('reads a log as this version wrote it: a snapshot, a chunk left by a crash, chunks after it', async () => {
    const memory = new MemoryStore();
    const chunk = (rows: Note[], deleted: string[] = []) => ({ v: 1, rows, deleted });
    await memory.commit([
      // A compaction folded c/1 and c/3 into c/3.s0000 and crashed before removing c/3.
      { key: 'c/3', value: chunk([{ id: 'x', title: 'b' }], ['z']) },
      {
        key: 'c/3.s0000',
        value: chunk([
          { id: 'x', title: 'b' },
          { id: 'y', title: 'y' },
        ]),
      },
      // Another tab's chunk of the same millisecond, not folded in: it sorts before the snapshot.
      { key: 'c/2', value: chunk([{ id: 'w', title: 'w' }], ['y']) },
      { key: 'c/4', value: chunk([{ id: 'x', title: 'c' }]) },
    ]);
    const rows = await rowsOf(memory as unknown as KeyValueStore);
    expect([...rows.values()]).toEqual([
      { id: 'x', title: 'c' },
      { id: 'w', title: 'w' },
    ]);
  });
});
