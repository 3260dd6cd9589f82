/**
 * `promise`, or a rejection after `timeoutMs` whose message is `timed out after <ms> ms: ` plus
 * what `describe()` says then (what was awaited and what the state was); `reportedMs` is the
 * figure the message gives (a whole wait's budget, of which this is the rest). The timer is cleared
 * either way, so a pending wait never keeps a test process alive. @internal
 */
export function withTimeout<T>(
  promise: Promise<T>,
  timeoutMs: number,
  describe: () => string,
  reportedMs = timeoutMs,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${reportedMs} ms: ${describe()}`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
