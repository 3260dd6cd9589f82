import { afterEach, describe, expect, it, vi } from 'vitest';
import { consoleLogger, scopedLogger } from '../../src/core/logger.js';
import { recordingLogger } from './helpers.js';

afterEach(() => {
  vi.restoreAllMocks();
});

function spyConsole() {
  const calls: Array<[string, unknown[]]> = [];
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      calls.push([level, args]);
    });
  }
  return calls;
}

describe('consoleLogger', () => {
  it("writes at and above 'warn' by default, with a prefix", () => {
    const calls = spyConsole();
    const logger = consoleLogger();
    logger.debug('d');
    logger.info('i');
    logger.warn('w', 1);
    logger.error('e');
    expect(calls).toStrictEqual([
      ['warn', ['[fluxy] w', 1]],
      ['error', ['[fluxy] e']],
    ]);
  });

  it('honours the level and the prefix', () => {
    const calls = spyConsole();
    consoleLogger('debug', '[app]').debug('d');
    consoleLogger('silent').error('never');
    consoleLogger('error').warn('never');
    expect(calls).toStrictEqual([['debug', ['[app] d']]]);
  });

  it('refuses a level it does not know (a typo would silence every line) with invalid-argument', () => {
    for (const level of ['warning', 'WARN', '', 'toString', '__proto__', 2]) {
      expect(() => consoleLogger(level as never)).toThrow(
        expect.objectContaining({ code: 'invalid-argument' }),
      );
    }
  });
});

describe('scopedLogger', () => {
  it('prefixes every level with the scope and passes details on', () => {
    const parent = recordingLogger();
    const logger = scopedLogger(parent, 'sync');
    logger.debug('a');
    logger.info('b', 1);
    logger.warn('c');
    logger.error('d', { x: 1 });
    expect(parent.lines).toStrictEqual([
      { level: 'debug', message: 'sync: a', details: [] },
      { level: 'info', message: 'sync: b', details: [1] },
      { level: 'warn', message: 'sync: c', details: [] },
      { level: 'error', message: 'sync: d', details: [{ x: 1 }] },
    ]);
  });
});
