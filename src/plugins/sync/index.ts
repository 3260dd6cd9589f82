export type { FetchFunction, LockManagerLike } from '../../core/platform-types.js';
export type { SyncProgress, SyncStatus } from './change-channel.js';
export type { FlushSummary } from './engine.js';
export type { SyncErrorCode } from './errors.js';
export type { JsonValue } from './json-value.js';
export type { Coordination } from './leader.js';
export {
  defineMutation,
  type Mutation,
  type MutationDefinition,
  type MutationQueue,
  type MutationRequest,
} from './mutation.js';
export { isUnreadable, type Operation, type OperationError, type UnreadableOperation } from './operation.js';
export type { BatchOptions, RetryOptions, SyncOptions } from './options.js';
export type { FailedOutcome, OutcomeHandlers, SentOutcome } from './outcomes.js';
export { SyncPlugin } from './plugin.js';
export type { ListOptions } from './queue-lists.js';
export type { HttpMethod, QueueOptions } from './request-validation.js';
export type { SyncEventName, SyncEvents } from './sync-events.js';
export type { HeadersOption } from './transport.js';

declare module '../../core/plugin.js' {
  interface FluxyPlugins {
    sync: import('./plugin.js').SyncPlugin;
  }
}

declare module '../../core/errors.js' {
  interface FluxyErrorCodes {
    sync: import('./errors.js').SyncErrorCode;
  }
}
