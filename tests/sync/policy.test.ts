import { describe, expect, it } from 'vitest';
import { classify } from '../../src/plugins/sync/classify.js';
import { OperationIdGenerator, parseOperationId } from '../../src/plugins/sync/operation-id.js';
import { parseRetryAfter } from '../../src/plugins/sync/queue-edits.js';

describe('classify', () => {
  it.each([
    [200, 'sent'],
    [201, 'sent'],
    [204, 'sent'],
    [299, 'sent'],
    [301, 'fail'],
    [304, 'fail'],
    [0, 'fail'],
    [400, 'fail'],
    [403, 'fail'],
    [404, 'fail'],
    [410, 'fail'],
    [413, 'fail'],
    [422, 'fail'],
    [401, 'unauthorized'],
    [408, 'retry'],
    [409, 'retry'],
    [425, 'retry'],
    [429, 'retry'],
    [500, 'retry'],
    [502, 'retry'],
    [503, 'retry'],
    [504, 'retry'],
    [507, 'retry'],
  ] as const)('status %i → %s', (status, outcome) => {
    expect(classify({ status })).toBe(outcome);
  });
  it('network errors and timeouts → offline', () => {
    expect(classify({ error: 'network' })).toBe('offline');
    expect(classify({ error: 'timeout' })).toBe('offline');
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-11-22T10:00:00Z');
  it.each([
    ['0', 0],
    ['5', 5000],
    [' 7 ', 7000],
    ['99999999', 3_600_000],
    ['Sun, 22 Nov 2026 10:00:30 GMT', 30_000],
    ['Sun, 22 Nov 2026 09:00:00 GMT', 0],
    ['-1', undefined],
    ['1.5', undefined],
    ['soon', undefined],
    ['', undefined],
    ['2026-11-22T10:00:30Z', undefined],
    // The obsolete forms RFC 9110 §5.6.7 says recipients must accept (both GMT).
    ['Sunday, 22-Nov-26 10:00:30 GMT', 30_000], // RFC 850
    ['Sunday, 06-Nov-94 08:49:37 GMT', 0], // two-digit year more than 50 years ahead → 1994
    ['Monday, 23-Nov-26 10:00:00 GMT', 3_600_000], // clamped
    ['Sun Nov 22 10:00:30 2026', 30_000], // asctime
    ['Sun Nov  6 08:49:37 1994', 0],
    ['Mon Nov 23 10:00:00 2026', 3_600_000],
    ['Tue Dec  1 10:00:05 2026', 3_600_000],
    ['Sun, 06 Nov 1994 08:49:37 GMT', 0], // IMF-fixdate, the preferred form
    // Garbage, or near misses, is ignored (undefined), never a guess.
    ['Sunday, 22-Nov-26 10:00:30 PST', undefined],
    ['Sun, 22 Nov 2026 10:00:30 +0000', undefined],
    ['Sun, 31 Feb 2026 10:00:30 GMT', undefined],
    ['Sun, 22 Foo 2026 10:00:30 GMT', undefined],
    ['Sun, 22 Nov 2026 24:00:00 GMT', undefined],
    ['Sun, 22 Nov 2026 10:61:00 GMT', undefined],
    ['Sun Nov 22 10:00:30 2026 GMT', undefined],
    ['Sun Nov 6 08:49:37 1994', undefined], // asctime pads a one-digit day with a space
    ['Sunday, 22-Nov-2026 10:00:30 GMT', undefined],
    ['Funday, 22-Nov-26 10:00:30 GMT', undefined],
    ['Sun, 22 Nov 2026 10:00:30 GMT trailing', undefined],
    ['12abc', undefined],
    ['0x10', undefined],
    ['1e3', undefined],
    ['+5', undefined],
  ] as const)('%j → %j', (value, expected) => {
    expect(parseRetryAfter(value, now, 3_600_000)).toBe(expected);
  });
  it('null and undefined → undefined', () => {
    expect(parseRetryAfter(null, now, 1000)).toBeUndefined();
    expect(parseRetryAfter(undefined, now, 1000)).toBeUndefined();
  });
});

describe('operation ids', () => {
  const bytes = (array: Uint8Array) => crypto.getRandomValues(array);
  it('are strictly increasing within one millisecond and across the sequence limit', () => {
    const ids = new OperationIdGenerator(() => 1000, bytes);
    const made = Array.from({ length: 70_000 }, () => ids.next());
    expect([...made].sort()).toStrictEqual(made);
    expect(new Set(made).size).toBe(made.length);
  });
  it('keep sorting after every seeded id even when the clock goes back', () => {
    let clock = 2_000_000_000_000;
    const first = new OperationIdGenerator(() => clock, bytes);
    const last = Array.from({ length: 5 }, () => first.next()).at(-1) as string;
    clock -= 60 * 60 * 1000;
    const restarted = new OperationIdGenerator(() => clock, bytes);
    restarted.seed(last);
    const next = restarted.next();
    expect(next > last).toBe(true);
    expect(parseOperationId(next)?.time).toBe(2_000_000_000_000);
  });
  it('have a fixed, header-safe shape with 64 random bits', () => {
    const id = new OperationIdGenerator(() => Date.now(), bytes).next();
    expect(id).toMatch(/^[0-9a-f]{12}-[0-9a-f]{4}-[0-9a-f]{16}$/);
    expect(parseOperationId('nope')).toBeUndefined();
  });
});
