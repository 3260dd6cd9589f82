import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/core/app.js';
import { isFluxyError } from '../../src/core/errors.js';
import { EventBus } from '../../src/core/events.js';

// A fresh user's review (session 14) of the core: each test failed before its fix.

describe('EventBus.once (review s14)', () => {
  it('refuses a handler that is not a function at once, as on() does, adding no listener', () => {
    const reported: unknown[] = [];
    const bus = new EventBus<{ note: number }>((_event, error) => reported.push(error));
    for (const handler of [undefined, null, 1, 'handler', {}]) {
      let thrown: unknown;
      try {
        bus.once('note', handler as never);
      } catch (error) {
        thrown = error;
      }
      expect(isFluxyError(thrown, 'invalid-argument'), String(handler)).toBe(true);
    }
    expect(bus.listenerCount()).toBe(0);
    bus.emit('note', 1);
    expect(reported).toStrictEqual([]);
  });

  it("the app's events.once() too", () => {
    const app = createApp();
    expect(() => app.events.once('app:ready', 'not a function' as never)).toThrow(
      expect.objectContaining({ code: 'invalid-argument' }),
    );
    expect(app.events.listenerCount('app:ready')).toBe(0);
  });
});
