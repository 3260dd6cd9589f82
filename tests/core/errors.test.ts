import { describe, expect, it, vi } from 'vitest';
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
    class StorageError extends FluxyError<'storage/tampered'> {
      constructor(readonly key: string) {
        super('storage/tampered', `The value of "${key}" is corrupt.`);
      }
    }
    const error = new StorageError('a');
    expect(error).toBeInstanceOf(FluxyError);
    expect(isFluxyError(error, 'storage/tampered')).toBe(true);
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

describe('FluxyError across copies of the package (ESM and CJS, two bundles)', () => {
  /** A second, independent instance of the errors module, as a CJS copy beside an ESM one would be. */
  async function otherCopy(): Promise<typeof import('../../src/core/errors.js')> {
    vi.resetModules();
    const copy = await import('../../src/core/errors.js');
    expect(copy.FluxyError).not.toBe(FluxyError);
    return copy;
  }

  it('isFluxyError recognises an error made by the other copy, with its code', async () => {
    const copy = await otherCopy();
    const foreign = new copy.FluxyError('storage/quota-exceeded', 'full');
    expect(isFluxyError(foreign)).toBe(true);
    expect(isFluxyError(foreign, 'storage/quota-exceeded')).toBe(true);
    expect(isFluxyError(foreign, 'storage/tampered')).toBe(false);
    expect(copy.isFluxyError(new FluxyError('app/disposed', 'y'), 'app/disposed')).toBe(true);
  });

  it('instanceof FluxyError works across copies too', async () => {
    const copy = await otherCopy();
    expect(new copy.FluxyError('x', 'y')).toBeInstanceOf(FluxyError);
    expect(new FluxyError('x', 'y') instanceof copy.FluxyError).toBe(true);
  });

  it('carries the brand Symbol.for("fluxy.error"), not enumerable', () => {
    const error = new FluxyError('x', 'y');
    expect((error as unknown as Record<symbol, unknown>)[Symbol.for('fluxy.error')]).toBe(true);
    expect(Object.keys(error)).not.toContain(Symbol.for('fluxy.error'));
    expect(Object.getOwnPropertySymbols(error)).toStrictEqual([]);
  });

  it('is not fooled by plain objects, errors or the brand without a code', () => {
    const brand = Symbol.for('fluxy.error');
    expect(isFluxyError({ [brand]: true })).toBe(false);
    expect(new Error('x') instanceof FluxyError).toBe(false);
    expect({ code: 'x', message: 'y' } instanceof FluxyError).toBe(false);
    expect((null as unknown) instanceof FluxyError).toBe(false);
  });

  it('subclasses keep ordinary instanceof: a FluxyError is not an instance of a subclass', async () => {
    class CorruptError extends FluxyError<'storage/corrupt'> {
      constructor() {
        super('storage/corrupt', 'corrupt');
      }
    }
    class QuotaError extends FluxyError<'storage/quota'> {
      constructor() {
        super('storage/quota', 'full');
      }
    }
    const corrupt = new CorruptError();
    expect(corrupt).toBeInstanceOf(CorruptError);
    expect(corrupt).toBeInstanceOf(FluxyError);
    expect(corrupt).toBeInstanceOf(Error);
    expect(corrupt instanceof QuotaError).toBe(false);
    expect(new FluxyError('storage/corrupt', 'x') instanceof CorruptError).toBe(false);
    const copy = await otherCopy();
    expect(new copy.FluxyError('storage/corrupt', 'x') instanceof CorruptError).toBe(false);
    expect(corrupt instanceof copy.FluxyError).toBe(true);
  });
});
