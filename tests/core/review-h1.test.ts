import { describe, expect, it } from 'vitest';
import { EventBus } from '../../src/core/events.js';
import { consoleLogger } from '../../src/core/logger.js';

// Regressions for the defects of the core left open by session 14 (each test failed before its fix).

const invalid = expect.objectContaining({ name: 'FluxyError', code: 'invalid-argument' });

describe('input checks of the public core functions', () => {
  it('new EventBus(onHandlerError) refuses anything but a function (it threw a TypeError at the first handler error)', () => {
    for (const given of [5, 'log', null, {}, []]) {
      expect(() => new EventBus(given as never), String(given)).toThrow(invalid);
    }
    // A function, or nothing, is still accepted.
    const errors: unknown[] = [];
    const bus = new EventBus<{ x: number }>((_event, error) => errors.push(error));
    bus.on('x', () => {
      throw new Error('boom');
    });
    bus.emit('x', 1);
    expect(errors).toHaveLength(1);
    expect(() => new EventBus<{ x: undefined }>().emit('x')).not.toThrow();
  });

  it('consoleLogger(level, prefix) refuses a prefix that is not a string (it printed "[object Object] …")', () => {
    for (const given of [5, null, {}, false]) {
      expect(() => consoleLogger('warn', given as never), String(given)).toThrow(invalid);
    }
    expect(() => consoleLogger('warn', '')).not.toThrow();
    expect(() => consoleLogger('warn', undefined)).not.toThrow(); // the default
  });
});
