/**
 * Binary bodies (Blob/File, bytes, FormData): every step that is specific to them — storing the
 * chunks at `queue()`, reading them back at each attempt, removing them on discard and
 * clearQueue — is here, loaded on demand (dynamic import) by the first `queue()`, send, discard
 * or clear that needs it, so apps that never send one do not download it. The eager code only
 * recognises a binary body (request-validation.ts) and tests `record.binary`.
 *
 * Storage: the operation's record keeps a {@link BinaryManifest}; the bytes are in chunks of
 * {@link chunkBytes} under `b/<id>/<n>`, each a base64 string, encrypted and authenticated (under
 * its key) like every record when the storage has a secret. The chunks are committed in the
 * same write group as the record, after it: neither is stored without the other on a driver
 * with transactions, and a crash part-way through a commit on one without leaves an op whose
 * body cannot be read (it fails unsent), never a partial body sent.
 */
// Type imports only: a runtime import of a module the sync entry loads would make the bundler
// split that module into a chunk of its own, which costs every app more than this file saves.
// (Errors are the caller's FluxyError, passed in.)
import type { SyncErrorCode } from './errors.js';
import type { BinaryManifest, OperationError, OperationRecord } from './operation.js';
import type { OutboxStorage } from './outbox.js';
import type { BinaryDraft, FormField, OperationDraft } from './request-validation.js';
import type { WriteGroup } from './write-group.js';

/** Where chunk `index` of operation `id`'s body is stored. */
const chunkKey = (id: string, index: number): string => `b/${id}/${index}`;

/**
 * Bytes per stored chunk: 35 KiB. Stored, a chunk is base64 (×4/3), and with a secret that text
 * is encrypted and the ciphertext in base64 again (×4/3): 35 KiB make a 63,824-character record,
 * under 64 KiB — in Chromium an IndexedDB value over 64 KiB is written as a blob file, ≈ 4× the
 * cost (measured on collections' parts). 40 KiB would make 72,932.
 */
export const chunkBytes = 35 * 1024;

/**
 * Store the operation `record` (staged in `group`, with the temporary id it introduces) with the
 * binary body of `draft`: check it (its size, a form's entries), read its bytes a chunk at a
 * time, add them to `group` after the operation (whose record gets the manifest), and commit.
 * Rejects with a `RefusalError` (the caller's FluxyError; so named: the production build strips
 * the prose of a `new …Error()`) — `sync/body-too-large`, `sync/invalid-body`
 * (also when a File can no longer be read), `sync/invalid-headers` — after settling `group` as
 * not committed (nothing is stored).
 */
export async function store(
  outbox: { commit(group: WriteGroup): Promise<void> },
  group: WriteGroup,
  record: OperationRecord,
  draft: OperationDraft,
  RefusalError: new (code: SyncErrorCode, message: string, options?: { cause: unknown }) => Error,
): Promise<void> {
  try {
    await stageChunks(
      group,
      record,
      draft.binary as BinaryDraft,
      (code, message) => new RefusalError(code, message),
    );
  } catch (cause) {
    const error =
      cause instanceof RefusalError
        ? cause
        : new RefusalError(
            'sync/invalid-body',
            `queue(): the binary body could not be read (${String(cause)}); nothing was stored. A File changed or removed on disk since it was picked cannot be read: pick it again.`,
            { cause },
          );
    // Nothing is stored: a commit that fails at once tells the group's parts (the temporary id
    // it introduces is forgotten, so the same create can be queued again) and rethrows.
    await group.commit({ commit: () => Promise.reject(error) });
  }
  await outbox.commit(group);
}

/**
 * Add to `group` the removal of the chunks stored under `b/<prefix>`: `<id>/` for one
 * operation's (discard).
 */
export async function stageChunkRemoval(
  storage: OutboxStorage,
  group: WriteGroup,
  prefix: string,
): Promise<void> {
  for (const key of await storage.keys(`b/${prefix}`)) group.remove(key);
}

async function stageChunks(
  group: WriteGroup,
  record: OperationRecord,
  binary: BinaryDraft,
  refuse: (code: SyncErrorCode, message: string) => Error,
): Promise<void> {
  const { data: given, maxBytes } = binary;
  const invalidBody = (problem: string): Error =>
    refuse('sync/invalid-body', `queue(): the body ${problem}.`);
  let source: Blob | Array<[unknown, unknown]>;
  if (given instanceof FormData) source = [...(given as unknown as Iterable<[unknown, unknown]>)];
  else if (given instanceof Blob) source = given;
  else {
    // Bytes are copied into a Blob. A detached buffer (transferred to a worker or with
    // postMessage) cannot be: slice() throws for it (a Blob of one is silently empty in browsers).
    try {
      ((given as ArrayBufferView).buffer ?? given).slice(0, 0);
    } catch {
      throw invalidBody(
        'could not be read: a detached ArrayBuffer (transferred to a worker or with postMessage)? Queue a copy made before the transfer',
      );
    }
    source = new Blob([given as ArrayBuffer]);
  }
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
    globalThis.crypto.getRandomValues(random);
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
export async function load(
  storage: { get(key: string): Promise<unknown> },
  record: OperationRecord,
  now: number,
): Promise<Blob | OperationError> {
  const unreadable = (problem: string): OperationError => ({
    code: 'sync/record-unreadable',
    message: `the stored binary body cannot be read (${problem}), so it was not sent: discard the operation and queue it again`,
    at: now,
  });
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
