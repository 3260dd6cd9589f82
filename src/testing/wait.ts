import { invalidArgument } from '../core/errors.js';
import { checkOptions, describeInput } from '../core/input-checks.js';

/**
 * `setTimeout` and `clearTimeout` as they were when fluxy/testing was loaded: a test that installs
 * fake timers afterwards (`vi.useFakeTimers()`, Jest's, sinon's) does not stop a wait from
 * timing out, or from taking its turns. @internal
 */
export const realTimers = {
  setTimeout: globalThis.setTimeout.bind(globalThis) as typeof setTimeout,
  clearTimeout: globalThis.clearTimeout.bind(globalThis) as typeof clearTimeout,
};

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
    timer = realTimers.setTimeout(
      () => reject(new Error(`timed out after ${reportedMs} ms: ${describe()}`)),
      timeoutMs,
    );
  });
  return Promise.race([promise, timeout]).finally(() => realTimers.clearTimeout(timer));
}

/**
 * The `{ timeoutMs?, label? }` of a wait (`waitForRequests()`, `settled()` with `collections`
 * too), checked for `where`: names it does not know and values of the wrong type are refused
 * with `invalid-argument`. @internal
 */
export function checkWaitOptions<K extends string = never>(
  options: unknown,
  where: string,
  more: readonly K[] = [],
): { timeoutMs?: number; label?: string } & Partial<Record<K, unknown>> {
  const refuse = (problem: string) =>
    invalidArgument(`${where}: ${problem}, e.g. { timeoutMs: 2000, label: 'the first POST' }.`);
  const given = checkOptions(options, ['timeoutMs', 'label', ...more], (problem) =>
    refuse(`options ${problem}`),
  );
  const { timeoutMs, label } = given;
  if (
    timeoutMs !== undefined &&
    !(typeof timeoutMs === 'number' && Number.isFinite(timeoutMs) && timeoutMs >= 0)
  )
    throw refuse(`timeoutMs must be a number of milliseconds from 0 (got ${describeInput(timeoutMs)})`);
  if (label !== undefined && typeof label !== 'string')
    throw refuse(`label must be a string (got ${describeInput(label)})`);
  return given as { timeoutMs?: number; label?: string } & Partial<Record<K, unknown>>;
}
