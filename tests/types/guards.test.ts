import { describe, expect, it } from 'vitest';
import {
  isUnreadable,
  type Operation,
  type OperationError,
  type UnreadableOperation,
} from '../../src/plugins/sync/index.js';

describe('isUnreadable', () => {
  const error: OperationError = { code: 'sync/record-unreadable', message: 'unreadable record', at: 0 };
  const unreadable: UnreadableOperation = { id: 'a', unreadable: true, lastError: error };
  const operation: Operation = {
    id: 'b',
    idempotencyKey: 'b',
    method: 'POST',
    url: '/notes',
    createdAt: 0,
    attempts: 0,
  };

  it('is true only for an unreadable operation', () => {
    expect([unreadable, operation].map(isUnreadable)).toStrictEqual([true, false]);
  });
});
