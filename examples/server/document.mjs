// @ts-check
/**
 * The shape of the database document: everything the server keeps, persisted as one JSON file
 * (see store.mjs), so that a note, its log entry and the response stored under its
 * Idempotency-Key are always written together.
 */
import { newEpoch } from './notes.mjs';

/**
 * @typedef {{ seq: number, key: string | null, method: string, path: string, body: unknown, at: string }} LogEntry
 * @typedef {import('./notes.mjs').NotesData & {
 *   version: 1,
 *   nextSeq: number,
 *   log: LogEntry[],
 *   keys: import('./idempotency.mjs').KeyTable,
 *   nextUploadNumber?: number,
 *   uploads?: import('./uploads.mjs').Upload[],
 * }} Document
 */

/**
 * New data, with a new epoch (see notes.mjs): its cursors and note ids are never those of data
 * before it.
 * @returns {Document}
 */
export function emptyDocument() {
  return {
    version: 1,
    epoch: newEpoch(),
    nextNoteNumber: 1,
    notes: [],
    nextSeq: 1,
    log: [],
    keys: {},
    nextUploadNumber: 1,
    uploads: [],
  };
}

/**
 * @param {unknown} document as loaded from the data file
 * @param {string | null} file for the error message
 */
export function checkDocument(document, file) {
  const doc = /** @type {Partial<Document> | null} */ (document);
  if (
    doc?.version !== 1 ||
    !Array.isArray(doc.notes) ||
    !Array.isArray(doc.log) ||
    typeof doc.keys !== 'object'
  ) {
    throw new Error(`The data file ${file} is not a version 1 notes database. Move it away, then restart.`);
  }
}
