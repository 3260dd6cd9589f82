/**
 * True when `response` is a redirect, which Fluxy never follows: a 3xx (but 304 Not Modified, no
 * redirect), an opaque redirect (what a browser's fetch gives for `redirect: 'manual'`), or a
 * response a custom `fetch` reached by following one anyway (`redirected`). A write answered so
 * fails with `sync/redirected`, a read rejects with it (send-request.ts, read-request.ts: the one
 * module both lazy chunks import, so the check is written once and stays off the start-up path).
 * @internal
 */
export function isRedirect(response: Response): boolean {
  const { status } = response;
  return (
    response.redirected ||
    response.type === 'opaqueredirect' ||
    (status > 299 && status < 400 && status !== 304)
  );
}
