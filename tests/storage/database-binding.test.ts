import { webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Cipher } from '../../src/plugins/storage/cipher.js';
import { loadCryptoJsCipher } from '../../src/plugins/storage/cryptojs-cipher.js';
import { bindingKey, metadataKey, unlockDatabase } from '../../src/plugins/storage/database-metadata.js';
import { MemoryDriver } from '../../src/plugins/storage/drivers/memory-driver.js';
import type { StorageBackend } from '../../src/plugins/storage/drivers/storage-backend.js';
import { expandRawKey } from '../../src/plugins/storage/record-keys.js';
import { RecordStore } from '../../src/plugins/storage/record-store.js';
import { SealedCodec } from '../../src/plugins/storage/sealed-codec.js';
import { WebCryptoCipher } from '../../src/plugins/storage/webcrypto-cipher.js';
import { expectCode } from './fixtures.js';

// Issue 17, finding 6: the MAC bound a record to its key but not to its database, so with one
// raw key (or one secret) a record copied from Alice's database into Bob's was read (and an op
// sent with Bob's token). Every record's MAC now binds the database's random id.
const engines: Array<[string, () => Promise<Cipher>]> = [
  ['webcrypto', async () => new WebCryptoCipher(webcrypto.subtle as SubtleCrypto)],
  ['crypto-js', loadCryptoJsCipher],
];
const rawKey = new Uint8Array(32).fill(7);
const credentials = { kind: 'key', key: rawKey } as const;

async function open(backend: StorageBackend, cipher: Cipher) {
  return new RecordStore(backend, await unlockDatabase(backend, cipher, credentials));
}

/** A database as an earlier Fluxy wrote it: metadata, version-1 records, no database id. */
async function legacyDatabase(cipher: Cipher, records: Record<string, unknown>): Promise<MemoryDriver> {
  const backend = new MemoryDriver();
  await open(backend, cipher); // metadata (salt-free for a raw key) and key check, as before
  await backend.writeBatch([{ key: bindingKey }]);
  const legacy = new SealedCodec(cipher, await expandRawKey(cipher, rawKey));
  for (const [key, value] of Object.entries(records)) {
    await backend.setItem(key, await legacy.encode(key, JSON.stringify(value)));
  }
  return backend;
}

describe.each(engines)('the database id in every MAC (%s)', (_name, makeCipher) => {
  it('a record copied into another database opened with the same key is refused', async () => {
    const cipher = await makeCipher();
    const [alice, bob] = [new MemoryDriver(), new MemoryDriver()];
    const aliceStore = await open(alice, cipher);
    const bobStore = await open(bob, cipher);
    await aliceStore.set('sync/p/1', { url: '/transfer', to: 'mallory' });
    await bobStore.set('sync/p/2', { url: '/notes' });
    await bob.setItem('sync/p/1', (await alice.getItem('sync/p/1')) as string);
    const error = await expectCode(bobStore.get('sync/p/1'), 'storage/tampered');
    expect(error.message).toMatch(/another database/);
    expect(await bobStore.get('sync/p/2')).toStrictEqual({ url: '/notes' });
    // Reopened, the same: the id is stored, not made per open.
    expect(await (await open(bob, cipher)).get('sync/p/2')).toStrictEqual({ url: '/notes' });
    await expectCode((await open(bob, cipher)).get('sync/p/1'), 'storage/tampered');
  });

  it('the database id cannot be swapped for another database’s', async () => {
    const cipher = await makeCipher();
    const [alice, bob] = [new MemoryDriver(), new MemoryDriver()];
    await (await open(alice, cipher)).set('k', 'alice');
    await open(bob, cipher);
    const aliceId = JSON.parse((await alice.getItem(bindingKey)) as string).db as string;
    const bobBinding = JSON.parse((await bob.getItem(bindingKey)) as string);
    await bob.setItem(bindingKey, JSON.stringify({ ...bobBinding, db: aliceId }));
    await expectCode(open(bob, cipher), 'storage/tampered');
  });

  it('an existing database is migrated at its first open: its records stay readable, now bound', async () => {
    const cipher = await makeCipher();
    const backend = await legacyDatabase(cipher, { 'note/1': { title: 'kept' }, 'note/2': [1, 2] });
    expect(JSON.parse((await backend.getItem('note/1')) as string).v).toBe(1);
    const metadataBefore = await backend.getItem(metadataKey);
    const store = await open(backend, cipher);
    expect(await store.get('note/1')).toStrictEqual({ title: 'kept' });
    expect(await store.get('note/2')).toStrictEqual([1, 2]);
    expect(JSON.parse((await backend.getItem('note/1')) as string).v).toBe(2);
    expect(await backend.getItem(metadataKey)).toBe(metadataBefore);
    // Once migrated, a version-1 record (from a backup, or another legacy database) is refused.
    const legacy = await legacyDatabase(cipher, { 'note/3': 'from elsewhere' });
    await backend.setItem('note/3', (await legacy.getItem('note/3')) as string);
    await expectCode((await open(backend, cipher)).get('note/3'), 'storage/tampered');
  });

  it('a migration cut short resumes at the next open (version-1 records still read until then)', async () => {
    const cipher = await makeCipher();
    const backend = await legacyDatabase(cipher, { a: 1, b: 2 });
    const failing: StorageBackend = {
      getItem: (key) => backend.getItem(key),
      setItem: (key, value) => backend.setItem(key, value),
      keys: () => backend.keys(),
      insertIfAbsent: (key, value) => backend.insertIfAbsent(key, value),
      clear: () => backend.clear(),
      close: () => backend.close(),
      writeBatch: async () => {
        throw new Error('crash while migrating');
      },
    };
    await expect(open(failing, cipher)).rejects.toThrow('crash while migrating');
    expect(JSON.parse((await backend.getItem(bindingKey)) as string).db).toBeTypeOf('string');
    const store = await open(backend, cipher);
    expect([await store.get('a'), await store.get('b')]).toStrictEqual([1, 2]);
    expect(JSON.parse((await backend.getItem('a')) as string).v).toBe(2);
  });
});
