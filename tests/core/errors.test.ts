import { describe, expect, it } from 'vitest';
import { FluxyError, isFluxyError } from '../../src/core/errors.js';

describe('FluxyError', () => {
  it('carries code, message, name and cause', () => {
    const cause = new Error('low level');
    const error = new FluxyError('storage/quota', 'The storage is full: free some space.', { cause });
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(FluxyError);
    expect(error.code).toBe('storage/quota');
    expect(error.message).toBe('The storage is full: free some space.');
    expect(error.name).toBe('FluxyError');
    expect(error.cause).toBe(cause);
    expect(String(error)).toBe('FluxyError: The storage is full: free some space.');
    expect(error.stack).toContain('FluxyError');
  });

  it('has no cause property unless one is given', () => {
    const error = new FluxyError('x', 'y');
    expect('cause' in error).toBe(false);
  });

  it('keeps a falsy cause', () => {
    expect(new FluxyError('x', 'y', { cause: 0 }).cause).toBe(0);
  });

  it('can be subclassed and stays a FluxyError', () => {
    class StorageError extends FluxyError<'storage/corrupt'> {
      constructor(readonly key: string) {
        super('storage/corrupt', `The value of "${key}" is corrupt.`);
      }
    }
    const error = new StorageError('a');
    expect(error).toBeInstanceOf(FluxyError);
    expect(isFluxyError(error, 'storage/corrupt')).toBe(true);
    expect(error.key).toBe('a');
  });
});

describe('isFluxyError', () => {
  it('recognises a FluxyError, optionally with a given code', () => {
    const error = new FluxyError('plugin/duplicate', 'taken');
    expect(isFluxyError(error)).toBe(true);
    expect(isFluxyError(error, 'plugin/duplicate')).toBe(true);
    expect(isFluxyError(error, 'plugin/not-registered')).toBe(false);
  });

  it.each([
    ['a plain Error', new Error('x')],
    ['an object with a code', { code: 'plugin/duplicate', message: 'x' }],
    ['null', null],
    ['undefined', undefined],
    ['a string', 'plugin/duplicate'],
  ])('is false for %s', (_label, value) => {
    expect(isFluxyError(value)).toBe(false);
    expect(isFluxyError(value, 'plugin/duplicate')).toBe(false);
  });
});
