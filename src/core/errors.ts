/**
 * The error codes raised by the core. Plugins add their own codes (see each plugin's `*ErrorCode`).
 * Codes are stable strings: compare `error.code`, never `error.message`.
 */
export type CoreErrorCode =
  | 'invalid-argument'
  | 'plugin/duplicate'
  | 'plugin/not-registered'
  | 'plugin/missing-dependency'
  | 'plugin/dependency-cycle'
  | 'plugin/init-failed'
  | 'app/disposed';

/** Options of a {@link FluxyError}. */
export interface FluxyErrorOptions {
  /** The lower-level failure this error wraps. */
  cause?: unknown;
}

/**
 * The one error type Fluxy throws. `code` is a stable string to branch on; `message` says what
 * happened and what to do; `cause` holds a wrapped failure.
 *
 * @example
 * try { await app.ready(); } catch (error) {
 *   if (error instanceof FluxyError && error.code === 'plugin/missing-dependency') { ... }
 * }
 */
export class FluxyError<Code extends string = string> extends Error {
  /** A stable, machine-readable code such as `'sync/invalid-url'`. */
  readonly code: Code;

  constructor(code: Code, message: string, options?: FluxyErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FluxyError';
    this.code = code;
  }
}

/** True when `value` is a {@link FluxyError}, optionally with the given code. */
export function isFluxyError<Code extends string = string>(
  value: unknown,
  code?: Code,
): value is FluxyError<Code> {
  return value instanceof FluxyError && (code === undefined || value.code === code);
}

/** Shorthand for `new FluxyError('invalid-argument', message)`. @internal */
export function invalidArgument(message: string): FluxyError<'invalid-argument'> {
  return new FluxyError('invalid-argument', message);
}
