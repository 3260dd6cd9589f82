import { type App, Controller, type ReadonlySignal } from 'fluxy';
import { StoragePlugin } from 'fluxy/storage';
import {
  defineMutation,
  type Mutation,
  type MutationDefinition,
  type Operation,
  type OperationError,
  SyncPlugin,
  type UnreadableOperation,
} from 'fluxy/sync';

/** A note as the reference server returns it (`POST`/`PATCH /api/notes`). */
export interface ServerNote {
  id: string;
  title: string;
  body: string;
  clientId: string | null;
  createdAt: string;
  updatedAt: string;
  version: number;
}

/** A note as the screen shows it. */
export interface Note {
  /** Stable local id: the temporary id this app made for it, or the server id for notes made elsewhere. */
  key: string;
  /** The server's id, once the server has created the note. */
  serverId?: string;
  title: string;
  body: string;
  /** A change to this note is still waiting in the outbox. */
  pending: boolean;
}

/** A change the server refused for good (the outbox's dead-letter list). */
export interface FailedChange {
  id: string;
  label: string;
  reason: string;
}

/**
 * What a mutation's `apply` returns, stored with the queued operation as its `meta`: enough to
 * rebuild the screen after a reload, to label a refusal, and to build the request.
 */
type NoteMeta = {
  /** The note's stable local key. */
  key: string;
  /** Its server id, or its temporary id while the server has not answered its create. */
  id: string;
  /** The title the change shows (for a delete: the note's title). */
  title: string;
};

type NoteFields = { title: string; body: string };

const kinds = { create: 'note.create', update: 'note.update', remove: 'note.delete' } as const;

/**
 * The notes state, and every change to it.
 *
 * What you see is always: **the server's last answer** (kept in `storage.namespace('notes')`)
 * **plus the changes still in the outbox** (`sync.pending()`), replayed on top. Each change is a
 * `defineMutation` (create, update, delete), defined with the controller — before `ready()` — so
 * its outcome is handled also when it arrives after a reload:
 * - `apply` shows the change at once (optimistic); it survives a reload, because it *is* the
 *   queued operation;
 * - `commit` (the server accepted it) stores the server's copy (with its real id);
 * - `rollback` (the server refused it for good) rebuilds the view: the operation is now in the
 *   failed list, no longer pending, so its effect disappears; Retry brings it back.
 */
export class NotesController extends Controller {
  readonly #sync = this.use(SyncPlugin);
  /** The server's copy of each note, by server id. Encrypted at rest like everything in storage. */
  readonly #confirmed = this.use(StoragePlugin).namespace('notes');
  /** Tells the app's other tabs that the notes changed (the Sync plugin tells them about the queue). */
  readonly #channel =
    typeof BroadcastChannel === 'function' ? new BroadcastChannel('fluxy-notes') : undefined;

  readonly #notes = this.state<Note[]>([]);
  readonly #failed = this.state<FailedChange[]>([]);
  /** Notes, newest first. */
  readonly notes: ReadonlySignal<Note[]> = this.#notes;
  /** Changes the server refused, oldest first. */
  readonly failed: ReadonlySignal<FailedChange[]> = this.#failed;
  /** The last refusal, for a short notice ("… was refused and undone"). */
  readonly notice = this.state('');

  readonly #create = this.#mutation<NoteFields>(kinds.create, {
    apply: (fields) => {
      const key = temporaryId();
      this.#notes.value = [{ key, ...fields, pending: true }, ...this.#notes.value];
      return { key, id: key, title: fields.title };
    },
    request: (fields, { key }) => ({
      method: 'POST',
      url: '/notes',
      body: { ...fields, clientId: key },
      // The server's id replaces `key` in later operations (e.g. an edit queued before this is sent).
      tempId: key,
    }),
    commit: (_meta, { response }) => this.#confirm(response),
    rollback: (meta, error) => this.#refused(kinds.create, meta, error),
  });

  readonly #update = this.#mutation<{ key: string; fields: NoteFields }>(kinds.update, {
    apply: ({ key, fields }) => {
      const note = this.#find(key);
      this.#notes.value = this.#notes.value.map((n) =>
        n.key === key ? { ...n, ...fields, pending: true } : n,
      );
      return { key, id: note.serverId ?? key, title: fields.title };
    },
    request: ({ fields }, { id }) => ({ method: 'PATCH', url: noteUrl(id), body: fields }),
    commit: (_meta, { response }) => this.#confirm(response),
    rollback: (meta, error) => this.#refused(kinds.update, meta, error),
  });

  readonly #remove = this.#mutation<string>(kinds.remove, {
    apply: (key) => {
      const note = this.#find(key);
      this.#notes.value = this.#notes.value.filter((n) => n.key !== key);
      return { key, id: note.serverId ?? key, title: note.title };
    },
    request: (_key, { id }) => ({ method: 'DELETE', url: noteUrl(id) }),
    // `operation.url` is as sent: with the server id in place of a temporary one.
    commit: (_meta, { operation }) => this.#forget(operation.url),
    rollback: (meta, error) => this.#refused(kinds.remove, meta, error),
  });

  #refreshing: Promise<void> | undefined;
  #refreshAgain = false;
  #counts = { pending: -1, failed: -1 };

  constructor(app?: App) {
    super(app);
    // Another tab queued something, or a change failed / was retried / discarded: rebuild the view.
    this.own(
      this.#sync.on('change', ({ pendingCount, failedCount }) => {
        const more = pendingCount > this.#counts.pending || failedCount !== this.#counts.failed;
        this.#counts = { pending: pendingCount, failed: failedCount };
        if (more) void this.refresh();
      }),
    );
    if (this.#channel) {
      const channel = this.#channel;
      channel.onmessage = () => void this.refresh();
      this.own(() => channel.close());
    }
  }

  // ——— actions (called by the UI) ———

  /** Create a note: visible at once, stored in the outbox before this resolves. */
  async create(fields: NoteFields): Promise<void> {
    await this.#create(fields);
    await this.#changed();
  }

  /** Change a note's title and body. */
  async update(key: string, fields: NoteFields): Promise<void> {
    await this.#update({ key, fields });
    await this.#changed();
  }

  /** Delete a note. */
  async remove(key: string): Promise<void> {
    await this.#remove(key);
    await this.#changed();
  }

  /** Send a refused change again. */
  async retry(id: string): Promise<void> {
    await this.#sync.retry(id);
    await this.#changed();
  }

  /** Drop a refused change for good. */
  async discard(id: string): Promise<void> {
    await this.#sync.discard(id);
    await this.#changed();
  }

  /** Rebuild the view from storage: the server's copies, then the pending operations on top. */
  refresh(): Promise<void> {
    if (this.#refreshing) {
      this.#refreshAgain = true;
      return this.#refreshing;
    }
    this.#refreshing = this.#rebuild().finally(() => {
      this.#refreshing = undefined;
      if (this.#refreshAgain) {
        this.#refreshAgain = false;
        void this.refresh();
      }
    });
    return this.#refreshing;
  }

  // ——— internals ———

  /**
   * Define a mutation of this controller, disposed with it. Calling it applies the change and
   * resolves once the operation is committed to storage (from then on it survives a reload); if
   * the queue refuses it (bad input, storage full), `rollback` runs and the error is rethrown.
   */
  #mutation<Input>(kind: string, definition: MutationDefinition<Input, NoteMeta>): Mutation<Input> {
    const mutation = defineMutation(this.#sync, kind, definition);
    this.own(() => mutation.dispose());
    return mutation;
  }

  async #rebuild(): Promise<void> {
    // Pending first, then the server's copies: an operation sent in between is then seen twice
    // (harmless, replaying it is idempotent) rather than not at all.
    const [pending, failed] = await Promise.all([this.#sync.pending(), this.#sync.failed()]);
    const keys = await this.#confirmed.keys();
    const stored = await Promise.all(keys.map((id) => this.#confirmed.get<ServerNote>(id)));

    const view = new Map<string, Note>();
    const confirmed = stored.filter((note): note is ServerNote => note !== undefined);
    confirmed.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
    for (const note of confirmed) {
      const key = note.clientId ?? note.id;
      view.set(key, { key, serverId: note.id, title: note.title, body: note.body, pending: false });
    }
    for (const operation of pending) {
      if ('unreadable' in operation) continue;
      const meta = operation.meta as NoteMeta | undefined;
      if (!meta?.key) continue;
      const fields = (operation.body ?? {}) as Partial<NoteFields>;
      const note = view.get(meta.key);
      if (operation.kind === kinds.create) {
        view.set(meta.key, { key: meta.key, title: '', body: '', ...note, ...pick(fields), pending: true });
      } else if (operation.kind === kinds.update && note) {
        view.set(meta.key, { ...note, ...pick(fields), pending: true });
      } else if (operation.kind === kinds.remove) {
        view.delete(meta.key);
      }
    }
    this.#notes.value = [...view.values()].reverse();
    this.#failed.value = failed.map(describeFailure);
  }

  /** A create or an update was accepted: keep the server's copy (ignoring an older one replayed late). */
  async #confirm(response: unknown): Promise<void> {
    if (!isServerNote(response)) return;
    const known = await this.#confirmed.get<ServerNote>(response.id);
    if (!known || known.version <= response.version) await this.#confirmed.set(response.id, response);
    await this.#changed();
  }

  /** A delete was accepted. `url` is as sent, with the server id in place of a temporary one. */
  async #forget(url: string): Promise<void> {
    const id = decodeURIComponent(url.slice(url.lastIndexOf('/') + 1));
    await this.#confirmed.remove(id);
    await this.#changed();
  }

  /**
   * Roll back: the rebuilt view no longer shows the change (it is not pending any more), so this
   * only rebuilds, and says why. Not queued at all (`sync/not-queued`): the caller shows the error.
   */
  async #refused(kind: string, meta: NoteMeta, error: OperationError): Promise<void> {
    if (error.code !== 'sync/not-queued') {
      const change = `${verb(kind)} “${meta.title}”`;
      this.notice.value = `${change} was refused (${reason(error)}) and undone. Retry or discard it below.`;
    }
    await this.#changed();
  }

  /** Storage changed: rebuild here, and tell the other tabs. */
  async #changed(): Promise<void> {
    this.#channel?.postMessage('changed');
    await this.refresh();
  }

  #find(key: string): Note {
    const note = this.#notes.peek().find((n) => n.key === key);
    if (!note) throw new Error(`There is no note ${key}.`);
    return note;
  }
}

/** `/notes/<server id>`, or the temporary id until the server answered (the outbox swaps it). */
function noteUrl(id: string): string {
  return `/notes/${encodeURIComponent(id)}`;
}

/** A client-made id: `tmp_` + 16 random hex digits (crypto.getRandomValues works on any origin). */
function temporaryId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return `tmp_${Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')}`;
}

function pick(fields: Partial<NoteFields>): Partial<NoteFields> {
  const picked: Partial<NoteFields> = {};
  if (typeof fields.title === 'string') picked.title = fields.title;
  if (typeof fields.body === 'string') picked.body = fields.body;
  return picked;
}

function describeFailure(operation: Operation | UnreadableOperation): FailedChange {
  if ('unreadable' in operation) {
    return { id: operation.id, label: 'A change that cannot be read', reason: operation.lastError.message };
  }
  const title = (operation.meta as NoteMeta | undefined)?.title ?? '';
  return {
    id: operation.id,
    label: `${verb(operation.kind)} “${title}”`,
    reason: reason(operation.lastError),
  };
}

function verb(kind: string | undefined): string {
  return kind === kinds.create ? 'Create' : kind === kinds.update ? 'Edit' : 'Delete';
}

function reason(error: OperationError | undefined): string {
  return error?.status ? `HTTP ${error.status}` : (error?.message ?? 'unknown error');
}

function isServerNote(value: unknown): value is ServerNote {
  const note = value as Partial<ServerNote> | null;
  return (
    typeof note === 'object' &&
    note !== null &&
    typeof note.id === 'string' &&
    typeof note.title === 'string' &&
    typeof note.version === 'number'
  );
}
