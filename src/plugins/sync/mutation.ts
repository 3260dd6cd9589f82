import { invalidArgument } from '../../core/errors.js';
import type { Unsubscribe } from '../../core/events.js';
import type { JsonValue } from './json-value.js';
import type { Operation, OperationError } from './operation.js';
import type { FailedOutcome, OutcomeHandlers, SentOutcome } from './outcomes.js';
import type { HttpMethod, QueueOptions } from './request-validation.js';

/** The request a mutation queues. */
export interface MutationRequest {
  method: HttpMethod | Lowercase<HttpMethod>;
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** The temporary id a create introduces (see `queue(…, { tempId })`). */
  tempId?: string;
}

/**
 * An optimistic mutation: what to change locally now, which request to queue, and how to settle
 * it. `Undo` is what `apply` returns — the data needed to reconcile or roll back — and is stored
 * with the operation as its `meta`, so `commit` and `rollback` still run after a reload.
 */
export interface MutationDefinition<Input, Undo extends JsonValue> {
  /** Change local state now (same frame); return the JSON needed to undo or reconcile it. */
  apply(input: Input): Undo;
  /** The request that makes the change on the server. */
  request(input: Input, undo: Undo): MutationRequest;
  /** The server accepted it: reconcile (e.g. swap a temporary id for `outcome.serverId`). */
  commit?(undo: Undo, outcome: SentOutcome): void | Promise<void>;
  /** The server refused it for good (or it was unreadable): undo the local change. */
  rollback(undo: Undo, error: OperationError): void | Promise<void>;
}

/** A mutation bound to a queue: call it to apply and queue; `dispose()` stops its handlers. */
export interface Mutation<Input> {
  (input: Input): Promise<Operation>;
  /** The operation kind this mutation queues and handles. */
  readonly kind: string;
  /** Stop handling outcomes (with the controller that owns it). */
  dispose: Unsubscribe;
}

/** The part of SyncPlugin a mutation needs. */
export interface MutationQueue {
  queue(method: string, url: string, options?: QueueOptions): Promise<Operation>;
  handle(kind: string, handlers: OutcomeHandlers): Unsubscribe;
}

/**
 * Define an optimistic update: apply a local change at once, queue the request, roll the change
 * back if the server refuses it for good, reconcile when it accepts. Outcomes are handled by
 * `sync.handle(kind)`, so a rollback still happens when the refusal arrives after a reload or
 * in the next session — define mutations at bootstrap (or in a controller built at bootstrap),
 * before `ready()`. If `queue()` itself fails (bad input, storage full), the change is rolled
 * back at once and the error rethrown.
 *
 * @example
 * const rename = defineMutation(sync, 'note.rename', {
 *   apply: ({ id, title }) => { const previous = notes.get(id).title; notes.setTitle(id, title); return { id, previous }; },
 *   request: ({ id, title }) => ({ method: 'PATCH', url: `/notes/${id}`, body: { title } }),
 *   rollback: ({ id, previous }) => notes.setTitle(id, previous),
 * });
 * await rename({ id, title: 'Groceries' });
 */
export function defineMutation<Input, Undo extends JsonValue>(
  sync: MutationQueue,
  kind: string,
  definition: MutationDefinition<Input, Undo>,
): Mutation<Input> {
  if (!sync || typeof sync.queue !== 'function' || typeof sync.handle !== 'function') {
    throw invalidArgument('defineMutation(sync, kind, definition): pass the SyncPlugin as sync.');
  }
  if (typeof kind !== 'string' || kind === '') {
    throw invalidArgument('defineMutation(): kind must be a non-empty string such as "note.create".');
  }
  for (const hook of ['apply', 'request', 'rollback', 'commit'] as const) {
    const given = definition?.[hook];
    if (typeof given !== 'function' && (hook !== 'commit' || given !== undefined)) {
      throw invalidArgument(`defineMutation("${kind}"): ${hook} must be a function.`);
    }
  }
  const dispose = sync.handle(kind, {
    sent: async (outcome: SentOutcome) => {
      await definition.commit?.(outcome.operation.meta as Undo, outcome);
    },
    failed: async ({ operation, error }: FailedOutcome) => {
      if ('unreadable' in operation) return; // its meta cannot be read: nothing to undo with
      await definition.rollback(operation.meta as Undo, error);
    },
  });
  const mutate = async (input: Input): Promise<Operation> => {
    const undo = definition.apply(input);
    try {
      const { method, url, ...rest } = definition.request(input, undo);
      return await sync.queue(method, url, { ...rest, meta: undo, kind });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      await definition.rollback(undo, { code: 'sync/not-queued', message: reason, at: Date.now() });
      throw error;
    }
  };
  return Object.assign(mutate, { kind, dispose });
}
