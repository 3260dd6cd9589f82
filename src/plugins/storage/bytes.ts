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
 * included (so a record can be refused): `atob` also takes whitespace, missing padding and unused
 * bits set, so the text must be the one `btoa` writes back — one byte string has one text form.
 * @internal
 */
export function fromBase64(text: unknown): Uint8Array | undefined {
  let binary: string;
  try {
    binary = atob(text as string);
  } catch {
    return undefined;
  }
  if (btoa(binary) !== text) return undefined;
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
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** 4-byte big-endian length, to make concatenations unambiguous. @internal */
export function uint32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  return out;
}

/** Compares two byte strings in time independent of where they differ. @internal */
export function equalInConstantTime(a: Uint8Array, b: Uint8Array): boolean {
  let difference = a.length ^ b.length;
  const length = Math.max(a.length, b.length);
  for (let i = 0; i < length; i++) difference |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return difference === 0;
}

/** `length` bytes from `crypto.getRandomValues`. @internal */
export function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  globalThis.crypto.getRandomValues(bytes);
  return bytes;
}
