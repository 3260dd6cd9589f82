import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { effect, type ReadonlySignal } from '../../src/core/signals.js';
import {
  ConnectivityMonitor,
  type ConnectivityMonitorOptions,
  type Timers,
} from '../../src/plugins/connectivity/index.js';
import type { PlatformConnectivity } from '../../src/plugins/connectivity/platform.js';

/** How the probe server treats the next requests. */
export type ServerMode = { kind: 'answer'; status: number } | { kind: 'hang' } | { kind: 'refuse' };

/** A real HTTP server on 127.0.0.1 that answers, hangs or drops the connection on command. */
export interface ProbeServer {
  readonly url: string;
  mode: ServerMode;
  /** Requests received so far, with their methods. */
  readonly requests: Array<{ method: string; url: string }>;
  /** The most requests open at the same moment. */
  readonly maxConcurrent: number;
  /** Resolves when the server has received `count` requests in total. */
  receivedCount(count: number): Promise<void>;
  /** Requests whose connection is still open. */
  readonly openCount: number;
  /** Resolves when no request is open any more (each closed by an answer or by the client). */
  whenIdle(): Promise<void>;
  /** Answer every hanging request with `status`. */
  releaseHanging(status: number): void;
  close(): Promise<void>;
}

export async function startProbeServer(
  mode: ServerMode = { kind: 'answer', status: 204 },
): Promise<ProbeServer> {
  const requests: Array<{ method: string; url: string }> = [];
  const hanging = new Set<ServerResponse>();
  const sockets = new Set<Socket>();
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const idleWaiters: Array<() => void> = [];
  let open = 0;
  let maxConcurrent = 0;
  const state = { mode };

  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    requests.push({ method: request.method ?? '', url: request.url ?? '' });
    open += 1;
    maxConcurrent = Math.max(maxConcurrent, open);
    let closed = false;
    const done = (): void => {
      if (closed) return;
      closed = true;
      open -= 1;
      hanging.delete(response);
      if (open === 0) for (const resolve of idleWaiters.splice(0)) resolve();
    };
    response.on('close', done);
    for (const waiter of waiters.filter((w) => requests.length >= w.count)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
    const current = state.mode;
    if (current.kind === 'answer') {
      response.statusCode = current.status;
      response.end(request.method === 'HEAD' ? undefined : 'probe body');
    } else if (current.kind === 'hang') {
      hanging.add(response);
    } else {
      request.socket.destroy();
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/health`,
    get mode() {
      return state.mode;
    },
    set mode(next) {
      state.mode = next;
    },
    requests,
    get maxConcurrent() {
      return maxConcurrent;
    },
    get openCount() {
      return open;
    },
    whenIdle() {
      if (open === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    receivedCount(count) {
      if (requests.length >= count) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
    releaseHanging(status) {
      for (const response of [...hanging]) {
        response.statusCode = status;
        response.end();
      }
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A scheduled callback of {@link ManualTimers}. */
export interface ManualTimer {
  readonly id: number;
  readonly ms: number;
  readonly callback: () => void;
}

/**
 * Timers that never fire by themselves: tests see every delay scheduled and fire timers on
 * command, so no test waits for real time.
 */
export class ManualTimers implements Timers {
  /** Every delay ever scheduled, in order. */
  readonly scheduled: number[] = [];
  readonly #pending = new Map<number, ManualTimer>();
  #nextId = 1;

  // Arrow functions: the monitor calls timers as plain functions, not as methods.
  readonly setTimeout = (callback: () => void, ms: number): unknown => {
    const id = this.#nextId++;
    this.#pending.set(id, { id, ms, callback });
    this.scheduled.push(ms);
    return id;
  };

  readonly clearTimeout = (handle: unknown): void => {
    this.#pending.delete(handle as number);
  };

  /** The timers not yet fired or cleared. */
  get pending(): ManualTimer[] {
    return [...this.#pending.values()];
  }

  /** Fire the pending timer of exactly `ms` (throws if there is not exactly one). */
  fire(ms: number): void {
    const matches = this.pending.filter((timer) => timer.ms === ms);
    if (matches.length !== 1) {
      throw new Error(
        `expected one pending ${ms} ms timer, found [${this.pending.map((t) => t.ms).join(', ')}]`,
      );
    }
    const [timer] = matches;
    if (!timer) return;
    this.#pending.delete(timer.id);
    timer.callback();
  }
}

/** A platform source the test drives by hand, counting its subscriptions. */
export class FakePlatform implements PlatformConnectivity {
  online: boolean;
  readonly #listeners = new Set<(online: boolean) => void>();

  constructor(online = true) {
    this.online = online;
  }

  get listenerCount(): number {
    return this.#listeners.size;
  }

  isOnline(): boolean {
    return this.online;
  }

  subscribe(listener: (online: boolean) => void): () => void {
    const wrapped = (online: boolean): void => listener(online);
    this.#listeners.add(wrapped);
    return () => this.#listeners.delete(wrapped);
  }

  /** Change the platform's state and tell the listeners, like an `online`/`offline` event. */
  emit(online: boolean): void {
    this.online = online;
    for (const listener of [...this.#listeners]) listener(online);
  }
}

/** A fetch that never settles until told to, recording its calls. */
export function controlledFetch(): {
  fetch: (url: string, init: RequestInit) => Promise<Response>;
  calls: Array<{ url: string; init: RequestInit }>;
  answer(status?: number): void;
  fail(): void;
} {
  const calls: Array<{ url: string; init: RequestInit }> = [];
  const pending: Array<{ resolve: (response: Response) => void; reject: (error: unknown) => void }> = [];
  return {
    calls,
    fetch(url, init) {
      calls.push({ url, init });
      return new Promise<Response>((resolve, reject) => pending.push({ resolve, reject }));
    },
    answer(status = 204) {
      for (const call of pending.splice(0)) call.resolve(new Response(null, { status }));
    },
    fail() {
      for (const call of pending.splice(0)) call.reject(new TypeError('fetch failed'));
    },
  };
}

/** Resolves when `source` holds `value` (at once if it does): awaits the change, not time. */
export function until<T>(source: ReadonlySignal<T>, value: T): Promise<void> {
  return new Promise((resolve) => {
    let stop: (() => void) | undefined;
    let done = false;
    stop = effect(() => {
      if (source.value !== value || done) return;
      done = true;
      stop?.();
      resolve();
    });
    if (done) stop();
  });
}

/** A probe with short, distinct durations (the timeout never equals a backoff delay). */
export const PROBE = {
  url: 'https://api.example.test/health',
  intervalMs: 100,
  maxIntervalMs: 800,
  timeoutMs: 5000,
};

/** A started-or-not monitor over a controlled fetch, manual timers, random 1 and a fake clock. */
export function setupMonitor(options: ConnectivityMonitorOptions = {}) {
  const timers = new ManualTimers();
  const network = controlledFetch();
  let clock = 1000;
  const monitor = new ConnectivityMonitor({
    fetch: network.fetch,
    timers,
    random: () => 1,
    now: () => clock,
    ...options,
  });
  const retryDelays = () => timers.scheduled.filter((ms) => ms !== PROBE.timeoutMs);
  return {
    monitor,
    timers,
    network,
    retryDelays,
    tick(ms: number) {
      clock += ms;
    },
  };
}

/**
 * Whether a real Node timer is still pending and holding the event loop, read exactly: unref it
 * and see whether Node's count of active timers drops by one, then ref it again. Synchronous, so
 * no other timer can start or fire in between; unlike comparing counts of
 * `process.getActiveResourcesInfo()` across awaits, which also counts vitest's timers (its
 * 100 ms task-update batch) and undici's, started and fired at their own times.
 */
export function holdsEventLoop(timer: NodeJS.Timeout): boolean {
  if (!timer.hasRef()) return false;
  const active = (): number => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
  const before = active();
  timer.unref();
  const after = active();
  timer.ref();
  return before - after === 1;
}

/**
 * Records the real Node timers that Fluxy's own code (a caller under src/) starts through the
 * global `setTimeout`, until `restore()`; timers started by Node's bundled undici or by the test
 * runner are not Fluxy's and are left out.
 */
export function recordSourceTimers(): { readonly timers: NodeJS.Timeout[]; restore(): void } {
  const source = fileURLToPath(new URL('../../src/', import.meta.url));
  const original = globalThis.setTimeout;
  const timers: NodeJS.Timeout[] = [];
  const recording = (...args: Parameters<typeof setTimeout>): NodeJS.Timeout => {
    const timer = original(...args);
    // Line 0 is "Error", 1 is this function, 2 is its caller.
    if (new Error().stack?.split('\n')[2]?.includes(source)) timers.push(timer);
    return timer;
  };
  globalThis.setTimeout = Object.assign(recording, original);
  return {
    timers,
    restore() {
      globalThis.setTimeout = original;
    },
  };
}
