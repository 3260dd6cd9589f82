import type { ReadonlySignal } from '@preact/signals-core';
import { backoffDelay } from '../../core/backoff.js';
import { disposedError, FluxyError, invalidArgument } from '../../core/errors.js';
import { describeInput } from '../../core/input-checks.js';
import type { BroadcastChannelLike, FetchFunction } from '../../core/platform-types.js';
import { batch, computed, signal } from '../../core/signals-core.js';
import {
  type ConnectivityDependencies,
  type ConnectivityMonitorOptions,
  checkEnvironment,
  isAbortSignal,
  type MonitorEnvironment,
  type ResolvedProbe,
  resolveProbeUrl,
  validateMonitorOptions,
} from './options.js';
import type { PlatformConnectivity } from './platform.js';

/**
 * What last decided the value of `isOnline`:
 * `'initial'` (nothing yet: the `initial` option or the default), `'platform'` (`navigator.onLine`
 * and its events, or another platform source), `'probe'` (the probe answered or failed),
 * `'manual'` (`setOnline()`), `'request-failure'` (`reportFailure()`).
 */
export type ConnectivityReason = 'initial' | 'platform' | 'probe' | 'manual' | 'request-failure';

/** A pending `waitForOnline()`: called without an error when online, with one to reject it. */
type Waiter = (error?: unknown) => void;

interface InFlightProbe {
  readonly promise: Promise<boolean>;
  stop(): void;
}

/**
 * Tells whether the network works, as signals. The platform saying "offline" is trusted at once;
 * with a probe configured, "online" means the probe answered (any HTTP status); while offline it
 * probes with exponential backoff and jitter, one probe at a time. Without a probe, `isOnline`
 * follows the platform (or `setOnline()`). Everything starts in `start()` and stops in `dispose()`.
 *
 * @example
 * const monitor = new ConnectivityMonitor({ probe: { url: 'https://api.example.com/health' } });
 * monitor.start({ platform: browserPlatform() });
 * effect(() => console.log(monitor.isOnline.value ? 'online' : 'offline'));
 * // later
 * monitor.dispose();
 */
export class ConnectivityMonitor {
  /**
   * Whether the network works, as far as we know.
   * @default the `initial` option, else `false` with a probe (online means the probe answered) and `true` without
   */
  readonly isOnline: ReadonlySignal<boolean>;
  /** When `isOnline` last changed (ms since epoch, from `now`); its construction time at first. */
  readonly lastChangedAt: ReadonlySignal<number>;
  /** What last decided `isOnline`. @default 'initial' */
  readonly reason: ReadonlySignal<ConnectivityReason>;

  readonly #online;
  readonly #reason;
  readonly #changedAt;
  readonly #probe: ResolvedProbe | undefined;
  readonly #deps: ConnectivityDependencies;
  readonly #waiters = new Set<Waiter>();
  #state: 'idle' | 'started' | 'disposed' = 'idle';
  #probeUrl = '';
  #platform: PlatformConnectivity | undefined;
  #unsubscribePlatform: (() => void) | undefined;
  #inFlight: InFlightProbe | undefined;
  #retry: { handle: unknown } | undefined;
  #failedProbes = 0;
  #channel: BroadcastChannelLike | undefined;
  // Bumped whenever a decision overrides probing, so a late probe answer is ignored.
  #epoch = 0;

  constructor(options: ConnectivityMonitorOptions = {}) {
    this.#deps = validateMonitorOptions(options);
    this.#probe = this.#deps.probe;
    // With a probe, "online" means the probe answered: a captive portal must not look online
    // (and let Sync flush) before the first probe, which runs at start.
    this.#online = signal(options.initial ?? this.#probe === undefined);
    this.#reason = signal<ConnectivityReason>('initial');
    this.#changedAt = signal(this.#deps.now());
    this.isOnline = computed(() => this.#online.value);
    this.reason = computed(() => this.#reason.value);
    this.lastChangedAt = computed(() => this.#changedAt.value);
  }

  /**
   * Start listening to the platform and, with a probe, probe once (unless the platform says
   * offline). Throws `connectivity/invalid-probe` for a relative probe URL without `baseUrl`.
   * A state set with `setOnline()` before `start()` is kept: no platform reading, no first probe.
   */
  start(environment: MonitorEnvironment = {}): void {
    if (this.#state === 'disposed') {
      throw disposedError('start() was called on a disposed ConnectivityMonitor: create a new one.');
    }
    if (this.#state === 'started') return;
    const { platform, baseUrl, channel } = checkEnvironment(environment);
    if (this.#probe) {
      this.#probeUrl = resolveProbeUrl(this.#probe.url, baseUrl);
      // The other tabs that probe this URL: what one of them learnt holds for this one too.
      const tabs = channel && new channel(`fluxy-connectivity:${this.#probeUrl}`);
      if (tabs) {
        tabs.addEventListener('message', ({ data }) => this.#hear(data));
        (tabs as { unref?: () => void }).unref?.();
        this.#channel = tabs;
      }
    }
    this.#state = 'started';
    this.#platform = platform;
    this.#unsubscribePlatform = platform?.subscribe((online) => this.#onPlatform(online));
    if (this.#reason.peek() === 'manual') return;
    const platformOnline = platform?.isOnline();
    if (platformOnline === false) this.#decide(false, 'platform');
    else if (this.#probe) void this.#runProbe();
    else if (platformOnline === true) this.#decide(true, 'platform');
  }

  /**
   * Set the state by hand, for platforms with their own network API and for tests. Stops any
   * probing until the platform, `check()` or `reportFailure()` asks again. Synchronous; works
   * before `start()`. Throws `invalid-argument` for a non-boolean and `app/disposed` after
   * `dispose()` (state unchanged).
   *
   * @example NetInfo.addEventListener((s) => monitor.setOnline(s.isConnected === true));
   */
  setOnline(online: boolean): void {
    if (typeof online !== 'boolean') {
      throw invalidArgument(`setOnline(online): online must be true or false, got ${describeInput(online)}.`);
    }
    if (this.#state === 'disposed') {
      throw disposedError(
        'setOnline() was called on a disposed connectivity monitor: create a new app (or monitor).',
      );
    }
    this.#cancelProbing();
    this.#decide(online, 'manual');
  }

  /**
   * Ask now. With a probe: probe (sharing a probe already in flight) unless the platform says
   * offline. Without one: re-read the platform. Resolves with `isOnline`; never rejects.
   */
  check(): Promise<boolean> {
    if (this.#state !== 'started') return Promise.resolve(this.#online.peek());
    const platformOnline = this.#platform?.isOnline();
    if (platformOnline === false || (platformOnline === true && !this.#probe)) {
      this.#onPlatform(platformOnline);
    } else if (this.#probe) {
      return this.#runProbe().then(() => this.#online.peek());
    }
    return Promise.resolve(this.#online.peek());
  }

  /**
   * A request failed at the network level. With a probe: go offline at once and probe (with
   * backoff) until the probe answers; a probe loop already running is left alone. Without a
   * probe: nothing changes, `isOnline` keeps following the platform (callers retry with their
   * own backoff), so one failure can never leave the app offline for good.
   */
  reportFailure(): void {
    if (this.#state !== 'started' || !this.#probe) return;
    if (this.#platform?.isOnline() === false) {
      this.#onPlatform(false);
      return;
    }
    this.#decide(false, 'request-failure');
    if (!this.#retry) void this.#runProbe();
  }

  /**
   * Resolves when `isOnline` is true (at once if it is). Rejects with `signal.reason` when
   * `signal` aborts (or `connectivity/aborted` if it has none) and with `app/disposed` when the
   * monitor is disposed first; it leaves no listener behind either way.
   *
   * @example await monitor.waitForOnline(AbortSignal.timeout(30_000));
   */
  waitForOnline(signal?: AbortSignal): Promise<void> {
    if (signal !== undefined && !isAbortSignal(signal)) {
      return Promise.reject(invalidArgument('waitForOnline(signal): signal must be an AbortSignal.'));
    }
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (this.#online.peek()) return Promise.resolve();
    if (this.#state === 'disposed')
      return Promise.reject(
        disposedError(
          'The connectivity monitor was disposed before the network came back: stop waiting on a disposed app.',
        ),
      );
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => waiter(abortReason(signal));
      // (An error is never undefined: an abort reason falls back to connectivity/aborted.)
      const waiter: Waiter = (error) => {
        this.#waiters.delete(waiter);
        signal?.removeEventListener('abort', onAbort);
        if (error === undefined) resolve();
        else reject(error);
      };
      this.#waiters.add(waiter);
      signal?.addEventListener('abort', onAbort);
    });
  }

  /** Stop everything: timers, platform listeners, the probe in flight, pending `waitForOnline`. Idempotent. */
  dispose(): void {
    if (this.#state === 'disposed') return;
    this.#state = 'disposed';
    this.#cancelProbing();
    this.#unsubscribePlatform?.();
    this.#unsubscribePlatform = undefined;
    this.#channel?.close();
    const error = disposedError(
      'The connectivity monitor was disposed before the network came back: stop waiting on a disposed app.',
    );
    for (const waiter of [...this.#waiters]) waiter(error);
  }

  #onPlatform(online: boolean): void {
    if (this.#state !== 'started') return;
    if (!online) {
      this.#cancelProbing();
      this.#decide(false, 'platform');
    } else if (this.#probe) {
      this.#failedProbes = 0;
      void this.#runProbe();
    } else {
      this.#decide(true, 'platform');
    }
  }

  /**
   * Another tab's verdict (a probe's or a failed request's), with when it was reached, if it
   * differs from this tab's. Offline: as a failed request here (offline, then probing until the
   * probe answers: a mistake costs one probe). Online: this tab stops probing and is online too,
   * if the verdict is newer than this tab's last change (messages arrive a moment later: an old
   * "online" must not undo what this tab learnt since). Ignored while `setOnline()` decides, older
   * than this tab's last change, or (online) while the platform says offline.
   */
  #hear(data: unknown): void {
    const [online, at] = data as [boolean, number];
    const since = this.#changedAt.peek();
    if (
      this.#state !== 'started' ||
      this.#reason.peek() === 'manual' ||
      online === this.#online.peek() ||
      at < since
    )
      return;
    if (!online) this.reportFailure();
    else if (at > since && this.#platform?.isOnline() !== false) {
      this.#cancelProbing();
      this.#decide(true, 'probe');
    }
  }

  #decide(online: boolean, reason: ConnectivityReason): void {
    const changed = this.#online.peek() !== online;
    // What a probe or a failed request found holds for the other tabs too (not the platform's
    // events, which every tab gets, nor setOnline()).
    // (Never after dispose(), which closes the channel: nothing decides by a probe or a failure then.)
    if (changed && (reason === 'probe' || reason === 'request-failure'))
      this.#channel?.postMessage([online, this.#deps.now()]);
    // Told first (they resume a tick later, once isOnline is set): an app effect that throws
    // below must not leave them waiting for good.
    if (online && changed) for (const waiter of [...this.#waiters]) waiter();
    batch(() => {
      this.#reason.value = reason;
      if (!changed) return;
      this.#online.value = online;
      this.#changedAt.value = this.#deps.now();
    });
  }

  #runProbe(): Promise<boolean> {
    if (this.#inFlight) return this.#inFlight.promise;
    const probe = this.#probe;
    if (!probe || this.#state !== 'started') return Promise.resolve(this.#online.peek());
    this.#clearRetry();
    const epoch = this.#epoch;
    const { fetch, timers } = this.#deps;
    const controller = new AbortController();
    let stop!: () => void;
    // Settled by the answer, the timeout or stop(), whichever comes first: a fetch that ignores
    // its abort signal cannot hold the probe.
    const promise: Promise<boolean> = new Promise<boolean>((resolve) => {
      const timeout = timers.setTimeout(() => stop(), probe.timeoutMs);
      const finish = (ok: boolean): void => {
        timers.clearTimeout(timeout);
        resolve(ok);
      };
      stop = () => {
        finish(false);
        controller.abort(new FluxyError('connectivity/aborted', 'The connectivity probe was stopped.'));
      };
      answers(this.#probeUrl, probe.method, fetch, controller.signal).then(finish);
    }).then((ok) => {
      if (this.#inFlight?.promise === promise) this.#inFlight = undefined;
      if (epoch !== this.#epoch) return this.#online.peek();
      if (ok) this.#failedProbes = 0;
      // Setting isOnline runs effects synchronously; one that throws must not reject this
      // promise, which nobody awaits when the probe runs in the background.
      try {
        this.#decide(ok, 'probe');
      } catch (error) {
        this.#deps.onError(error);
      }
      if (!ok) this.#scheduleRetry(probe);
      return ok;
    });
    this.#inFlight = { promise, stop };
    return promise;
  }

  #scheduleRetry(probe: ResolvedProbe): void {
    this.#clearRetry();
    const delay = backoffDelay(
      this.#failedProbes + 1,
      probe.intervalMs,
      probe.maxIntervalMs,
      this.#deps.random,
    );
    this.#failedProbes += 1;
    const retry: { handle: unknown } = { handle: undefined };
    retry.handle = this.#deps.timers.setTimeout(() => {
      if (this.#retry !== retry) return;
      this.#retry = undefined;
      void this.#runProbe();
    }, delay);
    this.#retry = retry;
  }

  #clearRetry(): void {
    if (this.#retry) this.#deps.timers.clearTimeout(this.#retry.handle);
    this.#retry = undefined;
  }

  #cancelProbing(): void {
    this.#epoch += 1;
    this.#clearRetry();
    this.#failedProbes = 0;
    const inFlight = this.#inFlight;
    this.#inFlight = undefined;
    inFlight?.stop();
  }
}

/**
 * One probe request: true when any HTTP response arrives (its body is discarded, the status is all
 * a probe needs), false on a network error or an abort. Never rejects.
 */
async function answers(
  url: string,
  method: string,
  fetch: FetchFunction,
  signal: AbortSignal,
): Promise<boolean> {
  try {
    const response = await fetch(url, { method, signal, cache: 'no-store' });
    // Free the connection. (A locked or consumed body needs no cancelling.)
    try {
      (response as { body?: { cancel?: () => Promise<void> } } | null | undefined)?.body
        ?.cancel?.()
        .catch(() => {});
    } catch {}
    return true;
  } catch {
    return false;
  }
}

function abortReason(signal: AbortSignal | undefined): unknown {
  return signal?.reason ?? new FluxyError('connectivity/aborted', 'waitForOnline() was aborted.');
}

/** `app/disposed`; the production build leaves `message` out (scripts/strip-prose.mjs). */
