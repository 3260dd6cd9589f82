import { batchAnswers, prepareBatch } from './batch.js';
import type { FlushSummary, OutboxStores, Step, SyncEngine, SyncEngineDeps } from './engine.js';
import type { Operation, OperationRecord } from './operation.js';
import type { classify } from './transport.js';

// Loaded by the first flush of an app with the `batch` option (with batch.ts): the engine's side of
// a batch, off the start-up path of the apps without. Like batch.ts it imports no code of the
// entry's (only types): what it needs of it comes as arguments.

/**
 * Send up to `batch.max` operations from the head in one request (see `prepareBatch`), or
 * resolve undefined: the head goes alone. The leading successes leave the queue together; the
 * first other answer is handled as a single request's would be; those after it were not sent.
 * `skip`: the operation whose answer is still to commit. @internal
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
    classify: typeof classify;
    defaultMaxResponseBytes: number;
  },
): Promise<Step | undefined> {
  const { transport } = deps;
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
    // No answer to the batch as a whole: none of its operations was answered; the head says why.
    if (result.kind !== 'response') return await engine.handleUnanswered(first, result, summary);
    engine.heardBack(); // as for one op
    if (result.status === 401) return await engine.settleAnswer(first, result, summary);
    const read = batchAnswers(result, prepared, deps.now(), entry.classify);
    if (!('sent' in read)) return await engine.retryLater(first, read, result.retryAfter, summary);
    const { answers, sent } = read;
    if (sent > 0) await engine.commitSent(members.slice(0, sent), answers.slice(0, sent));
    summary.sent += sent;
    const rest = answers[sent];
    return rest ? await engine.settleAnswer(members[sent] as OperationRecord, rest, summary) : 'next';
  });
}
