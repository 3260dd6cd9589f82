import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FetchFunction } from '../../src/plugins/sync/index.js';
import { type Fault, FaultServer } from '../../src/testing/index.js';
import { MemoryStore } from '../support/memory-store.js';
import { exactlyOnceInOrder, makeEngine, until } from './harness.js';

interface Model {
  queued: string[];
  failed: Set<string>;
  discarded: Set<string>;
  /** Ever failed: once retried, such an op is applied after the ones sent meanwhile. */
  everFailed: Set<string>;
  online: boolean;
}

/** How the tabs of one run are made: unbatched, or with a batch endpoint; a fetch to plant a bug. */
interface Setup {
  batch?: { url: string; max: number };
  fetch?: FetchFunction;
}

interface Real {
  server: FaultServer;
  store: MemoryStore;
  tab: ReturnType<typeof makeEngine>;
  setup: Setup;
  /** Faults for the next requests (and, in a batch, for each of its ops): see {@link Backlog}. */
  faults: Fault[];
  /** Called when the server serves a `'hang'` (see {@link CrashMidFlight}). */
  onHang?: () => void;
}

function makeTab(real: Pick<Real, 'server' | 'store' | 'setup'>, online = true) {
  return makeEngine({
    baseUrl: real.server.url,
    store: real.store,
    online,
    retry: { maxAttempts: 100 },
    ...real.setup,
  });
}

/** The ops that are failed now (dead-lettered) join the model's failed set. */
async function noteFailed(real: Real, model: Model): Promise<void> {
  for (const id of (await real.store.keys('f/')).map((key) => key.slice(2))) {
    model.failed.add(id);
    model.everFailed.add(id);
  }
}

async function settle(real: Real, model: Model): Promise<void> {
  if (!model.online) return;
  const { engine } = real.tab;
  for (;;) {
    await until(
      () => (engine.pendingCount.value === 0 && !engine.isSyncing.value) || engine.status.value === 'paused',
      'the queue drained, or paused by a 401',
    );
    if (engine.pendingCount.value === 0 && !engine.isSyncing.value) return;
    engine.resume(); // as an app does after signing in again
  }
}

async function checkInvariants(real: Real, model: Model): Promise<void> {
  // A retried refusal is sent with `<id>.<generation>`: it is still the same operation.
  const applied = real.server.applied.map((entry) => entry.key?.replace(/\.\d+$/, '') ?? null);
  expect(new Set(applied).size).toBe(applied.length); // never applied twice
  const pendingKeys = (await real.store.keys('p/')).map((key) => key.slice(2));
  const failedKeys = (await real.store.keys('f/')).map((key) => key.slice(2));
  expect(real.tab.engine.pendingCount.value).toBe(pendingKeys.length); // true to storage
  expect(real.tab.engine.failedCount.value).toBe(failedKeys.length);
  for (const id of model.queued) {
    if (model.discarded.has(id)) continue;
    const places = [applied.includes(id), pendingKeys.includes(id), failedKeys.includes(id)].filter(
      Boolean,
    ).length;
    expect(places, `operation ${id} must be in exactly one place`).toBe(1); // nothing lost
  }
  const neverFailed = applied.filter((id) => !model.everFailed.has(id as string));
  const expectedOrder = model.queued.filter((id) => neverFailed.includes(id));
  expect(exactlyOnceInOrder(neverFailed, expectedOrder)).toStrictEqual([]); // order kept
  expect(failedKeys.sort()).toStrictEqual([...model.failed].sort());
}

class Enqueue implements fc.AsyncCommand<Model, Real> {
  constructor(readonly n: number) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const op = await real.tab.queue('POST', `/api/${this.n}`, { body: { n: this.n } });
    model.queued.push(op.id);
    await settle(real, model);
    await checkInvariants(real, model);
  }
  toString = () => `enqueue(${this.n})`;
}

class InjectFault implements fc.AsyncCommand<Model, Real> {
  constructor(readonly fault: Fault) {}
  check = (model: Readonly<Model>) => model.online;
  async run(model: Model, real: Real) {
    real.server.script(this.fault);
    const before = new Set(real.server.applied.map((entry) => entry.key));
    const op = await real.tab.queue('PUT', '/api/faulty', { body: {} });
    model.queued.push(op.id);
    await settle(real, model);
    if (
      typeof this.fault === 'object' &&
      'status' in this.fault &&
      this.fault.status < 500 &&
      this.fault.status !== 429
    ) {
      // The fault hit the oldest pending op, which is now failed.
      await noteFailed(real, model);
    }
    expect(real.server.applied.filter((entry) => !before.has(entry.key)).length).toBeLessThanOrEqual(
      model.queued.length,
    );
    await checkInvariants(real, model);
  }
  toString = () => `fault(${JSON.stringify(this.fault)})`;
}

/** Goes offline and queues one op per n, in order (the model expects them sent in that order). */
async function queueOffline(real: Real, model: Model, ns: readonly number[]): Promise<void> {
  real.tab.online.value = false;
  for (const n of ns) {
    const op = await real.tab.queue('POST', `/api/${n}`, { body: { n } });
    model.queued.push(op.id);
  }
}

/**
 * Offline, several ops queued, then back online with faults for the requests that drain them:
 * with a batch endpoint, the first fault is the batch request's own and each op of a batch takes
 * the next (see FaultServerOptions.batch), so a fault can hit any op in the middle of a batch.
 * The faults left over once the queue has drained are forgotten.
 */
class Backlog implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly ns: number[],
    readonly faults: Fault[],
  ) {}
  check = (model: Readonly<Model>) => model.online;
  async run(model: Model, real: Real) {
    await queueOffline(real, model, this.ns);
    real.faults.push(...this.faults);
    real.tab.online.value = true;
    await settle(real, model);
    real.faults.length = 0;
    await noteFailed(real, model);
    await checkInvariants(real, model);
  }
  toString = () => `backlog(${this.ns.length}, ${JSON.stringify(this.faults)})`;
}

/**
 * As {@link Backlog}, but the app is closed (a crash or a reload) while a request hangs: with a
 * batch, the server may have applied some of its ops. A new tab on the same storage sends the
 * rest. (If the queue drains before the hang is served, it is a plain restart.)
 */
class CrashMidFlight implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly ns: number[],
    readonly before: Fault[],
  ) {}
  check = (model: Readonly<Model>) => model.online;
  async run(model: Model, real: Real) {
    await queueOffline(real, model, this.ns);
    const hung = new Promise<void>((resolve) => {
      real.onHang = resolve;
    });
    real.faults.push(...this.before, 'hang');
    real.tab.online.value = true;
    await Promise.race([hung, settle(real, model)]);
    real.faults.length = 0;
    await real.tab.engine.dispose();
    real.tab = makeTab(real);
    await real.tab.engine.start();
    await settle(real, model);
    await noteFailed(real, model);
    await checkInvariants(real, model);
  }
  toString = () => `crashMidFlight(${this.ns.length}, ${JSON.stringify(this.before)})`;
}

class SetOnline implements fc.AsyncCommand<Model, Real> {
  constructor(readonly online: boolean) {}
  check = () => true;
  async run(model: Model, real: Real) {
    model.online = this.online;
    real.tab.online.value = this.online;
    await settle(real, model);
    await checkInvariants(real, model);
  }
  toString = () => `online(${this.online})`;
}

class Restart implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(model: Model, real: Real) {
    await real.tab.engine.dispose();
    real.tab = makeTab(real, model.online);
    await real.tab.engine.start();
    await settle(real, model);
    await checkInvariants(real, model);
  }
  toString = () => 'restart';
}

class DiscardOldest implements fc.AsyncCommand<Model, Real> {
  check = (model: Readonly<Model>) => !model.online;
  async run(model: Model, real: Real) {
    const [oldest] = await real.tab.engine.pending();
    if (!oldest) return;
    expect(await real.tab.engine.discard(oldest.id)).toBe(true);
    model.discarded.add(oldest.id);
    await checkInvariants(real, model);
  }
  toString = () => 'discardOldest';
}

class RetryFailed implements fc.AsyncCommand<Model, Real> {
  check = (model: Readonly<Model>) => model.failed.size > 0;
  async run(model: Model, real: Real) {
    await real.tab.engine.retry();
    model.failed.clear();
    await settle(real, model);
    await checkInvariants(real, model);
  }
  toString = () => 'retryFailed';
}

const faults: fc.Arbitrary<Fault> = fc.constantFrom<Fault>(
  'drop-before',
  'drop-after',
  { status: 503, retryAfter: '0' },
  { status: 500 },
  { status: 429, retryAfter: '0' },
  { status: 401 },
  { status: 400 },
  { status: 404 },
);

const ns = fc.array(fc.integer({ min: 0, max: 999 }), { minLength: 2, maxLength: 7 });

const commands = [
  fc.integer({ min: 0, max: 999 }).map((n) => new Enqueue(n)),
  faults.map((fault) => new InjectFault(fault)),
  fc
    .tuple(
      fc.array(fc.integer({ min: 0, max: 999 }), { minLength: 2, maxLength: 7 }),
      fc.array(faults, { maxLength: 4 }),
    )
    .map(([ns, list]) => new Backlog(ns, list)),
  fc.tuple(ns, fc.array(faults, { maxLength: 3 })).map(([list, before]) => new CrashMidFlight(list, before)),
  fc.boolean().map((online) => new SetOnline(online)),
  fc.constant(new Restart()),
  fc.constant(new DiscardOldest()),
  fc.constant(new RetryFailed()),
];

/** Runs the model over random command sequences; rejects with fast-check's counterexample. */
async function checkModel(setup: Setup, numRuns: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(fc.commands(commands, { maxCommands: 30 }), async (cmds) => {
      const faultList: Fault[] = [];
      // A status for an op the server already applied (its answer lost) would make it both
      // applied and failed: an idempotent server answers such a retry from its record instead.
      const choose = (request: { key: string | null }): Fault => {
        const fault = faultList.shift() ?? 'ok';
        if (fault === 'hang') real.onHang?.();
        const applied = server.applied.some((entry) => entry.key !== null && entry.key === request.key);
        return typeof fault === 'object' && applied ? 'ok' : fault;
      };
      const server = await FaultServer.start({ batch: '/batch', choose });
      const store = new MemoryStore();
      const real: Real = { server, store, setup, faults: faultList, tab: makeTab({ server, store, setup }) };
      await real.tab.engine.start();
      const model: Model = {
        queued: [],
        failed: new Set(),
        discarded: new Set(),
        everFailed: new Set(),
        online: true,
      };
      try {
        await fc.asyncModelRun(() => ({ model, real }), cmds);
      } finally {
        await real.tab.engine.dispose();
        await server.close();
      }
    }),
    { numRuns },
  );
}

const batch = { url: '/batch', max: 3 };

/** A client bug planted for the calibration: each batch's ops sent in reverse order. */
const reversingBatches: FetchFunction = (input, init) => {
  if (!String(input).endsWith('/batch') || typeof init.body !== 'string') return fetch(input, init);
  const body = JSON.parse(init.body) as { ops: unknown[] };
  return fetch(input, { ...init, body: JSON.stringify({ ...body, ops: body.ops.reverse() }) });
};

/** Another: a batch's op sent again (its answer lost) with a new key, as a client that forgot it. */
function rekeyingBatches(): FetchFunction {
  const sent = new Map<string, number>();
  return (input, init) => {
    if (!String(input).endsWith('/batch') || typeof init.body !== 'string') return fetch(input, init);
    const body = JSON.parse(init.body) as { ops: Array<{ id: string }> };
    const ops = body.ops.map((op) => {
      const attempt = (sent.get(op.id) ?? 0) + 1;
      sent.set(op.id, attempt);
      return attempt === 1 ? op : { ...op, id: `${op.id}~${attempt}` };
    });
    return fetch(input, { ...init, body: JSON.stringify({ ...body, ops }) });
  };
}

describe('the outbox as a model (fast-check)', () => {
  it('random sequences of queue / faults / backlogs / offline / restart / discard / retry keep: no loss, no duplicate, order, honest counts', async () => {
    await checkModel({}, 100);
  }, 120_000);

  it('the same with batches of up to 3 ops, a fault able to hit any op in the middle of a batch', async () => {
    await checkModel({ batch }, 100);
  }, 120_000);

  it.each([
    ["sends a batch's ops in reverse order", () => reversingBatches],
    ["gives a batch's ops new keys on each attempt", rekeyingBatches],
  ])(
    'is calibrated: a client that %s fails it',
    async (_, planted) => {
      await expect(checkModel({ batch, fetch: planted() }, 100)).rejects.toThrow(/Property failed/);
    },
    120_000,
  );
});
