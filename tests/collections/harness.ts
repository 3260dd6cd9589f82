import { IDBFactory } from 'fake-indexeddb';
import { onTestFinished, vi } from 'vitest';
import type { RunningServer } from '../../examples/server/server.mjs';
import { type App, createApp } from '../../src/core/app.js';
import { isFluxyError } from '../../src/core/errors.js';
import type { Logger } from '../../src/core/logger.js';
import { formatStamp } from '../../src/plugins/collections/clock.js';
import {
  Collection,
  type CollectionOptions,
  type ConflictEvent,
} from '../../src/plugins/collections/index.js';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { minIterations, StoragePlugin } from '../../src/plugins/storage/index.js';
import { type SyncEvents, type SyncOptions, SyncPlugin } from '../../src/plugins/sync/index.js';
import { createTestApp, FaultServer } from '../../src/testing/index.js';
import { startServer } from '../server/helpers.js';
import { gate } from '../support/memory-store.js';
import { silentLogger, until, withTimeout } from '../sync/harness.js';

export { until, withTimeout } from '../sync/harness.js';

/** A note as the reference server keeps it. */
export interface Note extends Record<string, unknown> {
  id: string;
  title: string;
  body: string;
  version: number;
}

/** The reference server, in memory, closed when the test ends; `requests` lists `METHOD path → status` lines. */
export async function referenceServer(
  options: { feedPageSize?: number } = {},
): Promise<RunningServer & { requests: string[]; request(pattern: RegExp, label: string): Promise<string> }> {
  const requests: string[] = [];
  const waiters = new Set<{ pattern: RegExp; resolve: (line: string) => void }>();
  const server = await startServer({
    ...options,
    log: (line) => {
      requests.push(line);
      for (const waiter of waiters) {
        if (waiter.pattern.test(line)) {
          waiters.delete(waiter);
          waiter.resolve(line);
        }
      }
    },
  });
  /** Resolves with the first request line (already logged or to come) that matches `pattern`. */
  const request = (pattern: RegExp, label: string) => {
    const seen = requests.find((line) => pattern.test(line));
    if (seen) return Promise.resolve(seen);
    return withTimeout(new Promise<string>((resolve) => waiters.add({ pattern, resolve })), label);
  };
  return Object.assign(server, { requests, request });
}

/** The pulls a server received (GETs of the changes feed). */
export function pullsOf(server: { requests: string[] }): string[] {
  return server.requests.filter((line) => line.startsWith('GET /api/notes?since='));
}

/** Sends a write straight to the server, as another device without Fluxy would. */
export async function serverWrite(
  server: RunningServer,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : (JSON.parse(text) as Note) };
}

/**
 * The `Fluxy-Clock` header of another device's write made `msAgo` ms ago. (A write without one is
 * stamped with the server's clock when it arrives: newer than a change this device made before.)
 */
export function clockAgo(msAgo: number): Record<string, string> {
  return { 'Fluxy-Clock': formatStamp({ time: Date.now() - msAgo, counter: 0, node: 'other' }) };
}

/** Queues faults for the next requests that take one (writes, and pulls). */
/**
 * From now on, what the first collection made posts to other tabs is lost (its pull and answer
 * messages), as when that tab closes right after sending them. Restored when the test ends.
 */
export function dropFirstTabMessages(): void {
  const RealChannel = globalThis.BroadcastChannel;
  const channels: BroadcastChannel[] = [];
  globalThis.BroadcastChannel = class extends RealChannel {
    constructor(name: string) {
      super(name);
      if (name.startsWith('fluxy-collection:')) channels.push(this);
    }
    override postMessage(message: unknown): void {
      if (this !== channels[0]) super.postMessage(message);
    }
  };
  onTestFinished(() => {
    globalThis.BroadcastChannel = RealChannel;
  });
}

export async function faults(server: RunningServer, list: unknown[]): Promise<void> {
  const response = await fetch(`${server.url}/api/_faults`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(list),
  });
  if (response.status !== 200) throw new Error(`faults: ${response.status}`);
}

/**
 * A pull interval that never fires in a test (2^31 - 1 ms, the most setInterval holds): the
 * collection pulls at ready(), on reconnect, on becoming visible and on pull(), never by its timer.
 * (`0` means only on pull(), with none of those pulls.)
 */
export const untimed = 2 ** 31 - 1;

const diskNames = new Map<IDBFactory, string>();

export interface DeviceOptions {
  server: RunningServer;
  /** The device's disk: keep it to restart the device over the same data. */
  disk?: IDBFactory;
  online?: boolean;
  collection?: Partial<CollectionOptions<Note>>;
  secret?: string;
  /** The app's logger (silent by default). */
  logger?: Logger;
  /** More SyncPlugin options (a shared lock manager for tabs of one disk, a steered fetch). */
  sync?: Partial<SyncOptions>;
}

/**
 * One device (or tab): an app with encrypted storage on fake-indexeddb, connectivity, sync
 * against the reference server, and a `notes` collection. Disposed when the test ends.
 */
export async function startDevice(options: DeviceOptions) {
  const disk = options.disk ?? new IDBFactory();
  // One database name per disk: devices in one process must not hear each other's tabs.
  let name = diskNames.get(disk);
  if (!name) {
    name = `device-${diskNames.size + 1}-${Math.random().toString(36).slice(2, 8)}`;
    diskNames.set(disk, name);
  }
  const app: App = createApp({ logger: options.logger ?? silentLogger });
  app.register(
    new StoragePlugin({
      name,
      indexedDB: disk,
      secret: options.secret ?? 'test secret',
      iterations: minIterations,
    }),
  );
  const connectivity = app.register(new ConnectivityPlugin());
  connectivity.setOnline(options.online ?? true);
  const sync = app.register(
    new SyncPlugin({
      baseUrl: `${options.server.url}/api`,
      retry: { baseDelayMs: 5, maxDelayMs: 20 },
      ...options.sync,
    }),
  );
  const notes = app.register(
    new Collection<Note>('notes', {
      url: '/notes',
      pullIntervalMs: untimed,
      locks: false,
      ...options.collection,
    }),
  );
  let disposed = false;
  const dispose = async () => {
    if (disposed) return;
    disposed = true;
    await app.dispose();
  };
  onTestFinished(dispose);
  await app.ready();
  return { app, disk, connectivity, sync, notes, dispose };
}

/** The server's notes, as a collection should show them (by id, shorter first). */
export async function serverNotes(server: RunningServer): Promise<Note[]> {
  const response = await fetch(`${server.url}/api/notes`);
  const notes = (await response.json()) as Note[];
  return notes.sort((a, b) => a.id.length - b.id.length || (a.id < b.id ? -1 : 1));
}

/** The code of the FluxyError `action` throws or rejects with (fails the test on anything else). */
export async function code(action: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof action === 'function' ? action() : action);
  } catch (error) {
    if (isFluxyError(error)) return error.code;
    throw error;
  }
  throw new Error('expected a FluxyError');
}

export const titles = (rows: readonly Note[]): string[] => rows.map((row) => row.title);

/** Resolves once the device's outbox is empty and not flushing. */
export const idle = (device: { sync: SyncPlugin }): Promise<void> =>
  until(() => device.sync.pendingCount.value === 0 && !device.sync.isSyncing.value, 'the outbox to drain');

/**
 * Steers the global fetch (a device's fetch is bound when its sync starts, so call this first):
 * a PATCH of title 'ab' is held before it is sent until `held.ab` opens, and its 412 comes
 * without the server's current row (so it is decided after a pull); once it was, pulls wait
 * until the server applied 'abc'; the answer to 'abc' goes through `afterAbc`. Restored, and every
 * gate opened, when the test finishes.
 */
export function holdAbAndAbc(afterAbc: (response: Response, signal: AbortSignal) => Promise<Response>) {
  const held = { ab: gate(), abReached: gate(), abcApplied: gate() };
  let refused = false;
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const title = init?.method === 'PATCH' && (JSON.parse(String(init.body)) as Note).title;
    if (title === 'ab') {
      held.abReached.open();
      await held.ab.promise;
      refused = true;
    }
    if (refused && String(input).includes('/api/notes?since=')) await held.abcApplied.promise;
    const response = await realFetch(input, init);
    if (title === 'ab' && response.status === 412) {
      // Without the server's current row (version 2, made by 'a'): with it, the refusal could be
      // decided from it at once, before 'abc' is applied ('a' alone leads to version 2: no
      // conflict, nothing to resend) — a race with the pull that sees 'abc' applied. These tests
      // are about the other case: the server's version (3) made by 'abc', whose answer is not in.
      const { current: _current, ...body } = (await response.json()) as Record<string, unknown>;
      return new Response(JSON.stringify(body), { status: 412, headers: response.headers });
    }
    if (title === 'abc') {
      held.abcApplied.open();
      return afterAbc(response, init?.signal as AbortSignal);
    }
    return response;
  };
  onTestFinished(() => {
    globalThis.fetch = realFetch;
    held.ab.open();
    held.abcApplied.open();
  });
  return held;
}

/**
 * On `device`, whose fetch {@link holdAbAndAbc} steers: 'a' and 'ab' made on the same version
 * while the outbox is paused, then 'abc' once 'ab' is on its way, and 'ab' let go (a 412: 'a'
 * made the server's version). Returns the moment it is decided — a conflict reported, or resolving
 * listening for the next answer (it subscribes to 'failed') — under a timeout, not awaited.
 */
export async function typeAbc(
  device: { notes: Collection<Note>; sync: SyncPlugin },
  id: string,
  held: ReturnType<typeof holdAbAndAbc>,
  decided = gate(),
): Promise<{ decided: Promise<void> }> {
  device.notes.on('conflict', () => decided.open());
  const on = device.sync.on.bind(device.sync) as (event: string, handler: never) => () => void;
  (device.sync as { on: typeof on }).on = (event, handler) => {
    if (event === 'failed') decided.open();
    return on(event, handler);
  };
  device.sync.pause();
  await device.notes.update(id, { title: 'a' });
  await device.notes.update(id, { title: 'ab' }); // made on version 1 too, while 'a' is pending
  device.sync.resume();
  await withTimeout(held.abReached.promise, "'ab' to be sent after 'a' was answered");
  await device.notes.update(id, { title: 'abc' }); // made on version 2
  held.ab.open(); // 412 ('a' made version 2); the pull after it sees 'abc' applied (version 3)
  return { decided: withTimeout(decided.promise, "the 412 to be resolved (or to wait for 'abc')") };
}

/**
 * Two devices that both show one note created on the server. They share a wall clock that moves
 * forward at every reading, so a change made after another is stamped later even within one
 * millisecond (with `Date.now` two devices can stamp the same millisecond, and then their random
 * node ids, not the order of the test, decide which change is newer).
 */
export async function twoDevices(
  options: Parameters<typeof startDevice>[0]['collection'] = {},
  deviceA: { logger?: Logger } = {},
) {
  const server = await referenceServer();
  const created = (await serverWrite(server, 'POST', '/api/notes', { title: 'start', body: 'b' }))
    .body as Note;
  let last = 0;
  const now = () => {
    last = Math.max(Date.now(), last + 1);
    return last;
  };
  const a = await startDevice({ server, collection: { now, ...options }, ...deviceA });
  const b = await startDevice({ server, collection: { now, ...options } });
  await a.notes.pull();
  await b.notes.pull();
  const conflicts: Array<ConflictEvent<Note>> = [];
  a.notes.on('conflict', (event) => conflicts.push(event));
  return { server, id: created.id, a, b, conflicts };
}

/** A FaultServer whose changes feed answers 401 while `denied.value`; writes go through. */
export async function deniedFeed(random: number, pullIntervalMs: number) {
  // The backoff after a failed pull: its shortest (0: 200 ms) or its longest (1: 2 s).
  vi.spyOn(Math, 'random').mockReturnValue(random);
  onTestFinished(() => {
    vi.restoreAllMocks();
  });
  const denied = { value: true };
  const server = await FaultServer.start({
    collections: { '/notes': {} },
    choose: (request) => (denied.value && request.method === 'GET' ? { status: 401 } : 'ok'),
  });
  onTestFinished(() => server.close());
  const t = await createTestApp({ sync: { baseUrl: server.url }, app: { logger: silentLogger } });
  onTestFinished(() => t.dispose());
  const heard: Array<SyncEvents['unauthorized']> = [];
  t.sync.on('unauthorized', (event) => heard.push(event));
  const notes = t.app.register(new Collection('notes', { url: '/notes', pullIntervalMs, locks: false }));
  const pulls = () => server.received.filter((request) => request.method === 'GET').length;
  return { server, t, notes, denied, heard, pulls };
}
