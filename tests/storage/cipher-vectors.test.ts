import { createCipheriv, createHmac, pbkdf2Sync, webcrypto } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Cipher } from '../../src/plugins/storage/cipher.js';
import { loadCryptoJsCipher } from '../../src/plugins/storage/cryptojs-cipher.js';
import { WebCryptoCipher } from '../../src/plugins/storage/webcrypto-cipher.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const bytes = (text: string) => new Uint8Array(Buffer.from(text, 'hex'));
const utf8 = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));

const engines: Array<[string, () => Promise<Cipher>]> = [
  ['webcrypto', async () => new WebCryptoCipher(webcrypto.subtle as SubtleCrypto)],
  ['crypto-js', loadCryptoJsCipher],
];

describe.each(engines)('%s primitives', (_name, makeCipher) => {
  it('AES-256-CBC matches NIST SP 800-38A F.2.5 (first block) and node:crypto with PKCS#7', async () => {
    const cipher = await makeCipher();
    const key = bytes('603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4');
    const iv = bytes('000102030405060708090a0b0c0d0e0f');
    const plaintext = bytes('6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51');
    const ciphertext = await cipher.encryptAesCbc(key, iv, plaintext);
    expect(hex(ciphertext.slice(0, 32))).toBe(
      'f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d',
    );
    expect(ciphertext.length).toBe(48); // a full block of PKCS#7 padding
    expect(hex(await cipher.decryptAesCbc(key, iv, ciphertext))).toBe(hex(plaintext));
  });

  it('HMAC-SHA256 matches RFC 4231 test case 2', async () => {
    const cipher = await makeCipher();
    const mac = await cipher.hmacSha256(utf8('Jefe'), utf8('what do ya want for nothing?'));
    expect(hex(mac)).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  it('PBKDF2-SHA256 matches RFC 7914 section 11', async () => {
    const cipher = await makeCipher();
    const derived = await cipher.pbkdf2Sha256('passwd', utf8('salt'), 1, 64);
    expect(hex(derived)).toBe(
      '55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783',
    );
  });

  it('agrees with node:crypto on random inputs', async () => {
    const cipher = await makeCipher();
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ maxLength: 300 }),
        fc.string({ unit: 'grapheme', maxLength: 20 }),
        async (key, iv, data, password) => {
          const aes = createCipheriv('aes-256-cbc', key, iv);
          const expected = Buffer.concat([aes.update(data), aes.final()]);
          const ciphertext = await cipher.encryptAesCbc(key, iv, data);
          expect(hex(ciphertext)).toBe(expected.toString('hex'));
          expect(hex(await cipher.decryptAesCbc(key, iv, ciphertext))).toBe(hex(data));
          expect(hex(await cipher.hmacSha256(key, data))).toBe(
            createHmac('sha256', key).update(data).digest('hex'),
          );
          expect(hex(await cipher.pbkdf2Sha256(password, iv, 3, 64))).toBe(
            pbkdf2Sync(Buffer.from(password, 'utf8'), iv, 3, 64, 'sha256').toString('hex'),
          );
        },
      ),
      { numRuns: 40 },
    );
  });

  it('rejects bad padding and ciphertexts that are not whole blocks', async () => {
    const cipher = await makeCipher();
    const key = new Uint8Array(32).fill(1);
    const iv = new Uint8Array(16);
    // A block whose decryption does not end in valid PKCS#7 padding (checked with node:crypto).
    const garbage = new Uint8Array(16).fill(0xab);
    const node = createCipheriv('aes-256-cbc', key, iv);
    node.setAutoPadding(false);
    const noPadding = Buffer.concat([node.update(new Uint8Array(16).fill(0)), node.final()]);
    await expect(cipher.decryptAesCbc(key, iv, new Uint8Array(noPadding))).rejects.toThrow();
    await expect(cipher.decryptAesCbc(key, iv, garbage.slice(0, 15))).rejects.toThrow();
  });
});
