import { type App, Controller, type ReadonlySignal } from 'fluxy';
import type { Collection, ConflictEvent } from 'fluxy/collections';
import { ConnectivityPlugin } from 'fluxy/connectivity';
import { StoragePlugin } from 'fluxy/storage';
import { type Operation, type OperationError, SyncPlugin, type UnreadableOperation } from 'fluxy/sync';

/** A note as the server keeps it (its changes feed and its answers to writes). */
export interface Note extends Record<string, unknown> {
  id: string;
  title: string;
  body: string;
  /** The temporary id the note had here before the server made it (see main.ts). */
  clientId?: string | null;
  version?: number;
}

/** A note as the screen shows it. */
export interface NoteRow {
  id: string;
  title: string;
  body: string;
  /** `saving`: a change to it waits in the outbox; `deleting`: its deletion does. */
  state: 'saved' | 'saving' | 'deleting';
}

/** A change the server refused (the outbox's failed list). */
export interface FailedChange {
  id: string;
  label: string;
  reason: string;
}

type Fields = { title: string; body: string };
/** What a note showed when it was deleted, kept (encrypted) until the deletion is sent. */
type Shown = Fields & { at: number };

/** The notes' part of the outbox, as last listed. */
interface Outbox {
  /** Ids of the rows a pending change touches. */
  busy: ReadonlySet<string>;
  /** Rows whose deletion is pending (`items` no longer has them). */
  deleting: readonly NoteRow[];
  /** Temporary ids, in the order their inserts were queued. */
  inserts: readonly string[];
  failed: readonly FailedChange[];
}

const kindNames: Record<string, string> = {
  'notes.insert': 'Create',
  'notes.update': 'Edit',
  'notes.remove': 'Delete',
};

/**
 * The app's own logic on top of the `notes` collection, which owns the state (cached rows,
 * pulls, optimistic writes through the outbox, every tab). This adds what the screen needs:
 * which notes are still saving or deleting, the refused changes, and what to tell the user.
 */
export class NotesController extends Controller {
  readonly #notes: Collection<Note>;
  readonly #sync = this.use(SyncPlugin);
  readonly #online = this.use(ConnectivityPlugin).isOnline;
  readonly #shown = this.use(StoragePlugin).namespace('notes-app');
  readonly #outbox = this.state<Outbox>({ busy: new Set(), deleting: [], inserts: [], failed: [] });
  /** Writes of this tab that the last listing may not show yet (a removed row: what it showed). */
  readonly #writing = this.state<ReadonlyMap<string, NoteRow | null>>(new Map());
  #listing: Promise<void> | undefined;
  #listAgain = false;

  /** Notes, newest first: the collection's rows, and the rows whose deletion is not sent yet. */
  readonly notes: ReadonlySignal<readonly NoteRow[]> = this.derive(() => this.#rows());
  /** Changes the server refused, oldest first. */
  readonly failed: ReadonlySignal<readonly FailedChange[]> = this.derive(() => this.#outbox.value.failed);
  /** The last refusal, for a short notice ("… was refused and undone"). */
  readonly notice = this.state('');
  /** What stops changes from reaching the server, in plain words ('' when nothing does). */
  readonly problem: ReadonlySignal<string> = this.derive(() => this.#problem());

  /** @param notes - the `notes` collection (main.ts registers it) */
  constructor(notes: Collection<Note>, app?: App) {
    super(app);
    this.#notes = notes;
    // List the outbox again whenever it or the rows change (here or in another tab).
    this.effect(() => {
      this.#sync.pendingCount.value;
      this.#sync.failedCount.value;
      this.#notes.items.value;
      void this.refresh();
    });
    this.own(
      this.#sync.on('failed', ({ operation, error }) => {
        // 404, 410, 412: a conflict with another device, which the collection settles (below).
        if (error.status === 404 || error.status === 410 || error.status === 412) return;
        void this.#shownOf().then((shown) => {
          const change = this.#describe(operation, shown, error);
          this.notice.value = `${change.label} was refused (${change.reason}) and undone. Retry or discard it below.`;
        });
      }),
    );
    this.own(notes.on('conflict', (conflict) => this.#conflict(conflict)));
  }

  /** A change of this device met another device's: say what was kept. */
  #conflict({ local, server }: ConflictEvent<Note>): void {
    if (server === null)
      this.notice.value = `“${local?.title ?? 'A note'}” was deleted on another device, so your change to it was dropped.`;
    else if (local === null)
      this.notice.value = `“${server.title}” was changed on another device after you deleted it, so it was kept.`;
    else
      this.notice.value = `“${server.title}” was also changed on another device; the newer change to each field was kept.`;
  }

  // ——— actions (called by the UI) ———

  /** Create a note: shown at once, in the outbox (durable) when this resolves. */
  async create(fields: Fields): Promise<void> {
    await this.#notes.insert(fields);
  }

  async update(id: string, fields: Fields): Promise<void> {
    await this.#track(id, null, () => this.#notes.update(id, fields));
  }

  /** Delete a note: shown as "deleting…" until the server has answered. */
  async remove(id: string): Promise<void> {
    const note = this.#notes.get(id).peek();
    if (!note) return;
    const row: NoteRow = { id: note.id, title: note.title, body: note.body, state: 'deleting' };
    await this.#shown.set(`deleting/${note.id}`, { title: note.title, body: note.body, at: Date.now() });
    await this.#track(note.id, row, () => this.#notes.remove(note.id));
  }

  /** Send refused changes again (all of them without an id). */
  async retry(id?: string): Promise<void> {
    await this.#sync.retry(id);
  }

  /** Drop a refused change (all of them without an id) for good. */
  async discard(id?: string): Promise<void> {
    const ids = id === undefined ? (await this.#sync.failed()).map((op) => op.id) : [id];
    for (const each of ids) await this.#sync.discard(each);
  }

  /** The id a (possibly temporary) id stands for now. */
  resolve(id: string): string {
    return this.#notes.get(id).value?.id ?? id;
  }

  /** List the outbox again (coalesced). */
  refresh(): Promise<void> {
    if (this.#listing) {
      this.#listAgain = true;
      return this.#listing;
    }
    const listed = this.#list().catch((error: unknown) => {
      console.warn('Could not list the outbox; the next change lists it again.', error);
    });
    this.#listing = listed.finally(() => {
      this.#listing = undefined;
      if (this.#listAgain) {
        this.#listAgain = false;
        void this.refresh();
      }
    });
    return this.#listing;
  }

  // ——— internals ———

  async #track(id: string, row: NoteRow | null, write: () => Promise<void>): Promise<void> {
    this.#writing.value = new Map(this.#writing.peek()).set(id, row);
    try {
      await write();
      await this.refresh();
    } finally {
      const writing = new Map(this.#writing.peek());
      writing.delete(id);
      this.#writing.value = writing;
    }
  }

  async #list(): Promise<void> {
    const [pending, failed, shown] = await Promise.all([
      this.#sync.pending(),
      this.#sync.failed(),
      this.#shownOf(),
    ]);
    const busy = new Set<string>();
    const deleting: NoteRow[] = [];
    const inserts: string[] = [];
    for (const operation of pending) {
      const id = rowIdOf(operation);
      if (id === undefined || 'unreadable' in operation) continue;
      busy.add(this.#resolveNow(id));
      if (operation.kind === 'notes.insert') inserts.push(id);
      if (operation.kind === 'notes.remove') {
        const { title, body } = shown.get(id) ?? { title: '(a note)', body: '' };
        deleting.push({ id, title, body, state: 'deleting' });
      }
    }
    // What a deleted note showed is kept until its deletion left the outbox (and a minute, for a
    // deletion another tab is queueing right now).
    for (const [id, { at }] of shown) {
      if (!deleting.some((row) => row.id === id) && at < Date.now() - 60_000)
        await this.#shown.remove(`deleting/${id}`);
    }
    this.#outbox.value = {
      busy,
      deleting,
      inserts,
      failed: failed.map((operation) => this.#describe(operation, shown)),
    };
  }

  async #shownOf(): Promise<Map<string, Shown>> {
    const keys = await this.#shown.keys('deleting/');
    const values = await Promise.all(keys.map((key) => this.#shown.get<Shown>(key)));
    const shown = new Map<string, Shown>();
    keys.forEach((key, index) => {
      const value = values[index];
      if (value) shown.set(key.slice('deleting/'.length), value);
    });
    return shown;
  }

  #resolveNow(id: string): string {
    return this.#notes.get(id).peek()?.id ?? id;
  }

  #rows(): NoteRow[] {
    const { busy, deleting, inserts } = this.#outbox.value;
    const writing = this.#writing.value;
    const rows: NoteRow[] = this.#notes.items.value.map((note) => ({
      id: note.id,
      title: note.title,
      body: note.body,
      state: isTemporary(note.id) || busy.has(note.id) || writing.has(note.id) ? 'saving' : 'saved',
    }));
    const ids = new Set(rows.map((row) => row.id));
    for (const row of [...deleting, ...writing.values()]) {
      if (row && !ids.has(row.id)) {
        ids.add(row.id);
        rows.push(row);
      }
    }
    // Newest first: notes not created on the server yet (last made first), then by server id.
    const rank = (id: string) => (inserts.includes(id) ? inserts.indexOf(id) : inserts.length);
    return rows.sort((a, b) => {
      const temporary = Number(isTemporary(b.id)) - Number(isTemporary(a.id));
      if (temporary !== 0 || isTemporary(a.id)) return temporary || rank(b.id) - rank(a.id);
      return b.id.length - a.id.length || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
    });
  }

  #describe(
    operation: Operation | UnreadableOperation,
    shown: Map<string, Shown>,
    error = operation.lastError,
  ): FailedChange {
    if ('unreadable' in operation) {
      return { id: operation.id, label: 'A change that cannot be read', reason: operation.lastError.message };
    }
    const id = rowIdOf(operation) ?? '';
    const body = (operation.body ?? {}) as Partial<Fields>;
    const title = body.title ?? shown.get(id)?.title ?? this.#notes.get(id).peek()?.title ?? id;
    return {
      id: operation.id,
      label: `${kindNames[operation.kind ?? ''] ?? 'Change'} “${title}”`,
      reason: reason(error),
    };
  }

  #problem(): string {
    const error = this.#sync.lastError.value;
    const pull = this.#notes.lastError.value;
    const unreachable =
      "Can't reach the server — your changes are saved on this device and will be sent when it's back.";
    if (!this.#online.value) return unreachable;
    const status = this.#sync.status.value;
    if (status === 'paused') return 'Sending is paused.';
    if (error && status === 'error') {
      if (error.code === 'sync/network-error' || error.code === 'sync/timeout') return unreachable;
      return `The server could not take your changes (${reason(error)}). They are saved on this device and will be sent again shortly.`;
    }
    if (pull?.code === 'collections/pull-failed')
      return pull.status
        ? `Could not get the latest notes from the server (HTTP ${pull.status}); showing the ones saved on this device.`
        : "Can't reach the server to get the latest notes; showing the ones saved on this device.";
    if (pull) return pull.message;
    return '';
  }
}

/** The row a notes operation changes (the collection keeps it in `meta.id`). */
function rowIdOf(operation: Operation | UnreadableOperation): string | undefined {
  if ('unreadable' in operation || !operation.kind?.startsWith('notes.')) return undefined;
  const id = (operation.meta as { id?: unknown } | undefined)?.id;
  return typeof id === 'string' ? id : undefined;
}

/** A row the server has not created yet (the collection's temporary ids). */
function isTemporary(id: string): boolean {
  return id.startsWith('tmp_');
}

function reason(error: OperationError | undefined): string {
  if (error?.status === 404 || error?.status === 410) return 'the note was deleted elsewhere';
  if (error?.status === 412) return 'the note was changed elsewhere';
  return error?.status ? `HTTP ${error.status}` : (error?.message ?? 'unknown error');
}
