import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromBase64, toBase64 } from '../../src/plugins/storage/bytes.js';

describe('base64 of records', () => {
  it('matches Node for any bytes (up to 200 KB, across the 32 KB chunks) and round-trips', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        const text = toBase64(bytes);
        expect(text).toBe(Buffer.from(bytes).toString('base64'));
        expect(fromBase64(text)).toStrictEqual(bytes);
      }),
      { seed: 8, numRuns: 300 },
    );
    const big = new Uint8Array(200_000).map((_, index) => (index * 31) % 256);
    expect(toBase64(big)).toBe(Buffer.from(big).toString('base64'));
    expect(fromBase64(toBase64(big))).toStrictEqual(big);
  });

  it('refuses non-canonical text (unused bits set), wrong lengths and foreign characters', () => {
    expect(fromBase64('QQ==')).toStrictEqual(new Uint8Array([65]));
    expect(fromBase64('QR==')).toBeUndefined(); // decodes to "A" too, but is not its form
    expect(fromBase64('QUI=')).toStrictEqual(new Uint8Array([65, 66]));
    expect(fromBase64('QUJ=')).toBeUndefined();
    expect(fromBase64('QUJD')).toStrictEqual(new Uint8Array([65, 66, 67]));
    for (const bad of ['QQ=', 'Q===', 'QQ=A', 'QQ-_', 'Q Q=']) expect(fromBase64(bad), bad).toBeUndefined();
  });
});
