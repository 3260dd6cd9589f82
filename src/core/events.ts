import mitt, { type Emitter } from 'mitt';
import { disposedError, invalidArgument } from './errors.js';

/** A function that undoes a subscription. Safe to call more than once. */
export type Unsubscribe = () => void;

/** A map from event name to payload type. */
export type EventMap = Record<string, unknown>;

/**
 * The app-wide events. Extend it by declaration merging to type your own:
 *
 * @example
 * declare module 'fluxy' { interface FluxyEvents { 'notes:changed': { id: string } } }
 */
export interface FluxyEvents {
  /** All registered plugins finished `init`. */
  'app:ready': undefined;
  /** The app is being disposed. */
  'app:dispose': undefined;
  /** An event handler threw; the other handlers still ran. */
  'app:handler-error': { event: string; error: unknown };
}

/**
 * A typed event bus (mitt underneath) whose `on` returns its unsubscribe function.
 *
 * Handler errors: every handler runs even if an earlier one throws; the errors are then passed
 * to `onHandlerError` (the app logs them and emits `'app:handler-error'`), never thrown back
 * at the code that emitted the event.
 */
export class EventBus<Events extends object> {
  readonly #emitter: Emitter<Record<keyof Events, unknown>> = mitt();
  readonly #onHandlerError: (event: string, error: unknown) => void;
  #closed = false;

  /**
   * @param onHandlerError - called with each handler's error, after every handler ran; a function
   * (`invalid-argument` otherwise, not a TypeError at the first handler that throws). @default ignore
   */
  constructor(onHandlerError: (event: string, error: unknown) => void = () => {}) {
    if (typeof onHandlerError !== 'function') {
      throw invalidArgument(
        `new EventBus(onHandlerError): onHandlerError must be a function (got ${typeof onHandlerError}).`,
      );
    }
    this.#onHandlerError = onHandlerError;
  }

  /**
   * Subscribe to `event`; returns the unsubscribe function. Throws `invalid-argument` for a
   * handler that is not a function, and `app/disposed` once the bus is closed (its app was
   * disposed): nothing would ever remove the listener.
   */
  on<K extends keyof Events>(event: K, handler: (payload: Events[K]) => void): Unsubscribe {
    assertEventName(event);
    if (this.#closed) {
      throw disposedError(
        `events.on("${String(event)}") was called after the app was disposed: subscribe on a live app (createApp()).`,
      );
    }
    if (typeof handler !== 'function') {
      throw invalidArgument(`events.on("${String(event)}", handler): handler must be a function.`);
    }
    // One wrapper per subscription, so the same handler subscribed twice is removed once per call.
    const wrapped = (payload: unknown): void => handler(payload as Events[K]);
    this.#emitter.on(event, wrapped);
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      this.#emitter.off(event, wrapped);
    };
  }

  /** Subscribe for one event only. Throws like {@link EventBus.on}. */
  once<K extends keyof Events>(event: K, handler: (payload: Events[K]) => void): Unsubscribe {
    // A handler that is not a function goes to on() as it is, to be refused there.
    const off = this.on(
      event,
      typeof handler === 'function'
        ? (payload) => {
            off();
            handler(payload);
          }
        : handler,
    );
    return off;
  }

  /** Call every handler of `event` with `payload`. Never throws because of a handler. */
  emit<K extends keyof Events>(
    event: K,
    ...payload: undefined extends Events[K] ? [Events[K]?] : [Events[K]]
  ): void {
    assertEventName(event);
    const handlers = this.#emitter.all.get(event) ?? [];
    // Every handler runs first; only then are the failures reported, so a throwing handler
    // neither starves the ones after it nor interleaves its report with their work.
    const errors: unknown[] = [];
    for (const handler of [...handlers] as Array<(payload: unknown) => void>) {
      try {
        handler(payload[0]);
      } catch (error) {
        errors.push(error);
      }
    }
    for (const error of errors) this.#onHandlerError(event as string, error);
  }

  /** How many handlers listen to `event` (for tests and leak checks). */
  listenerCount(event?: keyof Events): number {
    if (event !== undefined) return this.#emitter.all.get(event)?.length ?? 0;
    let total = 0;
    for (const list of this.#emitter.all.values()) total += list.length;
    return total;
  }

  /** Remove every handler. */
  clear(): void {
    this.#emitter.all.clear();
  }

  /**
   * Refuse new subscriptions from now on (`on`/`once` throw `app/disposed`). Handlers already
   * subscribed stay until {@link EventBus.clear}, and `emit` keeps working. The app closes its bus
   * when it is disposed. Idempotent.
   *
   * @example bus.close(); bus.clear();
   */
  close(): void {
    this.#closed = true;
  }
}

/** Event names are non-empty strings (`'sync:sent'`), never numbers or objects. */
function assertEventName(event: unknown): void {
  if (typeof event !== 'string' || event === '') {
    throw invalidArgument(
      `events.on/emit(event, …): event must be a non-empty string such as "app:handler-error" (got ${typeof event}).`,
    );
  }
}
