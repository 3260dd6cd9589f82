/**
 * Binary bodies (Blob/File, bytes, FormData): stored in chunks beside their operation, and read
 * back chunk by chunk when it is sent. Loaded on demand (dynamic import) by the first `queue()`
 * or flush that meets one, so apps that never send one do not download it.
 *
 * Storage: the operation's record keeps a {@link BinaryManifest}; the bytes are in chunks of
 * {@link chunkBytes} under `b/<id>/<n>`, each a base64 string, encrypted and authenticated (under
 * its key) like every record when the storage has a secret. The chunks are committed in the
 * same write group as the record, before it, so neither exists without the other.
 */
// Type imports only: a runtime import of a module the sync entry loads would make the bundler
// split that module into a chunk of its own, which costs every app more than this file saves.
// (Errors are the caller's FluxyError, passed in.)
import type { SyncErrorCode } from './errors.js';
import type { BinaryManifest, OperationRecord } from './operation.js';
import type { BinaryDraft, FormField } from './request-validation.js';
import type { WriteGroup } from './write-group.js';

/** Where chunk `index` of operation `id`'s body is stored (Outbox.stageBodyRemoval removes `b/<id>/`). */
const chunkKey = (id: string, index: number): string => `b/${id}/${index}`;

/** Bytes per stored chunk (256 KiB). */
export const chunkBytes = 256 * 1024;

/**
 * Check `binary` (its size, a form's entries), read its bytes a chunk at a time, and add them to
 * `group` before the operation (whose record gets the manifest). Rejects with a `Refusal`
 * (FluxyError) — `sync/body-too-large`, `sync/invalid-body` (also when a File can no longer be
 * read), `sync/invalid-headers` — after settling `group` as not committed (nothing is stored).
 */
export async function stageBinary(
  group: WriteGroup,
  record: OperationRecord,
  binary: BinaryDraft,
  randomBytes: (bytes: Uint8Array) => void,
  Refusal: new (code: SyncErrorCode, message: string, options?: { cause: unknown }) => Error,
): Promise<void> {
  try {
    await stageChunks(group, record, binary, randomBytes, (code, message) => new Refusal(code, message));
  } catch (cause) {
    const error =
      cause instanceof Refusal
        ? cause
        : new Refusal(
            'sync/invalid-body',
            `queue(): the binary body could not be read (${String(cause)}); nothing was stored. A File changed or removed on disk since it was picked cannot be read: pick it again.`,
            { cause },
          );
    // Nothing is stored: a commit that fails at once tells the group's parts (the temporary id
    // it introduces is forgotten, so the same create can be queued again) and rethrows.
    await group.commit({ commit: () => Promise.reject(error) });
  }
}

async function stageChunks(
  group: WriteGroup,
  record: OperationRecord,
  binary: BinaryDraft,
  randomBytes: (bytes: Uint8Array) => void,
  refuse: (code: SyncErrorCode, message: string) => Error,
): Promise<void> {
  const { data: source, maxBytes } = binary;
  const invalidBody = (problem: string): Error =>
    refuse('sync/invalid-body', `queue(): the body ${problem}.`);
  const kind = Array.isArray(source) ? 'form' : 'blob';
  let fields: FormField[] | undefined;
  let data: Blob;
  let size: number;
  if (Array.isArray(source)) {
    if (Object.keys(record.headers ?? {}).some((name) => /^content-type$/i.test(name))) {
      throw refuse(
        'sync/invalid-headers',
        'queue(): a FormData body is sent as multipart/form-data with its own boundary: remove the Content-Type header.',
      );
    }
    fields = [];
    const files: Blob[] = [];
    size = 0;
    for (const [name, value] of source) {
      if (fields.length === 1000) throw invalidBody('is a FormData with more than 1000 entries');
      if (typeof name !== 'string')
        throw invalidBody('is a FormData with an entry whose name is not a string');
      size += utf8Length(name);
      if (typeof value === 'string') {
        fields.push({ name, value });
        size += utf8Length(value);
      } else if (value instanceof Blob) {
        const filename = typeof (value as File).name === 'string' ? (value as File).name : 'blob';
        fields.push({ name, filename, type: value.type, size: value.size });
        files.push(value);
        size += value.size + utf8Length(filename);
      } else {
        throw invalidBody(`is a FormData whose entry "${name}" is neither a string nor a Blob/File`);
      }
    }
    data = new Blob(files);
  } else {
    data = source;
    size = data.size;
  }
  if (size > maxBytes) {
    throw refuse(
      'sync/body-too-large',
      `queue(): the binary body takes ${size} bytes, over the limit of ${maxBytes}. Make it smaller (e.g. resize the image before queueing it), or raise the SyncPlugin option maxBodyBytes (binary bodies may take ten times that).`,
    );
  }
  const changes: Array<{ key: string; value: string }> = [];
  for (let start = 0; start < data.size; start += chunkBytes) {
    const bytes = new Uint8Array(await data.slice(start, start + chunkBytes).arrayBuffer());
    changes.push({ key: chunkKey(record.id, changes.length), value: toBase64(bytes) });
  }
  const type = fields ? '' : data.type;
  const manifest: BinaryManifest = { kind, size: data.size, chunks: changes.length, type };
  if (fields) {
    const random = new Uint8Array(16);
    randomBytes(random);
    manifest.boundary = `----fluxy${[...random].map((byte) => byte.toString(16).padStart(2, '0')).join('')}`;
    manifest.fields = fields;
  }
  record.binary = manifest;
  // After the operation in the group: on a driver without transactions (the file driver), a crash
  // part-way through the commit can leave the operation without its body; it then fails unsent
  // (sync/record-unreadable), never sends a partial body.
  for (const change of changes) group.set(change.key, change.value);
}

/**
 * The request body of a binary operation, rebuilt from its stored chunks, read one at a time
 * (each decrypted chunk becomes a Blob part at once, so the encrypted chunks are never all held
 * together): a Blob typed with the body's Content-Type — for a form, the multipart body with the
 * boundary chosen at `queue()` time, so every attempt sends the same bytes. A chunk missing or
 * failing authentication, or a total of the wrong size, gives the message that says so instead
 * (the operation fails, unsent). Storage errors (unavailable) are thrown.
 */
export async function loadBinaryBody(
  storage: { get(key: string): Promise<unknown> },
  record: OperationRecord,
): Promise<Blob | string> {
  const manifest = record.binary as BinaryManifest;
  const parts: Blob[] = [];
  let size = 0;
  for (let index = 0; index < manifest.chunks; index++) {
    let value: unknown;
    try {
      value = await storage.get(chunkKey(record.id, index));
    } catch (error) {
      // Failed authentication or decryption: never sent. (Unavailable storage is thrown.)
      if (!/^storage\/(tampered|unsupported-version)$/.test((error as { code?: string }).code ?? ''))
        throw error;
      return unreadable(`chunk ${index} failed authentication or decryption`);
    }
    const bytes = typeof value === 'string' ? fromBase64(value) : undefined;
    if (!bytes) return unreadable(`chunk ${index} is missing`);
    size += bytes.length;
    parts.push(new Blob([bytes as Uint8Array<ArrayBuffer>]));
  }
  if (size !== manifest.size) return unreadable(`it has ${size} bytes, not ${manifest.size}`);
  if (manifest.kind !== 'form') return new Blob(parts, { type: manifest.type || 'application/octet-stream' });
  const all = new Blob(parts);
  const boundary = manifest.boundary as string;
  const pieces: BlobPart[] = [];
  let offset = 0;
  for (const field of manifest.fields ?? []) {
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="${escapeName(field.name)}"`;
    if ('value' in field) {
      pieces.push(`${head}\r\n\r\n${field.value.replace(/\r\n|\r|\n/g, '\r\n')}\r\n`);
    } else {
      pieces.push(
        `${head}; filename="${escapeName(field.filename)}"\r\nContent-Type: ${field.type || 'application/octet-stream'}\r\n\r\n`,
        all.slice(offset, offset + field.size),
        '\r\n',
      );
      offset += field.size;
    }
  }
  pieces.push(`--${boundary}--\r\n`);
  return new Blob(pieces, { type: `multipart/form-data; boundary=${boundary}` });
}

/** A field name or file name in a multipart header, escaped as browsers do (HTML's multipart/form-data encoding). */
function escapeName(name: string): string {
  return name
    .replace(/\r\n|\r|\n/g, '\r\n')
    .replace(/\n/g, '%0A')
    .replace(/\r/g, '%0D')
    .replace(/"/g, '%22');
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let start = 0; start < bytes.length; start += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(start, start + 0x8000) as unknown as number[]);
  }
  return btoa(binary);
}

/** The bytes of base64 text; undefined when it is not base64 (the MAC, with a secret, vouches for the rest). */
function fromBase64(text: string): Uint8Array | undefined {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    return undefined;
  }
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
  return bytes;
}

const utf8Length = (text: string): number => new TextEncoder().encode(text).length;

const unreadable = (problem: string): string =>
  `the stored binary body cannot be read (${problem}), so it was not sent: discard the operation and queue it again`;
