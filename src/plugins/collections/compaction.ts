import type { KeyValueStore } from '../storage/key-value-store.js';
import type { Chunk, Lock } from './cache.js';
import type { Row } from './options.js';

/** Past this many writes (chunks), the log is compacted. */
const maxChunks = 64;

/**
 * Rewrite the chunk log as snapshot chunks of the replayed rows when it has grown past 64 chunks,
 * under the collection's write lock, in one commit that also removes the chunks read (all or
 * nothing on IndexedDB). Snapshot keys extend the last key read (`.s0000`…), so a later snapshot
 * sorts after an earlier one; replay reads snapshots before every other chunk, since a chunk
 * another tab wrote meanwhile may sort before the snapshot (same millisecond, smaller counter or
 * node id) yet must override it. Where a crash can leave part of the commit (file driver), the
 * chunks read that remain replay to the same rows after the snapshot. Loaded at the first look
 * (after 16 writes). @internal
 */
export async function compactLog<R extends Row>(
  store: KeyValueStore,
  lock: Lock,
  replay: (keys: readonly string[]) => Promise<Map<string, R>>,
  split: (rows: readonly R[]) => R[][],
): Promise<void> {
  await lock('write', async () => {
    const keys = await store.keys('c/');
    const last = keys.at(-1);
    // A write is one chunk, stored as one or more parts (`+`); a snapshot's parts extend the key
    // of the last chunk it replaced (`.`): count the writes.
    const chunks = keys.filter((key) => !/[+.]/.test(key)).length;
    if (chunks <= maxChunks || last === undefined || last.includes('.')) return;
    const parts = split([...(await replay(keys)).values()]);
    // The snapshot first, the removals last (a driver without transactions may apply a prefix).
    await store.commit([
      ...parts.map((part, n) => {
        const chunk: Chunk<R> = { v: 1, rows: part, deleted: [] };
        return { key: `${last}.s${n.toString().padStart(4, '0')}`, value: chunk };
      }),
      ...keys.map((key) => ({ key, remove: true as const })),
    ]);
  });
}
