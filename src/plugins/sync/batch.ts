import type { OutboxStores } from './engine.js';
import type { Operation, OperationError, OperationRecord } from './operation.js';
import type { SendResult, TransportOptions } from './transport.js';

// Loaded on first use, only when the `batch` option is set; it imports no code of the entry's (only
// types), so the entry is not split into shared chunks for it.

type Answer = Extract<SendResult, { kind: 'response' }>;

/** The most UTF-16 units of operations in one batch (the reference server takes 4 MiB); less after a 413. */
export const maxBatchChars = 1_000_000;

/** A batch ready to send: its operations (in order) and the request that carries them. @internal */
export interface PreparedBatch {
  members: OperationRecord[];
  keys: string[];
  request: Operation;
  body: string;
  transport: TransportOptions;
  /** The largest body read for one operation's answer. */
  maxBytes: number;
}

/**
 * The batch that starts at the head, from `ids` (the first `max` pending operations, in order, up to
 * one still being queued or discarded): those that can go, read and with
 * their known temporary ids resolved (stored before sending, as for one op). It ends before an
 * operation that is not ready to go alone either (unreadable, waiting for its retry, with an answer
 * to commit, its temporary-id dependency failed), that mentions the temporary id of a create in
 * this batch (it needs that create's answer first), that cannot be JSON (a binary body), a GET, that goes
 * to another origin than the batch endpoint's, or that would take the ops over `maxChars`.
 * Undefined when fewer than two operations can go: the head is sent alone; null when the head
 * needs a create that was not in the list yet (it now is: see `TempIds.resolve`), which goes first.
 * `relist`: no Web Locks (temp-ids.ts is loaded for every op). @internal
 */
export async function prepareBatch(
  { readAhead, ...stores }: OutboxStores,
  transport: TransportOptions,
  now: number,
  batch: { url: string; max: number },
  skip: string | undefined,
  ids: string[],
  toOperation: (record: OperationRecord) => Operation,
  maxBytes: number,
  relist: boolean,
  maxChars: number,
): Promise<PreparedBatch | undefined | null> {
  if (ids.length < 2) return undefined;
  // Read ahead together; the copies of those that do not go now are kept for the next batch.
  readAhead.prefetch(...ids);
  const { resolveUrl, isAllowedOrigin, headers } = transport;
  const origin = resolveUrl(batch.url).origin;
  const members: OperationRecord[] = [];
  const keys: string[] = [];
  const entries: string[] = [];
  const created = new Set<string>();
  // Each URL resolved and checked once (a queue mostly repeats a few): its path, or undefined when
  // it does not resolve or goes elsewhere than the batch endpoint's origin.
  const paths = new Map<string, string | undefined>();
  let chars = 0;
  for (const id of ids) {
    let record = await readAhead.peek(id).catch(() => undefined);
    if (!record || record.id === skip || (record.nextAttemptAt ?? 0) > now) break;
    if (record.binary || (record.body !== undefined && typeof record.body !== 'string')) break; // not JSON text
    // A batch carries writes (the server contract): a GET, which the server would refuse with the
    // whole batch, goes alone.
    if (record.method === 'GET') break;
    const own = record.tempId;
    // temp-ids.ts is loaded for an op that introduces or refers to one, and without Web Locks for
    // every op (else none is known); see the engine's #sendHead.
    const tempIds = own !== undefined || record.refs || relist ? await stores.loadTempIds() : stores.tempIds;
    const resolved = tempIds ? await tempIds.resolve(record) : record;
    // A create it needs goes first (TempIds.resolve put it in the list; null: the head's).
    if (!resolved) {
      if (members.length === 0) return null;
      break;
    }
    if ('code' in resolved) break; // fails alone (see the engine's #sendHead)
    // Its create is in this batch: it goes first in the next one, with the server id (not written now).
    if (resolved.refs?.some((ref) => created.has(ref))) break;
    if (resolved.rev !== record.rev) await readAhead.write(resolved);
    record = resolved;
    if (!paths.has(record.url)) {
      let path: string | undefined;
      try {
        const url = resolveUrl(record.url);
        if (url.origin === origin && isAllowedOrigin?.(url) !== false) path = url.pathname + url.search;
      } catch {}
      paths.set(record.url, path);
    }
    const url = paths.get(record.url);
    if (url === undefined) break;
    const key = record.keyGen ? `${record.id}.${record.keyGen}` : record.id; // as toOperation() says
    const entry = JSON.stringify({ id: key, method: record.method, url, headers: record.headers ?? {} });
    const text = record.body === undefined ? entry : `${entry.slice(0, -1)},"body":${record.body}}`;
    chars += text.length;
    if (members.length > 0 && chars > maxChars) break;
    if (own !== undefined) created.add(own);
    members.push(record);
    keys.push(key);
    entries.push(text);
  }
  if (members.length < 2) return undefined;
  const first = toOperation(members[0] as OperationRecord);
  return {
    members,
    keys,
    // No Idempotency-Key on the batch itself: each operation carries its own.
    request: { ...first, method: 'POST', url: batch.url, idempotencyKey: '', headers: {} },
    body: `{"ops":[${entries.join(',')}]}`,
    transport: {
      ...transport,
      // Evaluated once, for the first operation, and sent on the batch request.
      headers: typeof headers === 'function' ? () => headers(first) : headers,
      maxResponseBytes: maxBytes * members.length,
    },
    maxBytes,
  };
}

/**
 * The answers to the operations of a batch (`keys`, in order) from its `200 { results: [{ id,
 * status, body }] }`: one per operation the server answered, in order, each as if it had been
 * sent alone (the batch's `Retry-After` on each), a body over `maxBytes` dropped (`too-large`),
 * and how many lead that are `sent` (by `classify`) and can be committed together — not a create
 * whose body was dropped (its server id is in it); or, when the answer is not that, the error of
 * the whole batch (retried). @internal
 */
export function batchAnswers(
  answer: Answer,
  { keys, members, maxBytes }: PreparedBatch,
  at: number,
  classify: (answer: Answer) => string,
): { answers: Answer[]; sent: number } | OperationError {
  const results = (answer.body as { results?: unknown } | null | undefined)?.results;
  // A body re-serialised is no longer than in the answer (short of exponents), so within an answer
  // no larger than `maxBytes` none is measured (≈ 1 % of a 100-op flush's time in Node).
  const measure = !(answer.bytes !== undefined && answer.bytes <= maxBytes);
  const answers: Answer[] = [];
  if (
    answer.status === 200 &&
    !answer.bodyProblem &&
    Array.isArray(results) &&
    results.length <= keys.length
  ) {
    for (const [index, result] of results.entries()) {
      const { id, status, body } = (result ?? {}) as { id?: unknown; status?: unknown; body?: unknown };
      if (
        id !== keys[index] ||
        !Number.isInteger(status) ||
        (status as number) < 200 ||
        (status as number) > 599
      )
        break;
      const one: Answer = { kind: 'response', status: status as number, retryAfter: answer.retryAfter, body };
      if (measure && body !== undefined && JSON.stringify(body).length > maxBytes) {
        one.body = undefined;
        one.bodyProblem = 'too-large';
      }
      answers.push(one);
    }
    if (answers.length > 0 && answers.length === results.length) {
      let sent = 0;
      for (const one of answers) {
        if (classify(one) !== 'sent' || (members[sent]?.tempId && one.bodyProblem)) break;
        sent++;
      }
      return { answers, sent };
    }
  }
  const { status } = answer;
  return status > 299
    ? { code: 'sync/http-error', message: `the server answered ${status}`, status, at }
    : {
        code: 'sync/response-unreadable',
        message: `the batch answer (${status}) is not 200 { results: [{ id, status, body }] } for the operations sent, in order; sending them again with the same keys`,
        status,
        at,
      };
}
