import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { fromBase64, toBase64 } from '../../src/plugins/storage/bytes.js';

describe('base64 of records', () => {
  it('matches Node for any bytes (up to 200 KB, across the 32 KB chunks) and round-trips, without a native toBase64', () =>
    withNativeBase64(undefined, () => {
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
    }));

  it("uses the platform's Uint8Array#toBase64 where there is one, the same text as the fallback", () => {
    const native = vi.fn(function (this: Uint8Array) {
      return Buffer.from(this).toString('base64');
    });
    withNativeBase64(native, () => {
      const bytes = new Uint8Array([0, 1, 2, 250, 251]);
      expect(toBase64(bytes)).toBe('AAEC+vs=');
      expect(native).toHaveBeenCalledTimes(1);
      expect(fromBase64(toBase64(bytes))).toStrictEqual(bytes);
    });
  });

  it('refuses non-canonical text (unused bits set), wrong lengths and foreign characters', () => {
    expect(fromBase64('QQ==')).toStrictEqual(new Uint8Array([65]));
    expect(fromBase64('QR==')).toBeUndefined(); // decodes to "A" too, but is not its form
    expect(fromBase64('QUI=')).toStrictEqual(new Uint8Array([65, 66]));
    expect(fromBase64('QUJ=')).toBeUndefined();
    expect(fromBase64('QUJD')).toStrictEqual(new Uint8Array([65, 66, 67]));
    for (const bad of ['QQ=', 'QQ', 'Q===', 'QQ=A', 'QQ-_', 'Q Q=', 'QQ==\n', ' QQ==', 'QUJDé==='])
      expect(fromBase64(bad), bad).toBeUndefined();
  });
});

/** Runs `test` with `Uint8Array.prototype.toBase64` set to `native` (or absent), then restores it. */
function withNativeBase64(native: (() => string) | undefined, test: () => void): void {
  const prototype = Uint8Array.prototype as { toBase64?: () => string };
  const original = Object.getOwnPropertyDescriptor(prototype, 'toBase64');
  if (native) prototype.toBase64 = native;
  else delete prototype.toBase64;
  try {
    test();
  } finally {
    if (original) Object.defineProperty(prototype, 'toBase64', original);
    else delete prototype.toBase64;
  }
}
