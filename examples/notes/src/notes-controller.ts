import { type App, Controller, type ReadonlySignal } from 'fluxy';
import { StoragePlugin } from 'fluxy/storage';
import { type Operation, SyncPlugin, type UnreadableOperation } from 'fluxy/sync';

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

/** What the app stores with each queued operation (`meta`), so the screen can be rebuilt after a reload. */
interface NoteMeta {
  key: string;
  title: string;
}

type NoteFields = { title: string; body: string };

const kinds = { create: 'note.create', update: 'note.update', remove: 'note.delete' } as const;

/**
 * The notes state, and every change to it.
 *
 * What you see is always: **the server's last answer** (kept in `storage.namespace('notes')`)
 * **plus the changes still in the outbox** (`sync.pending()`), replayed on top. So:
 * - a change shows at once (optimistic) and survives a reload, because it *is* the queued operation;
 * - when the server accepts it, an outcome handler stores the server's copy (with its real id);
 * - when the server refuses it for good, the operation moves to the failed list and its effect
 *   disappears from the view: the rollback needs no extra code, and Retry brings it back.
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

  #refreshing: Promise<void> | undefined;
  #refreshAgain = false;
  #counts = { pending: -1, failed: -1 };

  constructor(app?: App) {
    super(app);
    // Durable outcome handlers: they run once per outcome, in the tab that sends, also when the
    // answer arrives after a reload. Registered here, before `ready()`, so none is missed.
    const sent = { sent: ({ response }: { response: unknown }) => this.#confirm(response) };
    const failed = {
      failed: ({ operation }: { operation: Operation | UnreadableOperation }) => this.#refused(operation),
    };
    this.own(this.#sync.handle(kinds.create, { ...sent, ...failed }));
    this.own(this.#sync.handle(kinds.update, { ...sent, ...failed }));
    this.own(
      this.#sync.handle(kinds.remove, {
        sent: ({ operation }) => this.#forget(operation.url),
        ...failed,
      }),
    );
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
    const key = temporaryId();
    this.#notes.value = [{ key, ...fields, pending: true }, ...this.#notes.value];
    await this.#queue('POST', '/notes', kinds.create, { key, title: fields.title }, () => ({
      body: { ...fields, clientId: key },
      // The server's id replaces `key` in later operations (e.g. an edit queued before this is sent).
      tempId: key,
    }));
  }

  /** Change a note's title and body. */
  async update(key: string, fields: NoteFields): Promise<void> {
    const note = this.#find(key);
    this.#notes.value = this.#notes.value.map((n) =>
      n.key === key ? { ...n, ...fields, pending: true } : n,
    );
    await this.#queue('PATCH', noteUrl(note), kinds.update, { key, title: fields.title }, () => ({
      body: fields,
    }));
  }

  /** Delete a note. */
  async remove(key: string): Promise<void> {
    const note = this.#find(key);
    this.#notes.value = this.#notes.value.filter((n) => n.key !== key);
    await this.#queue('DELETE', noteUrl(note), kinds.remove, { key, title: note.title }, () => ({}));
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

  async #queue(
    method: 'POST' | 'PATCH' | 'DELETE',
    url: string,
    kind: string,
    meta: NoteMeta,
    options: () => { body?: unknown; tempId?: string },
  ): Promise<void> {
    try {
      // Resolves once the operation is committed to storage: from here on it survives a reload.
      await this.#sync.queue(method, url, { ...options(), kind, meta: { ...meta } });
    } finally {
      // Refused (bad input, storage full) or not: show what storage holds.
      await this.#changed();
    }
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

  /** Refused for good: the view drops the change by itself (it is no longer pending); say so. */
  async #refused(operation: Operation | UnreadableOperation): Promise<void> {
    const { label, reason } = describeFailure(operation);
    this.notice.value = `${label} was refused (${reason}) and undone. Retry or discard it below.`;
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
function noteUrl(note: Note): string {
  return `/notes/${encodeURIComponent(note.serverId ?? note.key)}`;
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
  const verb =
    operation.kind === kinds.create ? 'Create' : operation.kind === kinds.update ? 'Edit' : 'Delete';
  const error = operation.lastError;
  const reason = error?.status ? `HTTP ${error.status}` : (error?.message ?? 'unknown error');
  return { id: operation.id, label: `${verb} “${title}”`, reason };
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
