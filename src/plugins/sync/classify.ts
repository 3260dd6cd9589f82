// What an attempt's result means. Imported by the lazy chunks that act on answers (send-request,
// queue-edits, batch-send) and by no module of the entry: off the start-up path.

/**
 * What the flusher does with the result of one attempt. Decided by status code or error kind,
 * never by parsing a message.
 * - `sent`: the server took it (2xx) — remove the operation.
 * - `retry`: the server answered but asks to try again later (408, 409, 425, 429, 5xx).
 * - `offline`: no answer (network error, our timeout) — retry with the same key, tell connectivity.
 * - `unauthorized`: 401 — keep the operation at the head and pause the queue.
 * - `fail`: any other 4xx, or a redirect fetch did not follow — it can never succeed as is.
 */
export type Outcome = 'sent' | 'retry' | 'offline' | 'unauthorized' | 'fail';

/** The result of one attempt: an HTTP status, or a failure to get one. */
export type AttemptResult = { status: number } | { error: 'network' | 'timeout' };

const retryableStatuses = new Set([408, 409, 425, 429, 500, 502, 503, 504]);

/** Classify one attempt's result. Pure. */
export function classify(result: AttemptResult): Outcome {
  if ('error' in result) return 'offline';
  const { status } = result;
  if (status >= 200 && status < 300) return 'sent';
  if (status === 401) return 'unauthorized';
  if (retryableStatuses.has(status) || status >= 500) return 'retry';
  return 'fail';
}
