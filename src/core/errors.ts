import type { ControllerErrorCode } from './controller.js';
import { batch } from './signals-core.js';

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

/**
 * The error codes Fluxy can raise, grouped by the module that raises them. Each plugin entry adds
 * its group by declaration merging, so importing `fluxy/sync` makes the `sync/*` codes known to
 * {@link isFluxyError}. An app that throws its own `FluxyError`s can add its codes the same way.
 *
 * @example
 * declare module 'fluxy' {
 *   interface FluxyErrorCodes { app: 'app/offline-export' }
 * }
 */
export interface FluxyErrorCodes {
  core: CoreErrorCode;
  controller: ControllerErrorCode;
}

/**
 * Every known error code: the union of {@link FluxyErrorCodes}' groups, e.g.
 * `'plugin/not-registered' | 'storage/quota-exceeded' | 'sync/invalid-url' | …`.
 */
export type FluxyErrorCode = FluxyErrorCodes[keyof FluxyErrorCodes];

/** Options of a {@link FluxyError}. */
export interface FluxyErrorOptions {
  /** The lower-level failure this error wraps. */
  cause?: unknown;
}

/**
 * Marks every {@link FluxyError}, whichever copy of the package made it (an ESM and a CJS copy,
 * or two bundles, each have their own class). `Symbol.for` gives every copy the same symbol.
 */
const fluxyErrorBrand: unique symbol = Symbol.for('fluxy.error') as never;

/**
 * The one error type Fluxy throws. `code` is a stable string to branch on; `message` says what
 * happened and what to do; `cause` holds a wrapped failure.
 *
 * `instanceof FluxyError` and {@link isFluxyError} also recognise errors made by another copy of
 * the package (ESM beside CJS, two bundles): they check a brand, not the class. `instanceof` a
 * subclass is the ordinary prototype check.
 *
 * @example
 * try { await app.ready(); } catch (error) {
 *   if (error instanceof FluxyError && error.code === 'plugin/missing-dependency') { ... }
 * }
 */
export class FluxyError<Code extends string = string> extends Error {
  /** A stable, machine-readable code such as `'sync/invalid-url'`. */
  readonly code: Code;

  /**
   * @param message - what happened and what to do. The production build leaves this prose out
   *   (see docs/errors.md, keyed by code): the message is then the code.
   */
  constructor(code: Code, message: string, options?: FluxyErrorOptions) {
    super(message || code, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FluxyError';
    this.code = code;
  }

  /**
   * `value instanceof FluxyError`: true for a FluxyError of any copy of the package. For a
   * subclass (`value instanceof StorageError`), the ordinary prototype check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // FluxyError itself extends Error directly; a subclass does not. (Not `this !== FluxyError`:
    // a class naming itself in its body is renamed `_FluxyError` by the bundler, in dist/ too.)
    // biome-ignore-start lint/complexity/noThisInStatic: `this` is the class on the right of instanceof, a subclass included
    if (Object.getPrototypeOf(this) !== Error)
      return Function.prototype[Symbol.hasInstance].call(this, value);
    // biome-ignore-end lint/complexity/noThisInStatic: `this` is the class on the right of instanceof, a subclass included
    return hasBrand(value);
  }
}

// On the prototype, not enumerable: instances (and subclasses) carry it without an own property
// showing up in logs, `Object.keys` or deep equality.
Object.defineProperty(FluxyError.prototype, fluxyErrorBrand, { value: true });

function hasBrand(value: unknown): value is FluxyError {
  if (typeof value !== 'object' || value === null) return false;
  try {
    return (
      (value as { [fluxyErrorBrand]?: unknown })[fluxyErrorBrand] === true &&
      typeof (value as { code?: unknown }).code === 'string'
    );
  } catch {
    return false; // a Proxy or a getter that throws is no FluxyError
  }
}

/**
 * True when `value` is a {@link FluxyError} (from any copy of the package), optionally with the
 * given code. The code must be a known one ({@link FluxyErrorCode}: a typo does not compile),
 * and a match narrows `value.code` to it.
 *
 * @example
 * if (isFluxyError(error, 'storage/quota-exceeded')) showDiskFullBanner(); // error: FluxyError<'storage/quota-exceeded'>
 * if (isFluxyError(error)) log(error.code);                               // any FluxyError
 */
export function isFluxyError(value: unknown): value is FluxyError;
export function isFluxyError<Code extends FluxyErrorCode>(
  value: unknown,
  code: Code,
): value is FluxyError<Code>;
export function isFluxyError(value: unknown, code?: string): value is FluxyError {
  return hasBrand(value) && (code === undefined || value.code === code);
}

/**
 * A short text for any thrown value, for error messages: an Error's message, else `String(value)`.
 * Never throws, even for `Object.create(null)`, a `toString` that throws or a hostile Proxy.
 * @internal
 */
export function describeValue(value: unknown): string {
  try {
    return value instanceof Error ? String(value.message) : String(value);
  } catch {
    try {
      return Object.prototype.toString.call(value);
    } catch {
      return '[an unprintable value]';
    }
  }
}

/** Shorthand for `new FluxyError('invalid-argument', message)`. @internal */
export function invalidArgument(message: string): FluxyError<'invalid-argument'> {
  return new FluxyError('invalid-argument', message);
}

/** `app/disposed` with `message` (which the production build leaves out, as for every error). @internal */
export function disposedError(message: string): FluxyError<'app/disposed'> {
  return new FluxyError('app/disposed', message);
}

/**
 * How Fluxy writes its signals: `batch(write)`, except that an app's effect that throws does not
 * throw into Fluxy (a signal write runs the effects it wakes, and `batch` rethrows the first
 * error once all have run). Such an error would reject `queue()` or `update()` after the change
 * was stored, or stop it half-way; it is thrown again on a later turn instead, an uncaught error
 * (`window.onerror` in browsers), as an event listener's is. @internal
 */
export function publish(write: () => void): void {
  try {
    batch(write);
  } catch (error) {
    setTimeout(() => {
      throw error;
    });
  }
}
