import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
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

interface Real {
  server: FaultServer;
  store: MemoryStore;
  tab: ReturnType<typeof makeEngine>;
}

async function settle(real: Real, model: Model): Promise<void> {
  if (!model.online) return;
  await until(() => real.tab.engine.pendingCount.value === 0 && !real.tab.engine.isSyncing.value);
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
      const failedNow = (await real.store.keys('f/')).map((key) => key.slice(2));
      for (const id of failedNow) {
        model.failed.add(id);
        model.everFailed.add(id);
      }
    }
    expect(real.server.applied.filter((entry) => !before.has(entry.key)).length).toBeLessThanOrEqual(
      model.queued.length,
    );
    await checkInvariants(real, model);
  }
  toString = () => `fault(${JSON.stringify(this.fault)})`;
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
    real.tab = makeEngine({ baseUrl: real.server.url, store: real.store, online: model.online });
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

describe('the outbox as a model (fast-check)', () => {
  it('random sequences of queue / faults / offline / restart / discard / retry keep: no loss, no duplicate, order, honest counts', async () => {
    const faults: fc.Arbitrary<Fault> = fc.constantFrom<Fault>(
      'drop-before',
      'drop-after',
      { status: 503, retryAfter: '0' },
      { status: 500 },
      { status: 429, retryAfter: '0' },
      { status: 400 },
      { status: 404 },
    );
    const commands = [
      fc.integer({ min: 0, max: 999 }).map((n) => new Enqueue(n)),
      faults.map((fault) => new InjectFault(fault)),
      fc.boolean().map((online) => new SetOnline(online)),
      fc.constant(new Restart()),
      fc.constant(new DiscardOldest()),
      fc.constant(new RetryFailed()),
    ];
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 30 }), async (cmds) => {
        const server = await FaultServer.start();
        const store = new MemoryStore();
        const tab = makeEngine({ baseUrl: server.url, store, retry: { maxAttempts: 100 } });
        await tab.engine.start();
        const real: Real = { server, store, tab };
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
      { numRuns: 100 },
    );
  }, 120_000);
});
