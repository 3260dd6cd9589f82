import type { KeyValueStore } from '../storage/key-value-store.js';
import type { Chunk } from './cache.js';
import type { Row } from './options.js';

/**
 * Replace the chunks `keys` (the whole log as read, oldest first) by snapshot chunks of the
 * replayed `rows`. Snapshot keys extend the last key read, so they sort right after it and before
 * any chunk another tab wrote meanwhile; a crash between the writes and the removals leaves both,
 * which replay to the same rows. Loaded on first use. @internal
 */
export async function snapshot<R extends Row>(
  store: KeyValueStore,
  keys: readonly string[],
  rows: readonly R[],
  split: (rows: readonly R[]) => R[][],
): Promise<void> {
  const last = keys.at(-1) as string;
  const writes: Array<Promise<void>> = [];
  split(rows).forEach((part, n) => {
    const chunk: Chunk<R> = { v: 1, rows: part, deleted: [] };
    writes.push(store.set(`${last}.s${n.toString().padStart(4, '0')}`, chunk));
  });
  await Promise.all(writes);
  await Promise.all(keys.map((key) => store.remove(key)));
}
