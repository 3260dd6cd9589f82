import { describe, expect, it } from 'vitest';
import { MemoryDriver } from '../../src/plugins/storage/drivers/memory-driver.js';
import { PlainCodec, type RecordCodec } from '../../src/plugins/storage/record-codec.js';
import { RecordStore } from '../../src/plugins/storage/record-store.js';
import { snapshot } from './fixtures.js';

/** A codec whose encodings finish when the test says, to reorder slow encryptions at will. */
class ControlledCodec implements RecordCodec {
  readonly pending: Array<() => void> = [];
  readonly #plain = new PlainCodec();

  encode(key: string, json: string): Promise<string> {
    return new Promise((resolve) => {
      this.pending.push(() => resolve(this.#plain.encode(key, json)));
    });
  }

  decode(key: string, stored: unknown): Promise<unknown> {
    return this.#plain.decode(key, stored);
  }
}

describe('RecordStore write order', () => {
  it('hands writes to the driver in call order even when later encryptions finish first', async () => {
    const codec = new ControlledCodec();
    const backend = new MemoryDriver();
    const writes: string[] = [];
    const writeBatch = backend.writeBatch.bind(backend);
    backend.writeBatch = (batch) => {
      for (const { key, value } of batch) writes.push(`${key}=${JSON.parse(value as string).value}`);
      return writeBatch(batch);
    };
    const store = new RecordStore(backend, codec);
    const done = Promise.all([
      store.set('k', 1),
      store.set('k', 2),
      store.set('other', 3),
      store.set('k', 4),
    ]);
    for (const finish of [...codec.pending].reverse()) finish();
    await done;
    expect(writes).toStrictEqual(['k=1', 'k=2', 'other=3', 'k=4']);
    expect(await store.get('k')).toBe(4);
  });

  it('applies concurrent set, remove and clear in call order', async () => {
    const codec = new ControlledCodec();
    const store = new RecordStore(new MemoryDriver(), codec);
    const done = Promise.all([
      store.set('a', 1),
      store.set('b', 1),
      store.remove('a'),
      store.clear(),
      store.set('c', 1),
      store.set('a', 2),
      store.remove('c'),
    ]);
    for (const finish of [...codec.pending].reverse()) finish();
    await done;
    expect(await snapshot(store)).toStrictEqual({ a: 2 });
  });

  it('lets a failed write pass its turn without blocking later ones', async () => {
    const store = new RecordStore(new MemoryDriver({ quota: 30 }), new PlainCodec());
    const results = await Promise.allSettled([store.set('a', 'x'.repeat(100)), store.set('b', 1)]);
    expect(results.map((r) => r.status)).toStrictEqual(['rejected', 'fulfilled']);
    expect(await snapshot(store)).toStrictEqual({ b: 1 });
  });
});
