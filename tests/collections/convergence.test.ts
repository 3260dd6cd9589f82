import { describe, expect, it } from 'vitest';
import { runConvergence } from './convergence.js';

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
});
