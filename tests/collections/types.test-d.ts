import { describe, expectTypeOf, it } from 'vitest';
import { createApp, type ReadonlySignal } from '../../src/index.js';
import { Collection, type ConflictEvent } from '../../src/plugins/collections/index.js';

interface Todo extends Record<string, unknown> {
  id: string;
  text: string;
  done: boolean;
  version: number;
}

// What an app writes once so that `use('todos')` is typed.
declare module '../../src/core/plugin.js' {
  interface FluxyPlugins {
    todos: Collection<Todo>;
  }
}

describe('Collection types', () => {
  it('types use(name) by declaration merging, and its signals and writes by the row type', () => {
    const app = createApp();
    app.register(new Collection<Todo>('todos', { url: '/todos' }));
    const todos = app.use('todos');
    expectTypeOf(todos).toEqualTypeOf<Collection<Todo>>();
    expectTypeOf(todos.items).toEqualTypeOf<ReadonlySignal<readonly Todo[]>>();
    expectTypeOf(todos.get('x')).toEqualTypeOf<ReadonlySignal<Todo | undefined>>();
    expectTypeOf(todos.pending.value.get('x')?.type).toEqualTypeOf<
      'insert' | 'update' | 'remove' | undefined
    >();
    expectTypeOf(todos.pending.value.get('x')?.confirmed).toEqualTypeOf<Todo | undefined>();
    expectTypeOf(todos.insert({ text: 'a', done: false })).resolves.toEqualTypeOf<Todo>();
    expectTypeOf(todos.update).parameter(1).toEqualTypeOf<Partial<Todo>>();
    // @ts-expect-error a field of the wrong type is refused
    void todos.update('x', { done: 'yes' });
    todos.on('conflict', (event) => {
      expectTypeOf(event).toEqualTypeOf<ConflictEvent<Todo>>();
      expectTypeOf(event.server).toEqualTypeOf<Todo | null>();
    });
  });

  it('types the merge function by the row type', () => {
    new Collection<Todo>('todos', {
      url: '/todos',
      conflict: ({ local, server, base }) => {
        expectTypeOf(local).toEqualTypeOf<Todo | null>(); // null: the change is a remove
        expectTypeOf(server).toEqualTypeOf<Todo | null>();
        expectTypeOf(base).toEqualTypeOf<Todo | null>();
        if (local === null) return null;
        return { done: local.done || (server?.done ?? false) };
      },
    });
  });
});
