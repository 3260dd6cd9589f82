import { webcrypto } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { fromBase64, toBase64 } from '../../src/plugins/storage/bytes.js';
import type { Cipher } from '../../src/plugins/storage/cipher.js';
import { loadCryptoJsCipher } from '../../src/plugins/storage/cryptojs-cipher.js';
import {
  type Credentials,
  metadataKey,
  unlockDatabase,
} from '../../src/plugins/storage/database-metadata.js';
import { MemoryDriver } from '../../src/plugins/storage/drivers/memory-driver.js';
import { RecordStore } from '../../src/plugins/storage/record-store.js';
import { WebCryptoCipher } from '../../src/plugins/storage/webcrypto-cipher.js';
import { expectCode, fastIterations } from './fixtures.js';

const engines: Array<[string, () => Promise<Cipher>]> = [
  ['webcrypto', async () => new WebCryptoCipher(webcrypto.subtle as SubtleCrypto)],
  ['crypto-js', loadCryptoJsCipher],
];
const secret: Credentials = {
  kind: 'secret',
  secret: 'correct horse battery staple',
  iterations: fastIterations,
};

async function openEncrypted(backend: MemoryDriver, cipher: Cipher, credentials: Credentials = secret) {
  return new RecordStore(backend, await unlockDatabase(backend, cipher, credentials));
}

async function rawSnapshot(backend: MemoryDriver): Promise<Record<string, string | undefined>> {
  const keys = await backend.keys();
  return Object.fromEntries(
    await Promise.all(keys.map(async (key) => [key, await backend.getItem(key)] as const)),
  );
}

type Envelope = { v: number; iv: string; ct: string; mac: string };
const envelopeOf = async (backend: MemoryDriver, key: string) =>
  JSON.parse((await backend.getItem(key)) ?? 'null') as Envelope;

describe.each(engines)('encrypted records with the %s engine', (_name, makeCipher) => {
  it('never stores the plaintext, and stores a versioned envelope', async () => {
    const backend = new MemoryDriver();
    const store = await openEncrypted(backend, await makeCipher());
    const value = { note: 'meet at the old mill', pin: 4721 };
    await store.set('note/1', value);
    const raw = (await backend.getItem('note/1')) ?? '';
    // Fragments of the value's JSON: quotes and colons never occur in base64, so random
    // ciphertext cannot contain them by chance ('pin' or '4721' alone can: that test was flaky).
    for (const plaintext of ['meet at the old mill', '"pin":4721', '"note"'])
      expect(raw).not.toContain(plaintext);
    expect(Object.keys(JSON.parse(raw)).sort()).toStrictEqual(['ct', 'iv', 'mac', 'v']);
    expect(JSON.parse(raw).v).toBe(2); // bound to the database id (version 1: before ids)
    expect(await store.get('note/1')).toStrictEqual(value);
    const metadata = (await backend.getItem(metadataKey)) ?? '';
    expect(metadata).not.toContain(secret.kind === 'secret' ? secret.secret : '');
  });

  it('round-trips random JSON values', async () => {
    const backend = new MemoryDriver();
    const store = await openEncrypted(backend, await makeCipher());
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1 }).filter((k) => !k.startsWith('\u0000')),
        fc.jsonValue(),
        async (key, value) => {
          fc.pre(!/[\uD800-\uDFFF]/.test(key));
          await store.set(key, value);
          // JSON.stringify turns -0 into 0; compare what JSON keeps.
          expect(await store.get(key)).toStrictEqual(JSON.parse(JSON.stringify(value)));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('uses a fresh IV for every write, so equal values never look equal', async () => {
    const backend = new MemoryDriver();
    const store = await openEncrypted(backend, await makeCipher());
    const ivs = new Set<string>();
    const ciphertexts = new Set<string>();
    for (let i = 0; i < 200; i++) {
      await store.set('same', 'same value');
      const envelope = await envelopeOf(backend, 'same');
      ivs.add(envelope.iv);
      ciphertexts.add(envelope.ct);
    }
    expect(ivs.size).toBe(200);
    expect(ciphertexts.size).toBe(200);
  });

  it('refuses any flipped bit of IV, ciphertext or MAC with storage/tampered', async () => {
    const backend = new MemoryDriver();
    const store = await openEncrypted(backend, await makeCipher());
    await store.set('k', { amount: 100 });
    const original = await envelopeOf(backend, 'k');
    for (const field of ['iv', 'ct', 'mac'] as const) {
      const bytes = fromBase64(original[field])!;
      for (let index = 0; index < bytes.length; index++) {
        const flipped = bytes.slice();
        flipped[index] = (flipped[index] ?? 0) ^ (1 << (index % 8));
        await backend.setItem('k', JSON.stringify({ ...original, [field]: toBase64(flipped) }));
        await expectCode(store.get('k'), 'storage/tampered');
      }
    }
    await backend.setItem('k', JSON.stringify(original));
    expect(await store.get('k')).toStrictEqual({ amount: 100 });
  });

  it('checks the MAC before decrypting', async () => {
    const cipher = await makeCipher();
    const backend = new MemoryDriver();
    const store = await openEncrypted(backend, cipher);
    await store.set('k', 'v');
    const original = await envelopeOf(backend, 'k');
    const mac = fromBase64(original.mac)!;
    mac[0] = (mac[0] ?? 0) ^ 1;
    await backend.setItem('k', JSON.stringify({ ...original, mac: toBase64(mac) }));
    const decrypt = vi.spyOn(cipher, 'decryptAesCbc');
    await expectCode(store.get('k'), 'storage/tampered');
    expect(decrypt).not.toHaveBeenCalled();
  });

  it('refuses truncated, malformed and foreign records with storage/tampered', async () => {
    const backend = new MemoryDriver();
    const store = await openEncrypted(backend, await makeCipher());
    await store.set('k', 'a value long enough to span two AES blocks');
    const original = await envelopeOf(backend, 'k');
    const raw = (await backend.getItem('k')) ?? '';
    const ct = fromBase64(original.ct)!;
    const bad = [
      JSON.stringify({ ...original, ct: toBase64(ct.slice(0, 16)) }), // a whole block cut off
      JSON.stringify({ ...original, ct: toBase64(ct.slice(0, ct.length - 1)) }), // not a block multiple
      JSON.stringify({ ...original, ct: '' }),
      JSON.stringify({ ...original, iv: toBase64(fromBase64(original.iv)!.slice(0, 15)) }),
      JSON.stringify({ ...original, mac: toBase64(fromBase64(original.mac)!.slice(0, 31)) }),
      JSON.stringify({ ...original, extra: 1 }),
      JSON.stringify({ v: 1, iv: original.iv, ct: original.ct }),
      JSON.stringify({ ...original, ct: `${original.ct.slice(0, -4)}!!!!` }),
      JSON.stringify({ v: 1, value: 'a plaintext record slipped in' }),
      JSON.stringify({ ...original, v: '1' }),
      raw.slice(0, raw.length - 5),
      raw.slice(0, raw.length / 2),
      '',
      'not json',
      'null',
      '[1,2]',
    ];
    for (const stored of bad) {
      await backend.setItem('k', stored);
      await expectCode(store.get('k'), 'storage/tampered');
    }
  });

  it('refuses a record moved or copied under another key', async () => {
    const backend = new MemoryDriver();
    const store = await openEncrypted(backend, await makeCipher());
    await store.set('account/alice', { balance: 5 });
    await store.set('account/bob', { balance: 5000 });
    const bob = (await backend.getItem('account/bob'))!;
    const alice = (await backend.getItem('account/alice'))!;
    await backend.setItem('account/alice', bob);
    await backend.setItem('account/bob', alice);
    await backend.setItem('account/carol', bob);
    await expectCode(store.get('account/alice'), 'storage/tampered');
    await expectCode(store.get('account/bob'), 'storage/tampered');
    await expectCode(store.get('account/carol'), 'storage/tampered');
    // The same record is fine where it was written (and namespaces are part of the key).
    await backend.setItem('account/bob', bob);
    expect(await store.get('account/bob')).toStrictEqual({ balance: 5000 });
    await store.namespace('a').set('x', 1);
    await backend.setItem('b/x', (await backend.getItem('a/x'))!);
    await expectCode(store.namespace('b').get('x'), 'storage/tampered');
  });

  it('refuses unknown format versions with storage/unsupported-version', async () => {
    const backend = new MemoryDriver();
    const store = await openEncrypted(backend, await makeCipher());
    await store.set('k', 'v');
    const original = await envelopeOf(backend, 'k');
    for (const v of [0, 3, 99]) {
      await backend.setItem('k', JSON.stringify({ ...original, v }));
      await expectCode(store.get('k'), 'storage/unsupported-version');
    }
    const metadata = JSON.parse((await backend.getItem(metadataKey))!);
    await backend.setItem(metadataKey, JSON.stringify({ ...metadata, v: 2 }));
    await expectCode(unlockDatabase(backend, await makeCipher(), secret), 'storage/unsupported-version');
  });

  it('fails a wrong secret at open, before reading or writing anything', async () => {
    const backend = new MemoryDriver();
    const store = await openEncrypted(backend, await makeCipher());
    await store.set('k', { secret: 'data' });
    const rawBefore = await rawSnapshot(backend);
    const setItem = vi.spyOn(backend, 'setItem');
    const writeBatch = vi.spyOn(backend, 'writeBatch');
    const getItem = vi.spyOn(backend, 'getItem');
    const wrong: Credentials = {
      kind: 'secret',
      secret: 'correct horse battery stapler',
      iterations: fastIterations,
    };
    await expectCode(unlockDatabase(backend, await makeCipher(), wrong), 'storage/wrong-secret');
    expect(setItem).not.toHaveBeenCalled();
    expect(writeBatch).not.toHaveBeenCalled();
    expect(getItem.mock.calls).toStrictEqual([[metadataKey]]);
    expect(await rawSnapshot(backend)).toStrictEqual(rawBefore);
  });

  it('keeps the stored PBKDF2 parameters, whatever the options say later', async () => {
    const backend = new MemoryDriver();
    await openEncrypted(backend, await makeCipher());
    const store = await openEncrypted(backend, await makeCipher(), { ...secret, iterations: 20_000 });
    await store.set('k', 1);
    expect(JSON.parse((await backend.getItem(metadataKey))!)).toMatchObject({
      v: 1,
      kdf: 'pbkdf2-sha256',
      iterations: fastIterations,
    });
  });

  it('opens with a raw 32-byte key, and refuses other keys or mixing key and secret', async () => {
    const key = webcrypto.getRandomValues(new Uint8Array(32));
    const backend = new MemoryDriver();
    const store = await openEncrypted(backend, await makeCipher(), { kind: 'key', key });
    await store.set('k', 'v');
    expect((await backend.getItem('k')) ?? '').not.toContain('"v"}');
    const reopened = await openEncrypted(backend, await makeCipher(), { kind: 'key', key: key.slice() });
    expect(await reopened.get('k')).toBe('v');
    const other = key.slice();
    other[31] = (other[31] ?? 0) ^ 1;
    await expectCode(
      unlockDatabase(backend, await makeCipher(), { kind: 'key', key: other }),
      'storage/wrong-secret',
    );
    await expectCode(unlockDatabase(backend, await makeCipher(), secret), 'storage/wrong-secret');
    const secretBackend = new MemoryDriver();
    await openEncrypted(secretBackend, await makeCipher());
    await expectCode(
      unlockDatabase(secretBackend, await makeCipher(), { kind: 'key', key }),
      'storage/wrong-secret',
    );
  });

  it('refuses to add encryption over records written without a secret', async () => {
    const backend = new MemoryDriver();
    await backend.setItem('plain', '{"v":1,"value":1}');
    await expectCode(unlockDatabase(backend, await makeCipher(), secret), 'storage/wrong-secret');
    expect(await backend.keys()).toStrictEqual(['plain']);
  });
});

describe('cross-engine interoperability', () => {
  it.each([
    ['webcrypto', 'crypto-js'],
    ['crypto-js', 'webcrypto'],
  ])('records written with %s are read with %s (secret and raw key)', async (writer, reader) => {
    const engine = (name: string) => engines.find(([n]) => n === name)![1]();
    const key = webcrypto.getRandomValues(new Uint8Array(32));
    for (const credentials of [secret, { kind: 'key', key } as const]) {
      const backend = new MemoryDriver();
      const written = await openEncrypted(backend, await engine(writer), credentials);
      const value = { text: 'héllo 😀', n: [1, 2, 3], long: 'z'.repeat(1000) };
      await written.set('shared', value);
      const read = await openEncrypted(backend, await engine(reader), credentials);
      expect(await read.get('shared')).toStrictEqual(value);
      await read.set('back', 'reply');
      expect(await written.get('back')).toBe('reply');
      const tampered = await envelopeOf(backend, 'shared');
      await backend.setItem('shared', JSON.stringify({ ...tampered, iv: toBase64(new Uint8Array(16)) }));
      await expectCode(read.get('shared'), 'storage/tampered');
    }
  });
});
