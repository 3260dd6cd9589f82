import { FluxyError } from '../../core/errors.js';
import type { FetchFunction } from '../../core/platform-types.js';
import type { Operation, OperationError } from './operation.js';
import { checkHeaderRecord } from './request-validation.js';

// One attempt, as the engine sees it: send the request (sendOperation: its work in the lazy
// send-request.ts, loaded by the first attempt), classify what came back
// (classify.ts, which only the lazy chunks import), say the error it ends with (…Error). (When to come back, parseRetryAfter, is in the
// lazy queue-edits.ts: the engine needs it only when a retryable answer has a Retry-After.)
// Pure or self-contained: the engine decides what to do and owns the timers.

/**
 * Headers added to every request, or a function evaluated at send time (fresh auth tokens). The
 * function must return (or resolve to) a plain object of valid headers, or undefined for none;
 * anything else makes the attempt fail with `sync/headers-failed` (retried, nothing sent).
 */
export type HeadersOption =
  | Readonly<Record<string, string>>
  | ((operation: Operation) => Readonly<Record<string, string>> | Promise<Readonly<Record<string, string>>>);

/** The result of one attempt to send an operation. @internal */
export type SendResult =
  | {
      kind: 'response';
      status: number;
      retryAfter: string | null;
      body: unknown;
      /** Why the body is missing or partial: cut off by the timeout or the connection, not JSON, over the limit. */
      bodyProblem?: BodyProblem;
      /** The size of a body read whole, in bytes. */
      bytes?: number;
    }
  /** A redirect (never followed), or a response a custom fetch reached by following one: see `redirectError()`. */
  | { kind: 'redirect'; response: Response; url: string }
  | { kind: 'origin-refused'; url: string }
  /**
   * noRequest: no request was made — the chunk that sends it could not load (here), or its headers
   * could not be built (`headers-failed`): the attempt never counts, connectivity is not told.
   */
  | { kind: 'network'; cause: unknown; noRequest?: true }
  | { kind: 'timeout' }
  | { kind: 'aborted' }
  | { kind: 'headers-failed'; cause: unknown; noRequest: true };

/** Why a response body could not be read whole. @internal */
export type BodyProblem = 'timeout' | 'cut-short' | 'not-json' | 'too-large';

/** The largest response body read by default (1 MiB); the rest is dropped. */
export const defaultMaxResponseBytes = 1_048_576;

/** What the transport needs. @internal */
export interface TransportOptions {
  fetch: FetchFunction;
  resolveUrl: (url: string) => URL;
  /** Whether a request may go to this URL's origin (see `allowedOrigins`); any when absent. */
  isAllowedOrigin?: ((url: URL) => boolean) | undefined;
  headers: HeadersOption | undefined;
  timeoutMs: number;
  /** The largest response body read, in bytes. @default 1048576 */
  maxResponseBytes?: number;
  setTimer: (callback: () => void, ms: number) => unknown;
  clearTimer: (handle: unknown) => void;
}

/**
 * Send one operation (send-request.ts: loaded by the first attempt, which needs the network
 * anyway, off the start-up path). Never throws: every outcome is a {@link SendResult} — a chunk
 * that cannot load is a network error marked noRequest (no request was made: retried with backoff
 * and the same key, never counted toward `maxAttempts`, not reported to connectivity).
 */
export function sendOperation(
  operation: Operation,
  body: string | Blob | undefined,
  options: TransportOptions,
  signal: AbortSignal,
): Promise<SendResult> {
  sender ??= import('./send-request.js');
  return sender.then(
    (lazy) =>
      lazy.sendOperation(operation, body, options, signal, (given) =>
        checkHeaderRecord(
          given,
          'allow',
          (code, problem) => new FluxyError(code, `what the SyncPlugin headers option returned: ${problem}`),
        ),
      ),
    (cause: unknown) => {
      sender = undefined; // tried again at the next attempt
      return { kind: 'network', cause, noRequest: true };
    },
  );
}
let sender: Promise<typeof import('./send-request.js')> | undefined;

// ——— classify (what an attempt's result means): classify.ts, imported by the lazy chunks ———

export type { AttemptResult, Outcome } from './classify.js';

// ——— the errors an attempt ends with ———

/** An attempt that got no HTTP answer (or was never sent: its headers could not be built). */
export type NoAnswer = Extract<SendResult, { kind: 'network' | 'timeout' | 'headers-failed' }>;

/**
 * The errors an attempt can end with, as an operation's `lastError` says them: pure functions of
 * what happened and when (`at`), so the flush loop only decides what to do with them.
 */

/** No answer: a network error, our timeout, or headers that could not be built. */
export function noAnswerError(result: NoAnswer, timeoutMs: number, at: number): OperationError {
  return {
    // The kind names the code: sync/timeout, sync/network-error, sync/headers-failed.
    code: `sync/${result.kind === 'network' ? 'network-error' : result.kind}`,
    // One literal (not a conditional of three): the production build then keeps no condition.
    message: `${
      result.kind === 'timeout'
        ? `no answer within ${timeoutMs} ms`
        : `${result.kind === 'network' ? 'network error' : 'could not build the request headers (the headers option threw or returned an invalid header)'}: ${messageOf(result.cause)}`
    }`,
    at,
  };
}

/** The server answered with an error status. */
export function httpError(status: number, at: number): OperationError {
  return { code: 'sync/http-error', message: `the server answered ${status}`, status, at };
}

/**
 * Reading or writing the outbox failed during a flush — or a lazy chunk it needed could not load:
 * that `sync/network-error` (the engine's chunkFailed) is said as a network error, not a storage one.
 */
export function storageFailedError(cause: unknown, at: number): OperationError {
  const chunk = (cause as FluxyError | undefined)?.code === 'sync/network-error';
  return {
    code: chunk ? (cause as FluxyError<'sync/network-error'>).code : 'sync/storage-failed',
    message: `${chunk ? 'network error' : 'storage failed'}: ${messageOf(cause)}`,
    at,
  };
}

/** An error's message, with its cause's code when it has one (a storage error under a wrapper). */
function messageOf(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    const code = cause && typeof cause === 'object' && 'code' in cause ? ` (${String(cause.code)})` : '';
    return `${error.message}${code}`;
  }
  return String(error);
}
