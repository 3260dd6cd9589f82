/**
 * A hybrid logical clock (HLC): every local change gets a stamp that sorts after every stamp this
 * replica issued or saw before, stays close to wall-clock time, and breaks ties by node id.
 *
 * A stamp is a fixed-width string, so plain string comparison orders stamps:
 * `<time: 9 base-36 digits>-<counter: 4 base-36 digits>-<node id>`, e.g. `0mj3x9k2a-0000-k3f9a2c1`.
 * Time is milliseconds since the epoch; the counter orders stamps of one millisecond.
 */

import { FluxyError } from './deps.js';

/** A remote stamp further ahead of the local wall clock than this is refused: 5 minutes. */
export const maxClockSkewMs = 5 * 60_000;

const timeWidth = 9;
const counterWidth = 4;
const maxCounter = 36 ** counterWidth - 1;
const maxTime = 36 ** timeWidth - 1;
const stampPattern = /^([0-9a-z]{9})-([0-9a-z]{4})-([0-9a-z]{1,32})$/;

/** The parts of a stamp. */
export interface ClockParts {
  time: number;
  counter: number;
  node: string;
}

/** Reads a stamp; undefined when it is not one. */
export function parseStamp(stamp: unknown): ClockParts | undefined {
  if (typeof stamp !== 'string') return undefined;
  const match = stampPattern.exec(stamp);
  if (!match) return undefined;
  return {
    time: Number.parseInt(match[1] as string, 36),
    counter: Number.parseInt(match[2] as string, 36),
    node: match[3] as string,
  };
}

/** Writes a stamp. */
export function formatStamp({ time, counter, node }: ClockParts): string {
  return `${time.toString(36).padStart(timeWidth, '0')}-${counter.toString(36).padStart(counterWidth, '0')}-${node}`;
}

/** Why {@link HybridClock.receiveStamp} refused a stamp. */
export type ReceiveResult = 'adopted' | 'invalid' | 'too-far-ahead';

/**
 * The clock of one replica. Time is injectable (`now`); the node id should be random per replica
 * (a collection's `random` option makes it, see randomHex).
 *
 * @example
 * const clock = new HybridClock('k3f9a2c1');
 * const a = clock.nextStamp(); const b = clock.nextStamp(); // a < b, even if the wall clock went back
 * clock.receiveStamp(stampFromServer);                      // later stamps sort after it
 */
export class HybridClock {
  readonly #node: string;
  readonly #now: () => number;
  #time = 0;
  #counter = 0;

  /**
   * @param node - this replica's id: 1 to 32 characters of `0-9 a-z` (not checked: the clock is
   *   internal, and its two users make their ids so).
   * @param now - the wall clock, ms since the epoch. @default () => Date.now() (read at each
   *   tick, not captured: fake timers installed after the clock was made apply to it)
   */
  constructor(node: string, now: () => number = () => Date.now()) {
    this.#node = node;
    this.#now = now;
  }

  /** The last stamp issued or adopted (the zero stamp before any). */
  get lastStamp(): string {
    return formatStamp({ time: this.#time, counter: this.#counter, node: this.#node });
  }

  /** A new stamp for a local event: greater than every stamp issued or adopted before. */
  nextStamp(): string {
    this.#merge({ time: 0, counter: 0 }, this.#wall());
    return this.lastStamp;
  }

  /**
   * Move past a stamp seen elsewhere (a pulled row, another tab, a stored stamp after a restart),
   * so later ticks sort after it. A stamp more than `maxClockSkewMs` ahead of the wall clock is refused
   * (a replica with a wrong clock must not drag every other one into the future).
   */
  receiveStamp(stamp: string): ReceiveResult {
    const remote = parseStamp(stamp);
    if (!remote) return 'invalid';
    const wall = this.#wall();
    if (remote.time > wall + maxClockSkewMs) return 'too-far-ahead';
    this.#merge(remote, wall);
    return 'adopted';
  }

  /** Restore the last stamp of an earlier session (no skew limit: it was ours). */
  restoreStamp(stamp: string): void {
    const stored = parseStamp(stamp);
    if (stored) this.#merge(stored, this.#wall());
  }

  /**
   * The HLC step: the greatest of the wall clock, our time and the remote time; the counter goes
   * past the counters of those at that time (0 when only the wall clock is there), and a full
   * counter moves to the next millisecond.
   */
  #merge(remote: Pick<ClockParts, 'time' | 'counter'>, wall: number): void {
    const time = Math.max(wall, this.#time, remote.time);
    const counter =
      Math.max(time === this.#time ? this.#counter : -1, time === remote.time ? remote.counter : -1) + 1;
    this.#time = counter > maxCounter ? time + 1 : time;
    this.#counter = counter > maxCounter ? 0 : counter;
  }

  /**
   * The wall clock, ms. A `now` that returns anything but a number from 0 to 36^9 - 1 (year
   * 5188) — NaN, a negative number, a string that is not a number — is refused (`collections/invalid-options`),
   * not taken as time 0: its stamps would lose every comparison.
   */
  #wall(): number {
    const wall = this.#now();
    // (NaN, a string that is not a number and Infinity compare false.)
    if (!(wall >= 0 && wall <= maxTime))
      throw new FluxyError(
        'collections/invalid-options',
        `the collection's now option returned ${String(wall)}: it must return ms since the epoch, a finite number from 0, as Date.now() does.`,
      );
    return Math.floor(wall);
  }
}

/**
 * `bytes` random bytes in hex: node ids, temporary ids. From WebCrypto, or `random()` (in [0, 1):
 * each byte `random() * 256` truncated, taken modulo 256 — NaN is 0). @internal
 */
export function randomHex(bytes: number, random?: () => number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (value) =>
    (random ? (random() * 256) & 255 : value).toString(16).padStart(2, '0'),
  ).join('');
}
