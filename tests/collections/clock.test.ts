import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLock, RowCache } from '../../src/plugins/collections/cache.js';
import { formatStamp, HybridClock, maxClockSkewMs, parseStamp } from '../../src/plugins/collections/clock.js';
import type { KeyValueStore } from '../../src/plugins/storage/key-value-store.js';
import { MemoryStore } from '../support/memory-store.js';

describe('HybridClock', () => {
  it('follows the table', () => {
    let wall = 1_000;
    const clock = new HybridClock('node1', () => wall);
    const at = (time: number, counter: number, node = 'node1') => formatStamp({ time, counter, node });
    const receiveThenLast = (stamp: string) => {
      clock.receiveStamp(stamp);
      return clock.lastStamp;
    };
    const tickAt = (time: number) => {
      wall = time;
      return clock.nextStamp();
    };
    const steps: Array<[string, () => string, string]> = [
      ['first tick takes the wall clock', () => clock.nextStamp(), at(1000, 0)],
      ['same millisecond: counter', () => clock.nextStamp(), at(1000, 1)],
      ['wall clock moves on', () => tickAt(1005), at(1005, 0)],
      ['wall clock goes back: time stays, counter grows', () => tickAt(900), at(1005, 1)],
      [
        'a remote stamp ahead: adopted, counter past it',
        () => receiveThenLast(at(2000, 7, 'other')),
        at(2000, 8),
      ],
      ['a tick after it sorts after it', () => clock.nextStamp(), at(2000, 9)],
      [
        'a remote stamp behind: only the counter moves',
        () => receiveThenLast(at(1500, 3, 'other')),
        at(2000, 10),
      ],
      ['wall clock passes everything: back to wall time', () => tickAt(5000), at(5000, 0)],
    ];
    for (const [label, step, expected] of steps) expect(step(), label).toBe(expected);
  });

  it('refuses a stamp more than 5 minutes ahead, and garbage, without moving', () => {
    const clock = new HybridClock('a', () => 10_000_000);
    const before = clock.nextStamp();
    expect(
      clock.receiveStamp(formatStamp({ time: 10_000_000 + maxClockSkewMs + 1, counter: 0, node: 'b' })),
    ).toBe('too-far-ahead');
    expect(clock.receiveStamp('not a stamp')).toBe('invalid');
    expect(clock.lastStamp).toBe(before);
    expect(
      clock.receiveStamp(formatStamp({ time: 10_000_000 + maxClockSkewMs, counter: 0, node: 'b' })),
    ).toBe('adopted');
  });

  it('restores the last stamp of an earlier session (monotonic across restarts, even with the wall clock behind)', () => {
    const first = new HybridClock('a', () => 50_000);
    first.nextStamp();
    const last = first.nextStamp();
    const second = new HybridClock('b', () => 10_000);
    second.restoreStamp(last);
    expect(second.nextStamp() > last).toBe(true);
  });

  it('sorts as strings in time, counter, node order and round-trips', () => {
    const a = formatStamp({ time: 5, counter: 35, node: 'z' });
    const b = formatStamp({ time: 6, counter: 0, node: 'a' });
    expect(a < b).toBe(true);
    expect(parseStamp(a)).toEqual({ time: 5, counter: 35, node: 'z' });
    expect(parseStamp('00000000-0000-a')).toBeUndefined();
    expect(parseStamp(new HybridClock('k3f9a2c1').nextStamp())).toMatchObject({ node: 'k3f9a2c1' });
  });

  it('is monotonic under any sequence of ticks, receives and wall-clock jumps (property)', () => {
    const command = fc.oneof(
      fc.record({ kind: fc.constant('tick' as const) }),
      fc.record({ kind: fc.constant('jump' as const), by: fc.integer({ min: -3_600_000, max: 3_600_000 }) }),
      fc.record({
        kind: fc.constant('receive' as const),
        offset: fc.integer({ min: -600_000, max: 600_000 }),
        counter: fc.integer({ min: 0, max: 36 ** 4 - 1 }),
      }),
    );
    fc.assert(
      fc.property(fc.array(command, { maxLength: 200 }), (commands) => {
        let wall = 1_700_000_000_000;
        const clock = new HybridClock('me', () => wall);
        let previous = clock.lastStamp;
        for (const step of commands) {
          if (step.kind === 'jump') wall += step.by;
          else if (step.kind === 'receive') {
            const stamp = formatStamp({ time: wall + step.offset, counter: step.counter, node: 'them' });
            const result = clock.receiveStamp(stamp);
            if (result === 'adopted' && !(clock.lastStamp > stamp)) return false; // later stamps sort after
            if (result === 'too-far-ahead' && step.offset <= maxClockSkewMs) return false;
          } else {
            const stamp = clock.nextStamp();
            if (!(stamp > previous)) return false;
          }
          if (clock.lastStamp < previous) return false;
          previous = clock.lastStamp;
        }
        return true;
      }),
      { seed: 13, numRuns: 300 },
    );
  });
});

// A review: the clocks took `Date.now` when made, so fake timers an app's test installs after
// creating its app (vi.setSystemTime) did not reach them: two tabs' cache chunks then replayed
// out of order, and Fluxy-Clock stamps kept real time.
describe('the wall clock is read at each tick', () => {
  afterEach(() => vi.useRealTimers());

  it('a clock made before fake timers follows them', () => {
    const clock = new HybridClock('node1');
    vi.useFakeTimers({ toFake: ['Date'] });
    const later = Date.now() + 10 * 60_000;
    vi.setSystemTime(later);
    expect(parseStamp(clock.nextStamp())?.time).toBe(later);
  });

  it("two tabs' caches, one made before fake timers: the later write wins on replay", async () => {
    const store = new MemoryStore() as unknown as KeyValueStore;
    const lock = createLock(false, 'x');
    const a = new RowCache<{ id: string; title: string }>(store, 'id', lock);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 10 * 60_000);
    const b = new RowCache<{ id: string; title: string }>(store, 'id', lock);
    await b.writePages([{ rows: [{ id: 'n', title: 'earlier (tab b)' }], deleted: [] }]);
    vi.setSystemTime(Date.now() + 1000);
    await a.writePages([{ rows: [{ id: 'n', title: 'later (tab a)' }], deleted: [] }]);
    expect((await a.readRows())[0]?.title).toBe('later (tab a)');
  });
});
