import type { KeyValueStore } from '../storage/key-value-store.js';
import type { Chunk, Lock } from './cache.js';
import type { Row } from './options.js';

/** Past this many writes (chunks), the log is compacted. */
const maxChunks = 64;

/**
 * Rewrite the chunk log as snapshot chunks of the replayed rows when it has grown past 64 chunks,
 * under the collection's write lock. Snapshot keys extend the last key read, so they sort right
 * after it and before any chunk another tab wrote meanwhile; a crash between the writes and the
 * removals leaves both, which replay to the same rows. Loaded at the first look (after 16
 * writes). @internal
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
    await Promise.all(
      parts.map((part, n) => {
        const chunk: Chunk<R> = { v: 1, rows: part, deleted: [] };
        return store.set(`${last}.s${n.toString().padStart(4, '0')}`, chunk);
      }),
    );
    await Promise.all(keys.map((key) => store.remove(key)));
  });
}
