export {
  type ClockParts,
  formatStamp,
  HybridClock,
  maxClockSkewMs,
  parseStamp,
  type ReceiveResult,
} from './clock.js';
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
  ConflictInput,
  ConflictStrategy,
  Row,
} from './options.js';
