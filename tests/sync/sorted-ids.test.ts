import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SortedIds } from '../../src/plugins/sync/sorted-ids.js';

type Step =
  | { kind: 'add'; ids: string[] }
  | { kind: 'remove'; ids: string[] }
  | { kind: 'reset'; ids: string[] };

const id = fc.stringMatching(/^[a-e]{1,3}$/);
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('add' as const), ids: fc.array(id, { maxLength: 4 }) }),
  fc.record({ kind: fc.constant('remove' as const), ids: fc.array(id, { maxLength: 4 }) }),
  // Removing the head is what a flush does all the time: make it common.
  fc.record({ kind: fc.constant('remove' as const), ids: fc.constant<string[]>(['<head>']) }),
  fc.record({ kind: fc.constant('reset' as const), ids: fc.array(id, { maxLength: 6 }) }),
);

describe('SortedIds', () => {
  it('behaves like a sorted set of strings under any sequence of changes', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const real = new SortedIds();
        let model: string[] = [];
        for (const s of steps) {
          const ids = s.ids.map((i) => (i === '<head>' ? (model[0] ?? 'zz') : i));
          if (s.kind === 'add') model = [...new Set([...model, ...ids])].sort();
          else if (s.kind === 'remove') model = model.filter((m) => !ids.includes(m));
          else model = [...new Set(ids)].sort();
          real[s.kind](ids);
          expect(real.page(undefined, Infinity)).toEqual(model);
          expect(real.length).toBe(model.length);
          expect(real.first()).toBe(model[0]);
          for (const probe of ['a', 'b', 'cc', 'e', 'zz']) {
            expect(real.has(probe)).toBe(model.includes(probe));
            expect(real.page(probe, 1)[0]).toBe(model.find((m) => m > probe));
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('keeps order through many appends and head removals (the queue pattern), compacting as it goes', () => {
    const ids = new SortedIds();
    const all = Array.from({ length: 5000 }, (_, i) => `id-${String(i).padStart(5, '0')}`);
    for (const i of all) ids.add([i]);
    for (let i = 0; i < 4000; i++) {
      expect(ids.first()).toBe(all[i]);
      ids.remove([all[i] as string]);
    }
    expect(ids.page(undefined, Infinity)).toEqual(all.slice(4000));
    ids.add(['id-00000']); // an older id from another tab goes first
    expect(ids.first()).toBe('id-00000');
    expect(ids.page('id-00000', 1)).toEqual(['id-04000']);
  });
});
