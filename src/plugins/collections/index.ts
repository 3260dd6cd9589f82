export {
  Collection,
  type CollectionError,
  type CollectionEvents,
  type ConflictEvent,
  type ConflictResolution,
} from './collection.js';
export type {
  CollectionLocks,
  CollectionOptions,
  CollectionsErrorCode,
  ConflictInput,
  ConflictStrategy,
  Row,
} from './options.js';
export type { PendingRow } from './view.js';

declare module '../../core/errors.js' {
  interface FluxyErrorCodes {
    collections: import('./options.js').CollectionsErrorCode;
  }
}
