// The controller example of docs/controllers-and-bindings.md ("Optimistic updates that survive
// reloads"), kept here so it keeps type-checking as the API evolves.
import { expectTypeOf, test } from 'vitest';
import { type App, Controller } from '../../src/index.js';
import type { Operation } from '../../src/plugins/sync/index.js';
import { defineMutation, SyncPlugin } from '../../src/plugins/sync/index.js';

interface Note {
  id: string;
  title: string;
  saving: boolean;
}
const randomHex = (bytes: number) => 'x'.repeat(bytes * 2);

class NotesController extends Controller {
  readonly notes = this.state<Note[]>([]);
  readonly #sync = this.use(SyncPlugin);

  readonly create = this.#own(
    defineMutation(this.#sync, 'note.create', {
      apply: ({ title }: { title: string }) => {
        const tempId = `tmp_${randomHex(8)}`;
        this.notes.value = [...this.notes.value, { id: tempId, title, saving: true }];
        return { tempId };
      },
      request: ({ title }, { tempId }) => ({
        method: 'POST',
        url: '/notes',
        body: { title, clientId: tempId },
        tempId,
      }),
      commit: ({ tempId }, { serverId }) => this.#replace(tempId, { id: serverId!, saving: false }),
      rollback: ({ tempId }) => {
        this.notes.value = this.notes.value.filter((n) => n.id !== tempId);
      },
    }),
  );

  readonly rename = this.#own(
    defineMutation(this.#sync, 'note.rename', {
      apply: ({ id, title }: { id: string; title: string }) => {
        const previous = this.notes.value.find((n) => n.id === id)!.title;
        this.#replace(id, { title });
        return { id, previous };
      },
      request: ({ id, title }) => ({ method: 'PATCH', url: `/notes/${id}`, body: { title } }),
      rollback: ({ id, previous }) => this.#replace(id, { title: previous }),
    }),
  );

  readonly remove = this.#own(
    defineMutation(this.#sync, 'note.delete', {
      apply: ({ id }: { id: string }) => {
        const index = this.notes.value.findIndex((n) => n.id === id);
        const { title } = this.notes.value[index]!;
        this.notes.value = this.notes.value.filter((n) => n.id !== id);
        return { index, id, title };
      },
      request: ({ id }) => ({ method: 'DELETE', url: `/notes/${id}` }),
      rollback: ({ index, id, title }) => {
        const next = [...this.notes.value];
        next.splice(index, 0, { id, title, saving: false });
        this.notes.value = next;
      },
    }),
  );

  #own<M extends { dispose(): void }>(mutation: M): M {
    this.own(() => mutation.dispose());
    return mutation;
  }
  #replace(id: string, patch: Partial<Note>): void {
    this.notes.value = this.notes.value.map((n) => (n.id === id ? { ...n, ...patch } : n));
  }
}

test('the documented mutation controller is typed as promised', () => {
  const make = (app: App) => new NotesController(app);
  expectTypeOf(make).returns.toHaveProperty('create');
  expectTypeOf<NotesController['create']>().parameter(0).toEqualTypeOf<{ title: string }>();
  expectTypeOf<ReturnType<NotesController['rename']>>().toEqualTypeOf<Promise<Operation>>();
  expectTypeOf<NotesController['remove']['kind']>().toEqualTypeOf<string>();
});
