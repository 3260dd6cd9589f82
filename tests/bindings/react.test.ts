// @vitest-environment happy-dom
import { act, createElement, type ReactNode, StrictMode } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { renderToString } from 'react-dom/server';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useController, useSignalValue } from '../../src/bindings/react/index.js';
import { type App, createApp } from '../../src/core/app.js';
import { Controller } from '../../src/core/controller.js';
import { isFluxyError } from '../../src/core/errors.js';
import { computed, flux, type ReadonlySignal, type Signal } from '../../src/core/signals.js';
import { recordingLogger, thrownBy } from '../core/helpers.js';

declare global {
  var IS_REACT_ACT_ENVIRONMENT: boolean | undefined;
}

beforeAll(() => {
  globalThis.IS_REACT_ACT_ENVIRONMENT = true;
});

interface Mounted {
  container: HTMLElement;
  root: Root;
  render(node: ReactNode): void;
  unmount(): void;
}

const mounted: Mounted[] = [];

function mount(node: ReactNode): Mounted {
  const container = document.createElement('div');
  document.body.append(container);
  const root = createRoot(container);
  const handle: Mounted = {
    container,
    root,
    render(next) {
      act(() => root.render(next));
    },
    unmount() {
      act(() => root.unmount());
      container.remove();
      mounted.splice(mounted.indexOf(handle), 1);
    },
  };
  mounted.push(handle);
  handle.render(node);
  return handle;
}

afterEach(() => {
  for (const handle of [...mounted]) handle.unmount();
});

/** A signal that counts its watchers (subscriptions that keep it live). */
function watchedSignal<T>(initial: T): { signal: Signal<T>; watchers: () => number } {
  let watchers = 0;
  const signal = flux(initial, {
    watched: () => {
      watchers += 1;
    },
    unwatched: () => {
      watchers -= 1;
    },
  });
  return { signal, watchers: () => watchers };
}

function Value(props: { signal: ReadonlySignal<unknown>; renders?: string[]; label?: string }): ReactNode {
  const value = useSignalValue(props.signal);
  props.renders?.push(`${props.label ?? 'value'}:${String(value)}`);
  return createElement('span', null, String(value));
}

/** Sets the signal from a ref callback: after render, before React subscribes. */
function ChangesDuringCommit(props: { count: Signal<number> }): ReactNode {
  const value = useSignalValue(props.count);
  const setDuringCommit = (): void => {
    props.count.value = 7;
  };
  return createElement('span', { ref: setDuringCommit }, String(value));
}

function PlainResource(props: { disposed: string[] }): ReactNode {
  const resource = useController(() => ({ name: 'plain', dispose: () => props.disposed.push('plain') }));
  return createElement('span', null, resource.name);
}

function UsesFactory(props: { factory: () => { dispose(): void } }): ReactNode {
  useController(props.factory);
  return null;
}

/** The error a render threw (act() rethrows it); fails the test if the render succeeded. */
function renderError(node: ReactNode): unknown {
  const root = createRoot(document.createElement('div'));
  try {
    return thrownBy(() => act(() => root.render(node)));
  } finally {
    act(() => root.unmount());
  }
}

describe('useSignalValue', () => {
  it('renders the current value and re-renders when the signal changes', () => {
    const count = flux(1);
    const renders: string[] = [];
    const view = mount(createElement(Value, { signal: count, renders }));
    expect(view.container.textContent).toBe('1');
    act(() => {
      count.value = 2;
    });
    expect(view.container.textContent).toBe('2');
    expect(renders).toStrictEqual(['value:1', 'value:2']);
  });

  it('follows computed signals', () => {
    const count = flux(2);
    const double = computed(() => count.value * 2);
    const view = mount(createElement(Value, { signal: double }));
    expect(view.container.textContent).toBe('4');
    act(() => {
      count.value = 5;
    });
    expect(view.container.textContent).toBe('10');
  });

  it('does not re-render when an unrelated signal changes, or when the value is set to the same', () => {
    const shown = flux('a');
    const unrelated = flux(0);
    const renders: string[] = [];
    mount(createElement(Value, { signal: shown, renders }));
    act(() => {
      unrelated.value = 1;
      shown.value = 'a';
    });
    expect(renders).toStrictEqual(['value:a']);
  });

  it('re-renders only the components reading the changed signal', () => {
    const left = flux(0);
    const right = flux(0);
    const renders: string[] = [];
    mount(
      createElement(
        'div',
        null,
        createElement(Value, { signal: left, renders, label: 'left' }),
        createElement(Value, { signal: right, renders, label: 'right' }),
      ),
    );
    act(() => {
      right.value = 1;
    });
    expect(renders).toStrictEqual(['left:0', 'right:0', 'right:1']);
  });

  it('subscribes once while mounted and unsubscribes on unmount', () => {
    const { signal, watchers } = watchedSignal(0);
    const view = mount(createElement(Value, { signal }));
    expect(watchers()).toBe(1);
    act(() => {
      signal.value = 1;
    });
    expect(watchers()).toBe(1);
    view.unmount();
    expect(watchers()).toBe(0);
  });

  it('moves its subscription when given another signal', () => {
    const first = watchedSignal('first');
    const second = watchedSignal('second');
    const view = mount(createElement(Value, { signal: first.signal }));
    view.render(createElement(Value, { signal: second.signal }));
    expect(view.container.textContent).toBe('second');
    expect(first.watchers()).toBe(0);
    expect(second.watchers()).toBe(1);
    act(() => {
      first.signal.value = 'changed';
    });
    expect(view.container.textContent).toBe('second');
  });

  it('sees a change made between render and subscription', () => {
    const count = flux(0);
    const view = mount(createElement(ChangesDuringCommit, { count }));
    expect(view.container.textContent).toBe('7');
  });

  it('is StrictMode-safe: one live subscription, released on unmount', () => {
    const { signal, watchers } = watchedSignal(0);
    const view = mount(createElement(StrictMode, null, createElement(Value, { signal })));
    expect(watchers()).toBe(1);
    act(() => {
      signal.value = 3;
    });
    expect(view.container.textContent).toBe('3');
    view.unmount();
    expect(watchers()).toBe(0);
  });

  it('renders on the server with the current value and without subscribing', () => {
    const { signal, watchers } = watchedSignal(42);
    expect(renderToString(createElement(Value, { signal }))).toBe('<span>42</span>');
    expect(watchers()).toBe(0);
  });

  it('refuses a non-signal with invalid-argument', () => {
    const error = renderError(createElement(Value, { signal: 42 as never }));
    expect(isFluxyError(error, 'invalid-argument')).toBe(true);
  });

  it('refuses a function, saying to derive a signal instead', () => {
    const error = renderError(createElement(Value, { signal: (() => 1) as never }));
    expect(isFluxyError(error, 'invalid-argument')).toBe(true);
    expect((error as Error).message).toContain('not a function: derive the value as a signal (computed(');
  });
});

class CounterController extends Controller {
  static created = 0;
  readonly count = this.state(0);
  readonly id: number;
  constructor(app: App, source: ReadonlySignal<number>) {
    super(app);
    CounterController.created += 1;
    this.id = CounterController.created;
    this.effect(() => {
      this.count.value = source.value * 10;
    });
  }
}

function Counter(props: { app: App; source: ReadonlySignal<number>; seen: CounterController[] }): ReactNode {
  const controller = useController(() => new CounterController(props.app, props.source));
  if (!props.seen.includes(controller)) props.seen.push(controller);
  const count = useSignalValue(controller.count);
  return createElement('output', null, `${controller.id}:${count}`);
}

describe('useController', () => {
  afterEach(() => {
    CounterController.created = 0;
  });

  it('creates the controller once, keeps it across renders, and disposes it on unmount', () => {
    const app = createApp({ logger: recordingLogger() });
    const baseline = app.events.listenerCount();
    const { signal, watchers } = watchedSignal(1);
    const seen: CounterController[] = [];
    const view = mount(createElement(Counter, { app, source: signal, seen }));
    expect(view.container.textContent).toBe('1:10');
    act(() => {
      signal.value = 2;
    });
    view.render(createElement(Counter, { app, source: signal, seen }));
    expect(view.container.textContent).toBe('1:20');
    expect(CounterController.created).toBe(1);
    expect(seen).toHaveLength(1);
    expect(watchers()).toBe(1);

    view.unmount();
    expect(seen[0]?.disposed).toBe(true);
    expect(watchers()).toBe(0);
    expect(app.events.listenerCount()).toBe(baseline);
  });

  it('under StrictMode, renders a live controller and leaves nothing behind after unmount', () => {
    const app = createApp({ logger: recordingLogger() });
    const baseline = app.events.listenerCount();
    const { signal, watchers } = watchedSignal(1);
    const seen: CounterController[] = [];
    const view = mount(
      createElement(StrictMode, null, createElement(Counter, { app, source: signal, seen })),
    );

    // React 19 mounts, unmounts and remounts: the first instance is disposed and replaced.
    expect(seen).toHaveLength(2);
    expect(seen[0]?.disposed).toBe(true);
    const live = seen.at(-1)!;
    expect(live.disposed).toBe(false);
    expect(seen.filter((controller) => !controller.disposed)).toStrictEqual([live]);
    expect(view.container.textContent).toBe(`${live.id}:10`);
    expect(watchers()).toBe(1);
    expect(app.events.listenerCount()).toBe(baseline + 1);

    act(() => {
      signal.value = 3;
    });
    expect(view.container.textContent).toBe(`${live.id}:30`);

    view.unmount();
    expect(seen.every((controller) => controller.disposed)).toBe(true);
    expect(watchers()).toBe(0);
    expect(app.events.listenerCount()).toBe(baseline);
    expect(CounterController.created).toBe(seen.length);
  });

  it('works with any object that has dispose()', () => {
    const disposed: string[] = [];
    const view = mount(createElement(PlainResource, { disposed }));
    expect(view.container.textContent).toBe('plain');
    view.unmount();
    expect(disposed).toStrictEqual(['plain']);
  });

  it('refuses a factory that does not return a disposable, with invalid-argument', () => {
    const error = renderError(createElement(UsesFactory, { factory: () => ({}) as never }));
    expect(isFluxyError(error, 'invalid-argument')).toBe(true);
  });
});
