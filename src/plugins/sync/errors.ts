/**
 * Codes of the errors the Sync plugin throws, or stores as an operation's `lastError.code`.
 *
 * Thrown by `queue()` and friends (nothing is stored): `sync/invalid-method`, `sync/invalid-url`,
 * `sync/invalid-body`, `sync/body-too-large`, `sync/invalid-headers`, `sync/credentials-in-queue`,
 * `sync/invalid-options`, `sync/origin-not-allowed` (the URL is not on `baseUrl`'s origin nor in
 * `allowedOrigins`; also kept on a stored op found to point elsewhere at send time, never sent).
 *
 * Given to a `defineMutation` rollback when `queue()` refused the request: `sync/not-queued`.
 *
 * Kept on an operation (`op.lastError.code`): `sync/http-error` (the server answered with an
 * error status), `sync/redirected` (the server answered a 3xx or an opaque redirect; never followed,
 * `lastError.location` names the target when known; `sync.read()` rejects with it too), `sync/network-error`
 * (no answer, or a lazy chunk that could not load — also thrown by a method that needed it), `sync/timeout`, `sync/max-attempts`,
 * `sync/record-unreadable` (the stored record failed authentication or decryption; never sent),
 * `sync/headers-failed` (the `headers` option threw), `sync/response-unreadable` (a create with a
 * `tempId` was accepted but its response could not be read — timeout, cut short, not JSON, over
 * `maxResponseBytes` — so it is asked again with the same key; or a batch's answer is not
 * `200 { results }` for the operations sent, which are all sent again), `sync/dependency-failed` (it refers to the
 * `tempId` of a create that failed for good or was discarded), `sync/invalid-url` (a server id `.` or `..` would replace a temporary id in its URL's path, where URL parsing removes it: failed unsent), `sync/storage-failed` (reading or
 * writing the outbox failed during a flush; retried with backoff), `sync/storage-lost` (in
 * `lastError` only: the database was wiped — between runs, until the next success; or under the
 * running app, for good: nothing more is sent or queued until a reload).
 */
export type SyncErrorCode =
  | 'sync/invalid-method'
  | 'sync/invalid-url'
  | 'sync/invalid-body'
  | 'sync/body-too-large'
  | 'sync/invalid-headers'
  | 'sync/credentials-in-queue'
  | 'sync/origin-not-allowed'
  | 'sync/invalid-options'
  | 'sync/http-error'
  | 'sync/redirected'
  | 'sync/response-unreadable'
  | 'sync/network-error'
  | 'sync/timeout'
  | 'sync/max-attempts'
  | 'sync/record-unreadable'
  | 'sync/headers-failed'
  | 'sync/dependency-failed'
  | 'sync/storage-failed'
  | 'sync/storage-lost'
  | 'sync/not-queued';
