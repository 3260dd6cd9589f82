import { batchAnswers, maxBatchChars, prepareBatch } from './batch.js';
import { classify } from './classify.js';
import type { FlushSummary, OutboxStores, Step, SyncEngine, SyncEngineDeps } from './engine.js';
import type { Operation, OperationRecord } from './operation.js';

// Loaded by the first flush of an app with the `batch` option (with batch.ts): the engine's side of
// a batch, off the start-up path of the apps without. Like batch.ts it imports no code of the
// entry's (only types): what it needs of it comes as arguments.

/**
 * The most characters of ops in one batch, per engine for the rest of its session: halved after
 * each 413, 0 once the endpoint gave an answer that is no batch answer (batches stop).
 */
const limits = new WeakMap<SyncEngine, number>();

/**
 * Send up to `batch.max` operations from the head in one request (see `prepareBatch`), or
 * resolve undefined: the head goes alone. The leading successes leave the queue together; the
 * first other answer is handled as a single request's would be; those after it were not sent.
 * An answer to the batch as a whole that says nothing of its ops counts no attempt of any: a 413
 * halves the batches, any other that is no batch answer of the contract (404, 405, another 4xx, a
 * redirect, a malformed 200) stops them (see `limits`); a 5xx, 429… or no answer is retried as
 * the head alone would be, a 401 pauses on the head. `skip`: the operation whose answer is still to commit. @internal
 */
export async function sendBatch(
  engine: SyncEngine,
  batch: { url: string; max: number },
  summary: FlushSummary,
  stores: OutboxStores,
  deps: SyncEngineDeps,
  skip: string | undefined,
  pendingWrites: Iterable<string>,
  disposed: () => boolean,
  entry: {
    toOperation: (record: OperationRecord) => unknown;
    defaultMaxResponseBytes: number;
  },
): Promise<Step | undefined> {
  const { transport } = deps;
  const maxChars = limits.get(engine) ?? maxBatchChars;
  if (!maxChars) return undefined; // batches stopped: the head goes alone
  const writing = [...pendingWrites].sort()[0];
  // Reading the batch (and rewriting the records whose temporary ids it resolves) is part of the
  // step in flight, with its request: a discard() or retry(id) of one of these ops called meanwhile
  // waits for it (a rewrite of a record just discarded would store it again, and send it). Those
  // at or after an op still being queued or discarded are not in the batch, so not in the step.
  const candidates = stores.lists.pending
    .page(undefined, batch.max)
    .filter((id) => writing === undefined || id < writing);
  return await engine.trackStep(candidates, async (signal): Promise<Step | undefined> => {
    const prepared = await prepareBatch(
      stores,
      transport,
      deps.now(),
      batch,
      skip,
      candidates,
      entry.toOperation as (record: OperationRecord) => Operation,
      transport.maxResponseBytes ?? entry.defaultMaxResponseBytes,
      deps.leader.coordination === 'none',
      maxChars,
    );
    if (prepared === null) return 'next'; // a create it needs goes first
    if (!prepared) return undefined; // the head goes alone
    const { members } = prepared;
    // Read and rewritten: from now on only the members are in flight (the array trackStep holds),
    // so a discard of an op left for the next batch does not wait for this request.
    candidates.splice(0, candidates.length, ...members.map((record) => record.id));
    const first = members[0] as OperationRecord;
    // The next batch's records are read while this one is on the wire.
    stores.readAhead.prefetch(
      ...stores.lists.pending.page((members.at(-1) as OperationRecord).id, batch.max),
    );
    const result = await engine.sendRequest(prepared.request, prepared.body, signal, prepared.transport);
    if (result.kind === 'aborted' || disposed()) return 'stop';
    if (result.kind === 'response') {
      engine.heardBack(); // as for one op
      const { status, bodyProblem } = result;
      if (status === 401) return await engine.settleAnswer(first, result, summary);
      if (status === 413) {
        // Too large for the server: no op was run nor judged. The next batches take at most half
        // of this one's characters; an op too large for that goes alone (a 413 fails it then).
        limits.set(engine, prepared.body.length >> 1);
        return 'next';
      }
      const read = batchAnswers(result, prepared, deps.now(), classify);
      if (!('sent' in read)) {
        // Not run now (5xx, 429…) or the answer cut off: retried as the head alone would be.
        if (classify(result) === 'retry' || bodyProblem === 'timeout' || bodyProblem === 'cut-short')
          return await engine.retryLater(first, read, result.retryAfter, summary);
        return stop(engine, deps, batch.url, status);
      }
      const { answers, sent } = read;
      if (sent > 0) await engine.commitSent(members.slice(0, sent), answers.slice(0, sent));
      summary.sent += sent;
      const rest = answers[sent];
      return rest ? await engine.settleAnswer(members[sent] as OperationRecord, rest, summary) : 'next';
    }
    // No answer to the batch as a whole (network, timeout): none of its ops was answered; the head
    // says why. A redirect is no batch answer.
    if (result.kind !== 'redirect') return await engine.handleUnanswered(first, result, summary);
    return stop(engine, deps, batch.url, 'a redirect');
  });
}

/**
 * The batch endpoint gave no batch answer (not there, or not of the contract): its ops go one by
 * one for the rest of the session, each judged by its own answer; none is failed for this.
 */
function stop(engine: SyncEngine, deps: SyncEngineDeps, url: string, answer: number | string): 'next' {
  limits.set(engine, 0);
  deps.logger.warn(
    'The batch endpoint gave no batch answer (docs/server-contract.md, "Batches"): operations are sent one by one for the rest of this session. Endpoint and answer:',
    url,
    answer,
  );
  return 'next';
}
