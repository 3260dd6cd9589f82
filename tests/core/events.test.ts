import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/core/app.js';
import { isFluxyError } from '../../src/core/errors.js';
import { EventBus } from '../../src/core/events.js';
import { recordingLogger, thrownBy } from './helpers.js';

interface TestEvents {
  note: { id: number };
  tick: undefined;
}

function newBus(reported: Array<[string, unknown]> = []) {
  return new EventBus<TestEvents>((event, error) => reported.push([event, error]));
}

describe('EventBus', () => {
  it('delivers payloads to handlers in subscription order', () => {
    const bus = newBus();
    const seen: string[] = [];
    bus.on('note', ({ id }) => seen.push(`first:${id}`));
    bus.on('note', ({ id }) => seen.push(`second:${id}`));
    bus.on('tick', () => seen.push('tick'));
    bus.emit('note', { id: 1 });
    bus.emit('tick');
    expect(seen).toStrictEqual(['first:1', 'second:1', 'tick']);
  });

  it('on() returns an unsubscribe that is idempotent and removes only its own subscription', () => {
    const bus = newBus();
    const seen: number[] = [];
    const handler = ({ id }: { id: number }) => seen.push(id);
    const offFirst = bus.on('note', handler);
    bus.on('note', handler);
    expect(bus.listenerCount('note')).toBe(2);
    offFirst();
    offFirst();
    expect(bus.listenerCount('note')).toBe(1);
    bus.emit('note', { id: 7 });
    expect(seen).toStrictEqual([7]);
  });

  it('once() fires a single time and removes itself', () => {
    const bus = newBus();
    const seen: number[] = [];
    bus.once('note', ({ id }) => seen.push(id));
    expect(bus.listenerCount('note')).toBe(1);
    bus.emit('note', { id: 1 });
    bus.emit('note', { id: 2 });
    expect(seen).toStrictEqual([1]);
    expect(bus.listenerCount('note')).toBe(0);
  });

  it('once() does not fire again when its handler re-emits the event', () => {
    const bus = newBus();
    const seen: number[] = [];
    bus.once('note', ({ id }) => {
      seen.push(id);
      bus.emit('note', { id: id + 1 });
    });
    bus.emit('note', { id: 1 });
    expect(seen).toStrictEqual([1]);
  });

  it('once() can be cancelled before it fires', () => {
    const bus = newBus();
    const seen: number[] = [];
    const off = bus.once('note', ({ id }) => seen.push(id));
    off();
    bus.emit('note', { id: 1 });
    expect(seen).toStrictEqual([]);
    expect(bus.listenerCount()).toBe(0);
  });

  it('listenerCount() counts one event or all of them; clear() removes everything', () => {
    const bus = newBus();
    expect(bus.listenerCount()).toBe(0);
    expect(bus.listenerCount('note')).toBe(0);
    bus.on('note', () => {});
    bus.on('tick', () => {});
    bus.on('tick', () => {});
    expect(bus.listenerCount('tick')).toBe(2);
    expect(bus.listenerCount()).toBe(3);
    bus.clear();
    expect(bus.listenerCount()).toBe(0);
  });

  it('emitting with no listener does nothing', () => {
    const reported: Array<[string, unknown]> = [];
    const bus = newBus(reported);
    expect(() => bus.emit('note', { id: 1 })).not.toThrow();
    expect(reported).toStrictEqual([]);
  });

  it('a handler that throws: every handler runs, then the errors are reported, never thrown', () => {
    const reported: Array<[string, unknown]> = [];
    const bus = newBus(reported);
    const order: string[] = [];
    const first = new Error('first');
    const third = new Error('third');
    bus.on('note', () => {
      order.push('first');
      throw first;
    });
    bus.on('note', () => {
      order.push('second');
      expect(reported).toStrictEqual([]);
    });
    bus.on('note', () => {
      order.push('third');
      throw third;
    });
    expect(() => bus.emit('note', { id: 1 })).not.toThrow();
    expect(order).toStrictEqual(['first', 'second', 'third']);
    expect(reported).toStrictEqual([
      ['note', first],
      ['note', third],
    ]);
  });

  it('a handler subscribed during an emit does not receive that emit', () => {
    const bus = newBus();
    const seen: string[] = [];
    bus.on('tick', () => {
      seen.push('outer');
      bus.on('tick', () => seen.push('inner'));
    });
    bus.emit('tick');
    expect(seen).toStrictEqual(['outer']);
  });

  it('refuses a handler that is not a function with invalid-argument', () => {
    const bus = newBus();
    const error = thrownBy(() => bus.on('note', 'handler' as never));
    expect(isFluxyError(error, 'invalid-argument')).toBe(true);
    expect(bus.listenerCount()).toBe(0);
  });
});

describe('app events: handler errors', () => {
  it("logs them and emits 'app:handler-error' after all handlers ran; the emitter is unaffected", () => {
    const logger = recordingLogger();
    const app = createApp({ logger });
    const order: string[] = [];
    const boom = new Error('handler broke');
    app.events.on('app:handler-error', ({ event, error }) => {
      order.push(`reported:${event}:${(error as Error).message}`);
    });
    app.events.on('app:ready', () => {
      order.push('first');
      throw boom;
    });
    app.events.on('app:ready', () => order.push('second'));
    expect(() => app.events.emit('app:ready')).not.toThrow();
    expect(order).toStrictEqual(['first', 'second', 'reported:app:ready:handler broke']);
    expect(logger.lines).toStrictEqual([
      { level: 'error', message: 'a handler of "app:ready" threw', details: [boom] },
    ]);
  });

  it("a throwing 'app:handler-error' handler is logged, not re-emitted forever", () => {
    const logger = recordingLogger();
    const app = createApp({ logger });
    let reports = 0;
    app.events.on('app:handler-error', () => {
      reports++;
      throw new Error('reporter broke');
    });
    app.events.on('app:dispose', () => {
      throw new Error('handler broke');
    });
    app.events.emit('app:dispose');
    expect(reports).toBe(1);
    expect(logger.lines.map((line) => line.message)).toStrictEqual([
      'a handler of "app:dispose" threw',
      'a handler of "app:handler-error" threw',
    ]);
  });

  it('a handler error during ready() does not fail ready()', async () => {
    const app = createApp({ logger: recordingLogger() });
    app.register({ name: 'x' });
    app.events.on('app:ready', () => {
      throw new Error('listener broke');
    });
    await expect(app.ready()).resolves.toBeUndefined();
  });
});
