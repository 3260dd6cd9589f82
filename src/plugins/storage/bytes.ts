// Byte encodings shared by both cipher engines, so both produce byte-identical records.

/** Standard base64 with padding. @internal */
export function toBase64(bytes: Uint8Array): string {
  // Native where there is one (Chromium, Firefox, Safari 18.2; not Node 20): a pulled page's
  // records spent ≈ 8% of the pull here in JavaScript. Same text: standard alphabet, padded.
  if ((bytes as Native).toBase64) return (bytes as Native).toBase64();
  // 32 KB at a time: one call per chunk, not one string concatenation per byte (a 75 KB record
  // spent ≈ 5 ms here in Chromium).
  let binary = '';
  for (let start = 0; start < bytes.length; start += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(start, start + 0x8000) as unknown as number[]);
  }
  return btoa(binary);
}

/** `Uint8Array.prototype.toBase64` (ES2026), not in TypeScript's library yet. */
type Native = Uint8Array & { toBase64(): string };

/**
 * Decodes canonical standard base64; `undefined` for anything else, a value that is not a string
 * included (so a record can be refused): one byte string has one text form. Decoded by the
 * platform's `Uint8Array.fromBase64` where there is one (Chromium: ≈ 2–3× faster than `atob` and
 * a loop), else `atob`; both also take whitespace, missing padding and unused bits set. The text
 * is that form when, from where that form's last group starts, it is that group (padding, unused
 * bits): then it has that form's length, and whitespace could only stand for padding, which ends
 * a text. Cheaper than encoding all the bytes again. @internal
 */
export function fromBase64(text: unknown): Uint8Array | undefined {
  try {
    const bytes = (Uint8Array as unknown as NativeFrom).fromBase64?.(text) ?? latin1(atob(text as string));
    const n = bytes.length;
    return toBase64(bytes.subarray(-(n % 3 || 3))) === (text as string).slice((((n + 2) / 3) | 0) * 4 - 4)
      ? bytes
      : undefined;
  } catch {
    return undefined;
  }
}

/** `Uint8Array.fromBase64` (ES2026), not in TypeScript's library yet. */
type NativeFrom = { fromBase64?(text: unknown): Uint8Array };

function latin1(binary: string): Uint8Array {
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** UTF-8 bytes of a well-formed string. @internal */
export function utf8Encode(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** The string of UTF-8 bytes; throws a TypeError on invalid UTF-8. @internal */
export function utf8Decode(bytes: Uint8Array): string {
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
}

/** The concatenation of `parts`. @internal */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  parts.reduce((offset, part) => {
    out.set(part, offset);
    return offset + part.length;
  }, 0);
  return out;
}

/** 4-byte big-endian length, to make concatenations unambiguous. @internal */
export function uint32(value: number): Uint8Array {
  return Uint8Array.of(value >>> 24, value >>> 16, value >>> 8, value);
}

/** Compares two byte strings in time independent of where they differ. @internal */
export function equalInConstantTime(a: Uint8Array, b: Uint8Array): boolean {
  // Over `a` (the expected length): a missing byte of `b` reads as 0, and the lengths differ.
  let difference = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) difference |= (a[i] as number) ^ (b[i] as number);
  return !difference;
}

/** `length` bytes from `crypto.getRandomValues`. @internal */
export function randomBytes(length: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(length));
}
