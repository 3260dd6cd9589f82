import type { OperationError } from './operation.js';
import type { BodyProblem, SendResult } from './transport.js';

/** An attempt that got no HTTP answer (or was never sent: its headers could not be built). */
export type NoAnswer = Extract<SendResult, { kind: 'network' | 'timeout' | 'headers-failed' }>;

/**
 * The errors an attempt can end with, as an operation's `lastError` says them: pure functions of
 * what happened and when (`at`), so the flush loop only decides what to do with them.
 */

/** No answer: a network error, our timeout, or headers that could not be built. */
export function noAnswerError(result: NoAnswer, timeoutMs: number, at: number): OperationError {
  if (result.kind === 'timeout')
    return { code: 'sync/timeout', message: `no answer within ${timeoutMs} ms`, at };
  if (result.kind === 'network') {
    return { code: 'sync/network-error', message: `network error: ${messageOf(result.cause)}`, at };
  }
  return {
    code: 'sync/headers-failed',
    message: `could not build the request headers (the headers option threw or returned an invalid header): ${messageOf(result.cause)}`,
    at,
  };
}

/** The server answered with an error status. */
export function httpError(status: number, at: number): OperationError {
  return { code: 'sync/http-error', message: `the server answered ${status}`, status, at };
}

/** The operation's URL is on an origin the configuration does not allow: it was not sent. */
export function originRefusedError(url: string, at: number): OperationError {
  return {
    code: 'sync/origin-not-allowed',
    message: `${url} is not on baseUrl's origin nor in allowedOrigins: it was not sent (the headers option never goes to other origins); add its origin to the SyncPlugin allowedOrigins option and retry it, or discard it`,
    at,
  };
}

/** The server answered with a redirect (never followed): the operation fails, naming the target. */
export function redirectError(status: number, location: string | undefined, at: number): OperationError {
  const target = location ?? 'a target the browser does not reveal (an opaque redirect)';
  const error: OperationError = {
    code: 'sync/redirected',
    message: `the server answered ${status === 0 ? 'a redirect' : status} to ${target}; redirects are not followed (the write could reach another endpoint or origin): queue the operation with its final URL`,
    at,
  };
  if (status !== 0) error.status = status;
  if (location !== undefined) error.location = location;
  return error;
}

const bodyProblems: Record<BodyProblem, string> = {
  timeout: 'did not arrive within the timeout',
  'cut-short': 'was cut short',
  'not-json': 'is not valid JSON',
  'too-large': 'is larger than maxResponseBytes',
};

/**
 * A create (an op with a `tempId`) was accepted, but its response body could not be read, so the
 * server id that replaces its temporary id is unknown: retried with the same key.
 */
export function unreadResponseError(status: number, problem: BodyProblem, at: number): OperationError {
  return {
    code: 'sync/response-unreadable',
    message: `the server accepted the create (${status}) but its response body ${bodyProblems[problem]}, so the server id for its tempId is unknown; asking again with the same Idempotency-Key`,
    status,
    at,
  };
}

/** `error`, the last of `attempts`, ended the retries: the operation becomes failed. */
export function exhaustedError(error: OperationError, attempts: number): OperationError {
  return {
    ...error,
    code: 'sync/max-attempts',
    message:
      error.status === undefined
        ? `gave up after ${attempts} attempts: the connectivity probe answers but this request gets no answer (${error.message})`
        : `gave up after ${attempts} attempts; the server last answered ${error.status}`,
  };
}

/** The operation refers to the temporary id of a create that failed. */
export function dependencyError(at: number): OperationError {
  return {
    code: 'sync/dependency-failed',
    message: 'it refers to the temporary id of a create that failed; retry or discard that create first',
    at,
  };
}

/** Reading or writing the outbox failed during a flush. */
export function storageFailedError(cause: unknown, at: number): OperationError {
  return { code: 'sync/storage-failed', message: `storage failed: ${messageOf(cause)}`, at };
}

/** Why a stored record was moved to the failed list unsent. */
export function unreadableMessage(cause: unknown): string {
  return `the stored record failed authentication or decryption and was not sent (${messageOf(cause)})`;
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
