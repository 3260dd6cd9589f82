import { FluxyError } from '../../core/errors.js';
import type { FetchFunction } from '../../core/platform-types.js';
import type { Timers } from './monitor-options.js';
import type { ResolvedProbe } from './options.js';

/** One probe request on its way. @internal */
export interface ProbeRequest {
  /** True when any HTTP response arrived; false on a network error, a timeout or `stop()`. Never rejects. */
  readonly answered: Promise<boolean>;
  /** Abort the request and settle `answered` with false at once (clearing its timeout timer). */
  stop(): void;
}

/**
 * Send one probe: `url` with the probe's method, no HTTP cache, and a timeout. A `fetch` that
 * ignores its abort signal cannot hold the caller: the timeout and `stop()` settle `answered`
 * themselves. @internal
 */
export function sendProbe(
  url: string,
  probe: ResolvedProbe,
  fetch: FetchFunction,
  timers: Timers,
): ProbeRequest {
  const controller = new AbortController();
  let settle: (answered: boolean) => void = () => {};
  const answered = new Promise<boolean>((resolve) => {
    settle = resolve;
  });
  const timeout = timers.setTimeout(() => stop(), probe.timeoutMs);
  const finish = (value: boolean): void => {
    timers.clearTimeout(timeout);
    settle(value);
  };
  const stop = (): void => {
    finish(false);
    controller.abort(new FluxyError('connectivity/aborted', 'The connectivity probe was stopped.'));
  };
  request(url, probe, fetch, controller.signal).then(finish);
  return { answered, stop };
}

async function request(
  url: string,
  probe: ResolvedProbe,
  fetch: FetchFunction,
  signal: AbortSignal,
): Promise<boolean> {
  try {
    const response = await fetch(url, { method: probe.method, signal, cache: 'no-store' });
    discardBody(response);
    return true;
  } catch {
    return false;
  }
}

function discardBody(response: unknown): void {
  // Free the connection: the status is all a probe needs.
  const body = (response as { body?: { cancel?: () => Promise<void> } } | null | undefined)?.body;
  try {
    body?.cancel?.().catch(() => {});
  } catch {
    // A locked or consumed body needs no cancelling.
  }
}
