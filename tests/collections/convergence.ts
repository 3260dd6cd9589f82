/**
 * The convergence property of collections (issue 14), shared by `npm test` (a fixed seed, a few
 * runs) and `npm run test:convergence` (many seeds): several devices — each its own app on
 * fake-indexeddb — and the reference server; random inserts, updates and removes on a few rows
 * and fields, offline periods, restarts, pulls and faults on the wire. When everything is online
 * and quiet, every device shows the server's rows; under 'lww' every field holds the value of the
 * change with the greatest clock; nothing is applied twice; under 'server-wins' no change that
 * lost a 412 is applied; under 'client-wins' every change that lost a 412 is applied (sent again on
 * the server's version) unless the row was deleted. `'merge'` is a merge function that resends the
 * fields the change sets. Each runs with one request per operation, or in batches (`batch`).
 */

import { IDBFactory } from 'fake-indexeddb';
import fc from 'fast-check';
import { createServer, type RunningServer } from '../../examples/server/server.mjs';
import { createApp } from '../../src/core/app.js';
import { Collection, type ConflictInput } from '../../src/plugins/collections/index.js';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import { SyncPlugin } from '../../src/plugins/sync/index.js';
import { silentLogger, until } from '../sync/harness.js';

interface Note extends Record<string, unknown> {
  id: string;
  title: string;
  body: string;
  version: number;
}

export type Command =
  | { kind: 'insert'; device: number }
  | { kind: 'update'; device: number; row: number; field: 'title' | 'body' }
  | { kind: 'remove'; device: number; row: number }
  | { kind: 'offline' | 'online' | 'restart' | 'pull' | 'flush'; device: number }
  | { kind: 'fault'; fault: 'drop-before' | 'drop-after' | 503 };

export interface History {
  devices: number;
  commands: Command[];
}

export type Strategy = 'lww' | 'server-wins' | 'client-wins' | 'merge';

/** The merge function of `'merge'`: the fields the change sets (where it differs from the server's row). */
function merge({ local, server }: ConflictInput<Note>): Partial<Note> | null {
  if (local === null) return null;
  const patch = Object.fromEntries(
    Object.entries(local).filter(
      ([field, value]) => field !== 'id' && field !== 'version' && value !== server?.[field],
    ),
  );
  return Object.keys(patch).length > 0 ? patch : null;
}

/** Histories of 2-4 devices and `minCommands` to `maxCommands` commands. */
export function histories(maxCommands = 24, minCommands = 0): fc.Arbitrary<History> {
  return fc.integer({ min: 2, max: 4 }).chain((devices) => {
    const device = fc.integer({ min: 0, max: devices - 1 });
    const command: fc.Arbitrary<Command> = fc.oneof(
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('insert' as const), device }) },
      {
        weight: 5,
        arbitrary: fc.record({
          kind: fc.constant('update' as const),
          device,
          row: fc.nat(3),
          field: fc.constantFrom('title' as const, 'body' as const),
        }),
      },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), device, row: fc.nat(3) }) },
      {
        weight: 4,
        arbitrary: fc.record({
          kind: fc.constantFrom('offline' as const, 'online' as const, 'pull' as const, 'flush' as const),
          device,
        }),
      },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), device }) },
      {
        weight: 1,
        arbitrary: fc.record({
          kind: fc.constant('fault' as const),
          fault: fc.constantFrom('drop-before' as const, 'drop-after' as const, 503 as const),
        }),
      },
    );
    return fc.record({
      devices: fc.constant(devices),
      commands: fc.array(command, { minLength: minCommands, maxLength: maxCommands }),
    });
  });
}

interface Sent {
  key: string;
  method: string;
  path: string;
  clock: string | undefined;
  body: Record<string, unknown> | undefined;
  status?: number;
  responseId?: string;
  /** The device that sent it, the version it was made on (If-Match), the version it made. */
  device: number;
  ifMatch?: string | undefined;
  version?: number;
}

/**
 * A planted bug for the calibration: a device that sends its writes without their clock; a device
 * whose batched writes go with a clock from 1970 (a batch that loses its operations' own headers);
 * devices that settle conflicts with `actual` while the property checks the strategy asked for.
 */
export interface Bugs {
  dropClock?: boolean;
  staleClockInBatches?: boolean;
  actual?: Strategy;
}

/** Batch requests sent and the operations in them, over every history run (so a test can see batches were used). */
export const batched = { requests: 0, operations: 0 };

/** How the devices send: `batch` = up to that many operations per batch request. */
export interface Setup {
  bugs?: Bugs;
  batch?: number;
}

/** Runs one history; resolves with the problems found (empty when the property holds). */
export async function checkHistory(
  history: History,
  strategy: Strategy,
  { bugs = {}, batch }: Setup = {},
): Promise<string[]> {
  const server = await createServer({ dataFile: null, staticDir: null });
  const sent = new Map<string, Sent>();
  let counter = 0;
  const devices: Array<{
    disk: IDBFactory;
    name: string;
    online: boolean;
    app?: ReturnType<typeof createApp>;
    notes?: Collection<Note>;
    sync?: SyncPlugin;
    connectivity?: ConnectivityPlugin;
  }> = [];
  let writes = 0; // requests other than GET, sent by any device
  /** The entry of one operation sent (alone or in a batch), the first time its key is seen. */
  const record = (
    device: number,
    key: string,
    method: string,
    path: string,
    headers: Headers,
    body: unknown,
  ) => {
    const entry = sent.get(key) ?? {
      key,
      method,
      path,
      clock: headers.get('Fluxy-Clock') ?? undefined,
      body: typeof body === 'string' ? (JSON.parse(body) as Record<string, unknown>) : undefined,
      device,
      ifMatch: headers.get('If-Match')?.replaceAll('"', ''),
    };
    entry.path = path;
    sent.set(key, entry);
    return entry;
  };
  const answered = (entry: Sent, status: number, row: unknown) => {
    entry.status = status;
    if (status === 201 || status === 200) {
      if (status === 201) entry.responseId = (row as Note).id;
      entry.version = (row as Note).version;
    }
  };
  const recordingFetch = (device: number) => async (input: string, init: RequestInit) => {
    const headers = new Headers(init.headers);
    const key = headers.get('Idempotency-Key');
    if (bugs.dropClock && device === 0) headers.delete('Fluxy-Clock');
    const method = init.method ?? 'GET';
    let entry: Sent | undefined;
    if (method !== 'GET') writes++;
    if (new URL(input).pathname === '/api/batch') {
      // Each operation of a batch carries its own key and headers (clock, If-Match).
      const { ops } = JSON.parse(String(init.body)) as {
        ops: Array<{
          id: string;
          method: string;
          url: string;
          headers: Record<string, string>;
          body?: unknown;
        }>;
      };
      batched.requests++;
      batched.operations += ops.length;
      const entries = ops.map((op) => {
        if (bugs.dropClock && device === 0) delete op.headers['Fluxy-Clock'];
        const body = op.body === undefined ? undefined : JSON.stringify(op.body);
        const entry = record(
          device,
          op.id,
          op.method,
          new URL(op.url, input).pathname,
          new Headers(op.headers),
          body,
        );
        const clock = op.headers['Fluxy-Clock'];
        if (bugs.staleClockInBatches && device === 0 && clock)
          op.headers['Fluxy-Clock'] = clock.replace(/^[^-]+/, (time) => '0'.repeat(time.length));
        return entry;
      });
      const response = await fetch(input, { ...init, body: JSON.stringify({ ops }) });
      if (response.status === 200) {
        const { results } = (await response.clone().json()) as {
          results: Array<{ status: number; body: unknown }>;
        };
        results.forEach((result, index) => {
          const one = entries[index];
          if (one) answered(one, result.status, result.body);
        });
      }
      return response;
    }
    if (key && method !== 'GET')
      entry = record(device, key, method, new URL(input).pathname, headers, init.body);
    const response = await fetch(input, { ...init, headers });
    if (entry) {
      const row =
        response.status === 201 || response.status === 200 ? await response.clone().json() : undefined;
      answered(entry, response.status, row);
    }
    return response;
  };
  const start = async (index: number) => {
    const device = devices[index] as (typeof devices)[number];
    const app = createApp({ logger: silentLogger });
    app.register(new StoragePlugin({ name: device.name, indexedDB: device.disk }));
    const connectivity = app.register(new ConnectivityPlugin());
    connectivity.setOnline(device.online);
    const sync = app.register(
      new SyncPlugin({
        baseUrl: `${server.url}/api`,
        fetch: recordingFetch(index),
        retry: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 1000 },
        ...(batch ? { batch: { url: '/batch', max: batch } } : {}),
      }),
    );
    if (process.env.DBG) {
      sync.on('sent', (e) => console.log('EV sent', index, e.operation.id, e.status));
      sync.on('change', (e) => console.log('EV change', index, JSON.stringify(e)));
    }
    const notes = app.register(
      // 2^31 - 1 ms: no timer, but the pulls at start-up and on reconnect (0 would turn them off).
      new Collection<Note>('notes', {
        url: '/notes',
        conflict: conflictOf(bugs.actual ?? strategy),
        pullIntervalMs: 2 ** 31 - 1,
        locks: false,
      }),
    );
    await app.ready();
    Object.assign(device, { app, sync, notes, connectivity });
  };
  try {
    for (let index = 0; index < history.devices; index++) {
      devices.push({
        disk: new IDBFactory(),
        name: `conv-${index}-${Math.random().toString(36).slice(2)}`,
        // With batches, devices start offline so that their first writes wait and go together.
        online: !batch,
      });
      await start(index);
    }
    for (const command of history.commands) {
      if (command.kind === 'fault') {
        await fetch(`${server.url}/api/_faults`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify([
            typeof command.fault === 'number' ? { status: command.fault } : command.fault,
          ]),
        });
        continue;
      }
      const device = devices[command.device] as Required<(typeof devices)[number]>;
      const rows = device.notes.items.value;
      const row = 'row' in command ? rows[command.row % Math.max(rows.length, 1)] : undefined;
      switch (command.kind) {
        case 'insert':
          await device.notes.insert({ title: `t${++counter}`, body: `b${counter}` });
          break;
        case 'update':
          if (row) await device.notes.update(row.id, { [command.field]: `${command.field[0]}${++counter}` });
          break;
        case 'remove':
          if (row) await device.notes.remove(row.id);
          break;
        case 'offline':
        case 'online':
          device.online = command.kind === 'online';
          device.connectivity.setOnline(device.online);
          break;
        case 'pull':
          if (device.online) await device.notes.pull().catch(() => {});
          break;
        case 'flush':
          await device.sync.flush();
          break;
        case 'restart':
          await device.app.dispose();
          await start(command.device);
          break;
      }
    }
    // Everything online and quiet: no faults left, flush and pull until nothing moves.
    await fetch(`${server.url}/api/_faults`, { method: 'DELETE' });
    for (const device of devices) {
      device.online = true;
      device.connectivity?.setOnline(true);
    }
    // Until a round sends no write: a pull may resolve a 412 by sending a change again, after
    // the other devices pulled in that round.
    for (let round = 0; round < 6; round++) {
      const writesBefore = writes;
      for (const device of devices) {
        const { sync } = device as Required<typeof device>;
        await sync.flush();
        await until(
          () => sync.pendingCount.value === 0 && !sync.isSyncing.value,
          'the outbox to drain',
          15_000,
        );
      }
      for (const device of devices) {
        const notes = device.notes as Collection<Note>;
        await until(() => notes.unconfirmed.value === 0, 'every change to be confirmed', 15_000);
        await notes.pull();
      }
      if (writes === writesBefore && devices.every((device) => device.sync?.pendingCount.value === 0)) break;
    }
    return await problems(
      server,
      devices.map((device) => device.notes as Collection<Note>),
      sent,
      strategy,
    );
  } finally {
    for (const device of devices) await device.app?.dispose();
    await server.close();
  }
}

function conflictOf(strategy: Strategy) {
  return strategy === 'merge' ? merge : strategy;
}

async function problems(
  server: RunningServer,
  collections: Array<Collection<Note>>,
  sent: Map<string, Sent>,
  strategy: Strategy,
): Promise<string[]> {
  const found: string[] = [];
  const rows = ((await (await fetch(`${server.url}/api/notes`)).json()) as Note[]).sort(
    (a, b) => a.id.length - b.id.length || (a.id < b.id ? -1 : 1),
  );
  collections.forEach((notes, index) => {
    if (JSON.stringify(notes.items.value) !== JSON.stringify(rows)) {
      found.push(
        `device ${index} shows ${JSON.stringify(notes.items.value)}, the server has ${JSON.stringify(rows)}`,
      );
    }
  });
  const log = (await (await fetch(`${server.url}/api/_log`)).json()) as Array<{
    key: string | null;
    body: unknown;
  }>;
  const keys = log.map((entry) => entry.key).filter((key) => key !== null);
  if (new Set(keys).size !== keys.length) found.push(`a key was applied twice: ${JSON.stringify(keys)}`);
  if (strategy === 'lww') found.push(...lwwProblems(rows, sent));
  else if (strategy === 'client-wins') found.push(...clientWinsProblems(sent));
  else if (strategy === 'server-wins') {
    // A change refused with 412 is never applied, under any key — unless only writes of its own
    // device made the row's versions since the one it was made on: then it is sent again on the
    // server's version, by design (docs/conflicts.md, "A change made on top of a pending change").
    const madeBy = new Map<string, number>();
    for (const entry of sent.values())
      if (entry.status === 200 && entry.version !== undefined)
        madeBy.set(`${entry.path}@${entry.version}`, entry.device);
    const ownRefusal = (entry: Sent) =>
      [...sent.values()].some((resend) => {
        if (resend.status !== 200 || resend.device !== entry.device || resend.path !== entry.path)
          return false;
        if (!Object.entries(entry.body ?? {}).some(([field, value]) => resend.body?.[field] === value))
          return false;
        for (let version = Number(entry.ifMatch) + 1; version <= Number(resend.ifMatch); version++)
          if (madeBy.get(`${entry.path}@${version}`) !== entry.device) return false;
        return Number(resend.ifMatch) > Number(entry.ifMatch);
      });
    const lost = [...sent.values()].filter((entry) => entry.status === 412 && !ownRefusal(entry));
    const text = JSON.stringify(log.map((entry) => entry.body)) + JSON.stringify(rows);
    for (const entry of lost) {
      for (const value of Object.values(entry.body ?? {})) {
        if (typeof value === 'string' && text.includes(`"${value}"`))
          found.push(`a change lost to a 412 was applied: ${value}`);
      }
    }
  }
  return found;
}

/**
 * Under 'client-wins': every change refused with 412 is applied in the end (sent again, under
 * another key, on the server's version), unless the row was deleted meanwhile (404/410).
 */
function clientWinsProblems(sent: Map<string, Sent>): string[] {
  const found: string[] = [];
  const all = [...sent.values()];
  for (const refused of all) {
    if (refused.status !== 412) continue;
    const later = all.filter((entry) => entry.device === refused.device && entry.path === refused.path);
    if (later.some((entry) => entry.status === 404 || entry.status === 410)) continue;
    const applied = later.filter(
      (entry) => entry.method === refused.method && entry.status !== undefined && entry.status < 300,
    );
    const missing = Object.entries(refused.body ?? {}).filter(
      ([field, value]) => !applied.some((entry) => entry.body?.[field] === value),
    );
    if (refused.method === 'DELETE' ? applied.length === 0 : missing.length > 0)
      found.push(
        `a change refused with 412 was never applied: ${refused.method} ${refused.path} ${JSON.stringify(refused.body)}`,
      );
  }
  return found;
}

/** Under LWW: a row exists iff its newest write is newer than its newest delete; each field holds its newest write. */
function lwwProblems(rows: Note[], sent: Map<string, Sent>): string[] {
  const expected = new Map<
    string,
    { write: string; remove: string; fields: Map<string, { clock: string; value: unknown }> }
  >();
  const entryOf = (id: string) => {
    let entry = expected.get(id);
    if (!entry) {
      entry = { write: '', remove: '', fields: new Map() };
      expected.set(id, entry);
    }
    return entry;
  };
  for (const change of sent.values()) {
    if (change.clock === undefined || change.status === undefined) continue;
    const id =
      change.method === 'POST' ? change.responseId : decodeURIComponent(change.path.split('/').pop() ?? '');
    if (!id) continue;
    const entry = entryOf(id);
    if (change.method === 'DELETE') {
      if (change.clock > entry.remove) entry.remove = change.clock;
      continue;
    }
    if (change.clock > entry.write) entry.write = change.clock;
    const fields = { ...(change.method === 'POST' ? { body: '' } : {}), ...change.body };
    for (const [field, value] of Object.entries(fields)) {
      const current = entry.fields.get(field);
      if (!current || change.clock > current.clock) entry.fields.set(field, { clock: change.clock, value });
    }
  }
  const found: string[] = [];
  const byId = new Map(rows.map((row) => [row.id, row]));
  for (const [id, entry] of expected) {
    const exists = entry.write > entry.remove;
    const row = byId.get(id);
    if (exists !== (row !== undefined)) {
      found.push(
        `row ${id} should ${exists ? '' : 'not '}exist (newest write ${entry.write}, newest delete ${entry.remove})`,
      );
      continue;
    }
    for (const [field, { value }] of entry.fields) {
      if (row && row[field] !== value)
        found.push(
          `row ${id}.${field} is ${JSON.stringify(row[field])}, the newest write says ${JSON.stringify(value)}`,
        );
    }
  }
  return found;
}

/** Runs the property; resolves with fast-check's report. */
export function runConvergence(options: {
  seed: number;
  numRuns: number;
  strategy: Strategy;
  bugs?: Bugs;
  batch?: number;
  maxCommands?: number;
}) {
  const setup: Setup = {};
  if (options.bugs) setup.bugs = options.bugs;
  if (options.batch) setup.batch = options.batch;
  return fc.check(
    // With batches, long histories: writes pile up while a device is offline, then go together.
    fc.asyncProperty(histories(options.maxCommands, options.batch ? 16 : 0), async (history) => {
      const found = await checkHistory(history, options.strategy, setup);
      if (found.length > 0) throw new Error(found.join('\n'));
    }),
    { seed: options.seed, numRuns: options.numRuns, endOnFailure: true },
  );
}
