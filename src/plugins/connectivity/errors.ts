import { FluxyError } from '../../core/errors.js';

/**
 * The error codes raised by the connectivity plugin, besides the core's `invalid-argument`
 * (a malformed option or argument) and `app/disposed` (waiting on a disposed monitor).
 *
 * - `connectivity/invalid-probe`: the `probe` option is malformed (not an object, a URL that is
 *   not http(s) or cannot be resolved, a duration below 1 ms or not finite, an unknown key).
 * - `connectivity/aborted`: `waitForOnline(signal)` was aborted by a signal without a reason.
 *
 * @example
 * try { new ConnectivityPlugin({ probe: { url: 'ftp://x' } }); } catch (error) {
 *   if (isFluxyError(error, 'connectivity/invalid-probe')) showConfigError(error.message);
 * }
 */
export type ConnectivityErrorCode = 'connectivity/invalid-probe' | 'connectivity/aborted';

/** @internal */
export function invalidProbe(message: string): FluxyError<'connectivity/invalid-probe'> {
  return new FluxyError('connectivity/invalid-probe', message);
}
