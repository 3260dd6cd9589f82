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

  it("decodes with the platform's Uint8Array.fromBase64 where there is one, refusing the same texts", () => {
    // The native decoder's default ("loose") takes what atob takes: whitespace, missing padding, unused bits.
    const native = vi.fn((text: unknown) => {
      if (typeof text !== 'string') throw new TypeError('not a string');
      return new Uint8Array(Buffer.from(atob(text), 'latin1'));
    });
    const typedArray = Uint8Array as unknown as { fromBase64?: typeof native };
    typedArray.fromBase64 = native;
    try {
      expect(fromBase64('QUI=')).toStrictEqual(new Uint8Array([65, 66]));
      expect(native).toHaveBeenCalledTimes(1);
      expectCanonicalOnly();
    } finally {
      delete typedArray.fromBase64;
    }
  });

  it('refuses non-canonical text (unused bits set), wrong lengths and foreign characters', () => {
    expectCanonicalOnly();
  });
});

function expectCanonicalOnly(): void {
  expect(fromBase64('QQ==')).toStrictEqual(new Uint8Array([65]));
  expect(fromBase64('QR==')).toBeUndefined(); // decodes to "A" too, but is not its form
  expect(fromBase64('QUI=')).toStrictEqual(new Uint8Array([65, 66]));
  expect(fromBase64('QUJ=')).toBeUndefined();
  expect(fromBase64('QUJD')).toStrictEqual(new Uint8Array([65, 66, 67]));
  for (const bad of [
    'QQ=',
    'QQ',
    'Q===',
    'QQ=A',
    'QQ-_',
    'Q Q=',
    'QQ==\n',
    ' QQ==',
    'QUJDé===',
    'QQ\n\n',
    'QU JDQQ==',
  ])
    expect(fromBase64(bad), bad).toBeUndefined();
  for (const notText of [null, undefined, 81, ['QUJD'], { length: 4 }])
    expect(fromBase64(notText)).toBeUndefined();
  expect(fromBase64('')).toStrictEqual(new Uint8Array(0));
  // Exactly the texts that atob and btoa give back unchanged (unused bits, padding, whitespace mixed in).
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom(...'ABQR+/=\n '), maxLength: 13 }), (text) => {
      let canonical = false;
      try {
        canonical = btoa(atob(text)) === text;
      } catch {}
      expect(fromBase64(text) !== undefined, JSON.stringify(text)).toBe(canonical);
    }),
    { seed: 3, numRuns: 3000 },
  );
}

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
