import { unstorableKey } from './storage-backend.js';

const plain = /[a-z0-9_-]/;
const maxFileName = 240;

/**
 * A file or folder name for `text` that is safe on every file system: `a-z 0-9 _ -` stay as
 * they are; every other character becomes `~` plus two hex digits per UTF-8 byte (`A` → `~41`),
 * so names never differ only in case (macOS, Windows) and never contain separators.
 * @internal
 */
export function encodeFileName(text: string): string {
  let out = '';
  for (const char of text) {
    if (plain.test(char)) {
      out += char;
    } else {
      for (const byte of new TextEncoder().encode(char)) out += `~${byte.toString(16).padStart(2, '0')}`;
    }
  }
  if (out.length > maxFileName) {
    throw unstorableKey(
      `The key "${text.slice(0, 40)}…" is too long for the file driver (its file name would have ${out.length} characters, at most ${maxFileName}): use a shorter key.`,
    );
  }
  return out;
}

/** The inverse of {@link encodeFileName}; `undefined` for a name it did not produce. @internal */
export function decodeFileName(name: string): string | undefined {
  if (!/^(?:[a-z0-9_-]|~[0-9a-f]{2})*$/.test(name)) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < name.length; ) {
    if (name[i] === '~') {
      bytes.push(Number.parseInt(name.slice(i + 1, i + 3), 16));
      i += 3;
    } else {
      bytes.push(name.charCodeAt(i));
      i += 1;
    }
  }
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
    // One key, one file: `k-a.rec` and a stray `k-~61.rec` must not both read as key "a".
    return encodeFileName(text) === name ? text : undefined;
  } catch {
    return undefined;
  }
}
