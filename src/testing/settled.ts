import type { App } from '../core/app.js';
import { invalidArgument } from '../core/errors.js';
import { describeInput } from '../core/input-checks.js';
import { effect, type ReadonlySignal } from '../core/signals.js';
import { checkWaitOptions, realTimers, withTimeout } from './wait.js';

/** Options of {@link settled}. */
export interface SettledOptions {
  /**
   * Reject if the app is not quiet by then. Keep it under the test runner's own timeout (Vitest
   * and Jest: 5 s, hence 4 s here), or that one fires first, without this wait's label and
   * state. @default 4000
   */
  timeoutMs?: number;
  /** Names in the rejection message, to tell waits apart. @default 'settled(app)' */
  label?: string;
  /**
   * Plugin names of collections (`fluxy/collections`) whose pulls must be over too (their
   * `isPulling` signal is false). @default [] (no pull waited for)
   */
  collections?: readonly string[];
}

interface SyncSignals {
  readonly isSyncing: ReadonlySignal<boolean>;
  readonly pendingCount: ReadonlySignal<number>;
  readonly status: ReadonlySignal<string>;
  readonly lastError: ReadonlySignal<{ code: string; status?: number } | null>;
}

/**
 * Resolves when the app is quiet: no flush running, no pull running, and nothing left to send
 * that could be sent — the queue is empty, or the device is offline, or the queue is paused (a
 * 401). An operation waiting for its retry time keeps the app busy until it is sent or fails; a
 * collection whose pull failed does not (its retry comes after a backoff of 2 s to 60 s): check
 * its `lastError`, or call its `pull()`.
 * Rejects after `timeoutMs` with the state it saw, so a test fails with a reason, not a hang.
 * Rejects with `invalid-argument` when `app` is not an app, for options it does not know (a
 * typo) or of the wrong type, and for a `collections` name whose plugin has no `isPulling`.
 *
 * @example
 * connectivity.goOnline();
 * await settled(app, { timeoutMs: 2000 });
 * expect(server.applied).toHaveLength(1);
 */
export async function settled(app: App, options: SettledOptions = {}): Promise<void> {
  const given = app as Partial<Record<'has' | 'use' | 'ready', unknown>> | null | undefined;
  if (
    typeof given?.has !== 'function' ||
    typeof given.use !== 'function' ||
    typeof given.ready !== 'function'
  ) {
    throw invalidArgument(
      `settled(app): app must be an app (createApp(), or a test app's t.app) (got ${describeInput(app)}).`,
    );
  }
  const {
    timeoutMs = 4000,
    label = 'settled(app)',
    collections = [],
  } = checkWaitOptions(options, 'settled(app, options)', ['collections']);
  if (!Array.isArray(collections)) {
    throw invalidArgument(
      `settled(app, options): collections must be an array of plugin names, e.g. ['notes'] (got ${describeInput(collections)}).`,
    );
  }
  collections.forEach((name: unknown, index) => {
    if (typeof name === 'string') return;
    const plugin = (name as { name?: unknown } | null)?.name;
    throw invalidArgument(
      typeof plugin === 'string'
        ? `settled(app, options): collections lists plugin names, not the plugins: give ${JSON.stringify(plugin)} for collections[${index}], e.g. { collections: [${JSON.stringify(plugin)}] }.`
        : `settled(app, options): collections must be an array of plugin names, e.g. ['notes'] (collections[${index}] is ${describeInput(name)}).`,
    );
  });
  const sync = app.has('sync') ? (app.use('sync') as unknown as SyncSignals) : undefined;
  const pulls = collections.map((name) => pullingSignal(app, name));
  const connectivity = app.has('connectivity') ? app.use('connectivity') : undefined;
  const describe = (): string => {
    const parts = sync
      ? [
          `sync: ${sync.pendingCount.value} pending, syncing ${sync.isSyncing.value}, status ${sync.status.value}`,
        ]
      : [];
    if (connectivity) parts.push(`online ${connectivity.isOnline.value}`);
    const error = sync?.lastError.value;
    if (error) parts[0] += `, last error ${error.code}${error.status ? ` (${error.status})` : ''}`;
    collections.forEach((name, index) => {
      const error = pulls[index]?.lastError?.value;
      parts.push(
        `${name}: pulling ${pulls[index]?.isPulling.value}${error ? `, last error ${error.code}${error.status ? ` (${error.status})` : ''}` : ''}`,
      );
    });
    const more = sync ? hint(sync) : '';
    return `${label} (${parts.join('; ') || 'no sync plugin'})${
      more ||
      (pulls.some((pull) => pull.isPulling.value)
        ? ": still pulling — a page the server does not answer (a 'hang' fault) ends only at SyncPlugin's timeoutMs, 30 s by default: give tests a small one, e.g. createTestApp({ sync: { timeoutMs: 500 } })"
        : '')
    }`;
  };
  const quiet = (): boolean => {
    const pulling = pulls.some((pull) => pull.isPulling.value);
    if (!sync) return !pulling;
    const blocked = connectivity?.isOnline.value === false || sync.status.value === 'paused';
    return !pulling && !sync.isSyncing.value && (sync.pendingCount.value === 0 || blocked);
  };
  const deadline = Date.now() + timeoutMs;
  await withTimeout(app.ready(), timeoutMs, () => `${label}: app.ready()`);
  // Quiet twice in a row, a macrotask apart: a flush or pull that a trigger of this very turn
  // (going online, a queue() just resolved) is about to start gets its chance to show.
  for (let stable = 0; stable < 2; ) {
    await waitUntil(quiet, Math.max(0, deadline - Date.now()), describe, timeoutMs);
    await new Promise<void>((resolve) => realTimers.setTimeout(resolve, 0));
    stable = quiet() ? stable + 1 : 0;
  }
}

/** What to do about the state a timed-out wait saw, when the state says it (else ''). */
function hint(sync: SyncSignals): string {
  if (sync.pendingCount.value === 0) return '';
  if (sync.isSyncing.value)
    return ": still sending — a request the server does not answer (a 'hang' fault) ends only at SyncPlugin's timeoutMs, 30 s by default: give tests a small one, e.g. createTestApp({ sync: { timeoutMs: 500 } })";
  if (sync.status.value === 'error')
    return ": an operation waits for its retry: its backoff (from retry.baseDelayMs, 1 s by default) or the server's Retry-After (up to retry.maxRetryAfterMs, 1 h by default) — keep both short in tests, e.g. createTestApp({ sync: { retry: { baseDelayMs: 10, maxRetryAfterMs: 100 } } })";
  return '';
}

/** A collection's signals that settled() reads. */
interface PullSignals {
  readonly isPulling: ReadonlySignal<boolean>;
  readonly lastError: ReadonlySignal<{ code: string; status?: number } | null> | undefined;
}

function pullingSignal(app: App, name: string): PullSignals {
  const plugin = app.use(name) as { isPulling?: unknown; lastError?: unknown };
  const signal = plugin.isPulling as ReadonlySignal<boolean> | undefined;
  if (typeof signal?.peek !== 'function') {
    throw invalidArgument(
      `settled(app, { collections }): plugin "${name}" has no isPulling signal: name collections (fluxy/collections) only.`,
    );
  }
  const lastError = plugin.lastError as PullSignals['lastError'];
  return { isPulling: signal, lastError: typeof lastError?.peek === 'function' ? lastError : undefined };
}

/** Resolves once `condition` (which reads signals) is true; rejects after `timeoutMs`. */
async function waitUntil(
  condition: () => boolean,
  timeoutMs: number,
  describe: () => string,
  reportedMs: number,
): Promise<void> {
  let stop = (): void => {};
  const reached = new Promise<void>((resolve) => {
    stop = effect(() => {
      if (condition()) resolve();
    });
  });
  try {
    await withTimeout(reached, timeoutMs, describe, reportedMs);
  } finally {
    stop();
  }
}
