import { describe, expect, it } from 'vitest';
import { batched, runConvergence } from './convergence.js';

// `npm test` checks a fixed seed and a few histories; `npm run test:convergence` sets
// CONVERGENCE_RUNS (and CONVERGENCE_SEED) to check many more and prints how many it checked.
const runs = Number(process.env.CONVERGENCE_RUNS ?? 0);
const seed = Number(process.env.CONVERGENCE_SEED ?? 14);
const budget = runs > 0 ? 3_600_000 : 60_000;

describe('convergence (property)', () => {
  it(
    "'lww': every device shows the server's rows, each field holds its newest write, nothing applied twice",
    async () => {
      const report = await runConvergence({ seed, numRuns: runs || 12, strategy: 'lww' });
      console.log(
        `lww: ${report.numRuns} histories checked (seed ${seed})${report.failed ? ', FAILED' : ''}`,
      );
      expect(report.failed, String(report.errorInstance)).toBe(false);
    },
    budget,
  );

  it(
    "'server-wins': every device shows the server's rows and no change that lost a 412 is applied",
    async () => {
      const report = await runConvergence({ seed: seed + 1, numRuns: runs || 8, strategy: 'server-wins' });
      console.log(
        `server-wins: ${report.numRuns} histories checked (seed ${seed + 1})${report.failed ? ', FAILED' : ''}`,
      );
      expect(report.failed, String(report.errorInstance)).toBe(false);
    },
    budget,
  );

  it(
    "'client-wins': every device shows the server's rows and every change that lost a 412 is applied",
    async () => {
      const report = await runConvergence({ seed: seed + 2, numRuns: runs || 8, strategy: 'client-wins' });
      console.log(
        `client-wins: ${report.numRuns} histories checked (seed ${seed + 2})${report.failed ? ', FAILED' : ''}`,
      );
      expect(report.failed, String(report.errorInstance)).toBe(false);
    },
    budget,
  );

  it(
    "a merge function: every device shows the server's rows, nothing applied twice",
    async () => {
      const report = await runConvergence({ seed: seed + 3, numRuns: runs || 8, strategy: 'merge' });
      console.log(
        `merge: ${report.numRuns} histories checked (seed ${seed + 3})${report.failed ? ', FAILED' : ''}`,
      );
      expect(report.failed, String(report.errorInstance)).toBe(false);
    },
    budget,
  );

  for (const [offset, strategy] of [
    [4, 'lww'],
    [5, 'server-wins'],
    [6, 'client-wins'],
  ] as const) {
    it(
      `'${strategy}' in batches of up to 5 operations: the same property`,
      async () => {
        const before = batched.operations;
        const report = await runConvergence({ seed: seed + offset, numRuns: runs || 8, strategy, batch: 5 });
        // Batches were sent (a history whose writes go one at a time would prove nothing here).
        expect(batched.operations - before).toBeGreaterThan(5);
        console.log(
          `${strategy}, batches: ${report.numRuns} histories checked (seed ${seed + offset}), ${batched.operations - before} operations in batches${report.failed ? ', FAILED' : ''}`,
        );
        expect(report.failed, String(report.errorInstance)).toBe(false);
      },
      budget,
    );
  }

  it('calibration: a device that sends its writes without their clock makes the property fail', async () => {
    const report = await runConvergence({
      seed: 16,
      numRuns: 60,
      strategy: 'lww',
      bugs: { dropClock: true },
    });
    expect(report.failed).toBe(true);
    expect(String(report.errorInstance)).toMatch(/newest write says|should (not )?exist/);
  }, 120_000);

  it('calibration, batches: a device whose batched writes go with a stale clock makes the property fail', async () => {
    const report = await runConvergence({
      seed: 16,
      numRuns: 60,
      strategy: 'lww',
      batch: 5,
      bugs: { staleClockInBatches: true },
    });
    expect(report.failed).toBe(true);
    expect(String(report.errorInstance)).toMatch(/newest write says|should (not )?exist/);
  }, 120_000);

  it("calibration: devices that settle with 'server-wins' fail the 'client-wins' property", async () => {
    const report = await runConvergence({
      seed: 17,
      numRuns: 60,
      strategy: 'client-wins',
      bugs: { actual: 'server-wins' },
    });
    expect(report.failed).toBe(true);
    expect(String(report.errorInstance)).toMatch(/refused with 412 was never applied/);
  }, 120_000);
});
