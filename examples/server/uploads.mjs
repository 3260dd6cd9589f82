// @ts-check
/**
 * Uploads: binary bodies (a photo before the note that shows it).
 *
 *   POST /api/uploads        raw bytes (any Content-Type but multipart), or multipart/form-data
 *                            with exactly one file part and any text fields
 *                            → 201 { id, url, type, size, filename?, fields? }
 *   GET  /api/uploads/:id    → the bytes, with their Content-Type
 *
 * A POST goes through the same idempotent pipeline as the notes API (app.mjs): a retry with the
 * same Idempotency-Key and the same bytes gets the stored answer and stores nothing again. The
 * bytes are kept apart from the JSON document (content-addressed, in memory or in a folder next
 * to the data file), written before the document records the upload: a crash in between leaves
 * unused bytes, never an upload without its bytes.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { HttpError } from './http-json.mjs';

/** The largest upload accepted (16 MiB). */
export const MAX_UPLOAD_BYTES = 16 * 1024 * 1024;

/**
 * @typedef {{ id: string, type: string, size: number, sha256: string, filename?: string,
 *   fields?: Record<string, string>, createdAt: string }} Upload
 * @typedef {{ type: string, bytes: Buffer, filename?: string, fields?: Record<string, string> }} ParsedUpload
 */

/** Content-addressed bytes: in memory, or one file per SHA-256 in `dir`. */
export class BlobStore {
  /** @type {string | null} */
  #dir;
  /** @type {Map<string, Buffer>} */
  #memory = new Map();

  /** @param {string | null} dir */
  constructor(dir) {
    this.#dir = dir;
  }

  /** Stores `bytes` (durably, with a folder) and resolves with their SHA-256 (hex). @param {Buffer} bytes */
  async put(bytes) {
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (!this.#dir) {
      this.#memory.set(sha, bytes);
      return sha;
    }
    await mkdir(this.#dir, { recursive: true });
    const temp = join(this.#dir, `${sha}.${process.pid}.tmp`);
    try {
      const handle = await open(temp, 'w');
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, join(this.#dir, sha));
    } catch (error) {
      await unlink(temp).catch(() => {});
      throw error;
    }
    return sha;
  }

  /** @param {string} sha @returns {Promise<Buffer | undefined>} */
  async get(sha) {
    if (!this.#dir) return this.#memory.get(sha);
    return readFile(join(this.#dir, sha)).catch(() => undefined);
  }
}

/**
 * @param {string} pathname
 * @returns {{ id: string | null } | null} the upload id (null for the collection), or null when
 *   the path is not an uploads route
 */
export function routeUploads(pathname) {
  if (pathname === '/api/uploads' || pathname === '/api/uploads/') return { id: null };
  const match = /^\/api\/uploads\/([A-Za-z0-9_-]{1,64})$/.exec(pathname);
  return match ? { id: /** @type {string} */ (match[1]) } : null;
}

/**
 * What a POST carries: the raw body, or a multipart body's one file and its text fields.
 * @param {Buffer} bytes @param {string | undefined} contentType
 * @returns {ParsedUpload}
 */
export function parseUpload(bytes, contentType = '') {
  const boundary = /^multipart\/form-data\s*;.*\bboundary=(?:"([^"]+)"|([^\s;]+))/i.exec(contentType);
  if (!boundary) {
    if (/^multipart\//i.test(contentType)) throw invalid('A multipart body needs a boundary.');
    return { type: contentType || 'application/octet-stream', bytes };
  }
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  /** @type {Record<string, string>} */
  const fields = {};
  /** @type {ParsedUpload | undefined} */
  let file;
  let at = bytes.indexOf(delimiter);
  if (at < 0) throw invalid('The multipart body has no part.');
  for (;;) {
    const after = at + delimiter.length;
    if (bytes.subarray(after, after + 2).toString() === '--') break; // the closing delimiter
    if (bytes.subarray(after, after + 2).toString() !== '\r\n') throw invalid('Malformed multipart body.');
    const headEnd = bytes.indexOf('\r\n\r\n', after + 2);
    const next = bytes.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headEnd);
    if (headEnd < 0 || next < 0) throw invalid('Malformed multipart body.');
    const head = bytes.subarray(after + 2, headEnd).toString('utf8');
    const content = bytes.subarray(headEnd + 4, next);
    const disposition = /content-disposition:\s*form-data\s*;([^\r\n]*)/i.exec(head)?.[1] ?? '';
    const name = /\bname="([^"]*)"/.exec(disposition)?.[1];
    const filename = /\bfilename="([^"]*)"/.exec(disposition)?.[1];
    if (name === undefined) throw invalid('A multipart part has no name.');
    if (filename === undefined) fields[name] = content.toString('utf8');
    else if (file) throw invalid('Send one file per upload.');
    else {
      const type = /content-type:\s*([^\r\n]+)/i.exec(head)?.[1]?.trim() || 'application/octet-stream';
      file = { type, bytes: Buffer.from(content), filename };
    }
    at = next + 2;
  }
  if (!file) throw invalid('The multipart body has no file part.');
  return Object.keys(fields).length > 0 ? { ...file, fields } : file;
}

/**
 * Records an upload whose bytes are stored (`sha256`), in `data` (the document's draft).
 * @param {{ uploads?: Upload[], nextUploadNumber?: number }} data
 * @param {ParsedUpload & { sha256: string }} upload
 * @param {number} now
 */
export function recordUpload(data, upload, now) {
  data.uploads ??= [];
  data.nextUploadNumber ??= 1;
  /** @type {Upload} */
  const record = {
    id: `u_${data.nextUploadNumber++}`,
    type: upload.type,
    size: upload.bytes.length,
    sha256: upload.sha256,
    createdAt: new Date(now).toISOString(),
  };
  if (upload.filename !== undefined) record.filename = upload.filename;
  if (upload.fields) record.fields = upload.fields;
  data.uploads.push(record);
  const { sha256: _sha, createdAt: _at, ...shown } = record;
  const url = uploadUrl(record.id);
  return { reply: { status: 201, json: { ...shown, url }, headers: { Location: url } }, changed: true };
}

/** @param {string} id */
export function uploadUrl(id) {
  return `/api/uploads/${id}`;
}

/**
 * The upload an id (`u_1`) or a URL (`/api/uploads/u_1`, or absolute) names, or undefined.
 * @param {{ uploads?: Upload[] }} data @param {string} reference
 */
export function findUpload(data, reference) {
  const path =
    /^https?:\/\//.test(reference) && URL.canParse(reference) ? new URL(reference).pathname : reference;
  const id = routeUploads(path)?.id ?? reference;
  return data.uploads?.find((upload) => upload.id === id);
}

/** @param {string} message */
function invalid(message) {
  return new HttpError(400, 'invalid-upload', message);
}
