/**
 * Operation ids: time-ordered, fixed-width, lowercase hex, `TTTTTTTTTTTT-SSSS-RRRRRRRRRRRRRRRR`:
 * 12 digits of milliseconds, a 4-digit sequence within the millisecond, 16 random digits.
 *
 * Ids sort in creation order as strings, so storage keys built from them sort in enqueue order.
 * They never collide across tabs or processes (64 random bits), and a new id always sorts after
 * every id the generator was seeded with, even when the clock goes back.
 */
export class OperationIdGenerator {
  #lastTime = 0;
  #sequence = 0;
  readonly #now: () => number;
  readonly #randomBytes: (bytes: Uint8Array) => void;

  constructor(now: () => number, randomBytes: (bytes: Uint8Array) => void) {
    this.#now = now;
    this.#randomBytes = randomBytes;
  }

  /** Make every later id sort after `id` (call with the greatest id found in storage). */
  seed(id: string): void {
    const parsed = parseOperationId(id);
    if (!parsed) return;
    if (
      parsed.time > this.#lastTime ||
      (parsed.time === this.#lastTime && parsed.sequence >= this.#sequence)
    ) {
      this.#lastTime = parsed.time;
      this.#sequence = parsed.sequence + 1;
    }
  }

  /** The next id, strictly greater than every id made or seeded before. */
  next(): string {
    const now = Math.floor(this.#now());
    if (now > this.#lastTime) {
      this.#lastTime = now;
      this.#sequence = 0;
    } else if (this.#sequence > 0xffff) {
      this.#lastTime += 1;
      this.#sequence = 0;
    }
    const sequence = this.#sequence++;
    const random = new Uint8Array(8);
    this.#randomBytes(random);
    let randomHex = '';
    for (const byte of random) randomHex += byte.toString(16).padStart(2, '0');
    return `${this.#lastTime.toString(16).padStart(12, '0')}-${sequence.toString(16).padStart(4, '0')}-${randomHex}`;
  }
}

const idPattern = /^([0-9a-f]{12})-([0-9a-f]{4})-[0-9a-f]{16}$/;

/** The time and sequence inside an id, or undefined if `id` is not one of ours. */
export function parseOperationId(id: string): { time: number; sequence: number } | undefined {
  const match = idPattern.exec(id);
  if (!match) return undefined;
  return { time: Number.parseInt(match[1] ?? '', 16), sequence: Number.parseInt(match[2] ?? '', 16) };
}

/** True when `id` has the shape of an operation id. */
export function isOperationId(id: unknown): id is string {
  return typeof id === 'string' && idPattern.test(id);
}
