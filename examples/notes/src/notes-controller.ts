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

const kindNames: Record<string, string> = {
  'notes.insert': 'Create',
  'notes.update': 'Edit',
  'notes.remove': 'Delete',
};

/**
 * The app's own logic on top of the `notes` collection, which owns the state (cached rows,
 * pulls, optimistic writes through the outbox, which rows are still saving or deleting, every
 * tab). This adds what the screen needs: the rows in the app's order with their state, the
 * refused changes described, and what to tell the user.
 */
export class NotesController extends Controller {
  readonly #notes: Collection<Note>;
  readonly #sync = this.use(SyncPlugin);
  readonly #online = this.use(ConnectivityPlugin).isOnline;
  readonly #lost = this.use(StoragePlugin).lost;
  readonly #failed = this.state<readonly FailedChange[]>([]);
  /** How many changes were waiting to be sent, as last seen before the storage was lost. */
  #unsent = 0;
  #listing: Promise<void> = Promise.resolve();

  /** Notes, newest first, with the ones whose deletion is not sent yet. */
  readonly notes: ReadonlySignal<readonly NoteRow[]> = this.derive(() => this.#rows());
  /** Changes the server refused, oldest first. */
  readonly failed: ReadonlySignal<readonly FailedChange[]> = this.#failed;
  /** The last refusal or conflict, for a short notice. */
  readonly notice = this.state('');
  /** What stops changes from reaching the server, in plain words ('' when nothing does). */
  readonly problem: ReadonlySignal<string> = this.derive(() => this.#problem());
  /**
   * The browser cleared this site's data under this tab: it stores and sends nothing more until
   * it is reloaded.
   */
  readonly stopped: ReadonlySignal<boolean> = this.derive(() => this.#lost.value?.when === 'while-running');

  /** @param notes - the `notes` collection (main.ts registers it) */
  constructor(notes: Collection<Note>, app?: App) {
    super(app);
    this.#notes = notes;
    // Remember what was unsent: once the storage is lost, the outbox forgets it (pendingCount 0).
    this.effect(() => {
      const count = this.#sync.pendingCount.value;
      if (this.#lost.peek()?.when !== 'while-running') this.#unsent = count;
    });
    // List the refused changes again whenever their number changes (here or in another tab).
    this.effect(() => {
      this.#sync.failedCount.value;
      this.#listing = this.#listing
        .then(async () => {
          this.#failed.value = (await this.#sync.failed()).map((operation) => this.#describe(operation));
        })
        .catch((error: unknown) => console.warn('Could not list the refused changes.', error));
    });
    this.own(
      this.#sync.on('failed', ({ operation, error }) => {
        // 404, 410, 412: a conflict with another device, which the collection settles (below).
        if (error.status === 404 || error.status === 410 || error.status === 412) return;
        const change = this.#describe(operation, error);
        this.tell(`${change.label} was refused (${change.reason}) and undone. Retry or discard it below.`);
      }),
    );
    this.own(notes.on('conflict', (conflict) => this.#conflict(conflict)));
  }

  /** A change of this device met another device's: say what was kept. */
  #conflict({ local, server }: ConflictEvent<Note>): void {
    if (server === null)
      this.tell(
        `“${local?.title ?? 'A note'}” was deleted on another device, so your change to it was dropped.`,
      );
    else if (local === null)
      this.tell(`“${server.title}” was changed on another device after you deleted it, so it was kept.`);
    else
      this.tell(
        `“${server.title}” was also changed on another device; the newer change to each field was kept.`,
      );
  }

  /** Add a line to the notice: each thing that happened (two conflicts in one pull) stays until dismissed. */
  tell(text: string): void {
    const shown = this.notice.peek();
    if (!shown.split('\n').includes(text)) this.notice.value = shown ? `${shown}\n${text}` : text;
  }

  // ——— actions (called by the UI) ———

  /** Create a note: shown at once, in the outbox (durable) when this resolves. */
  async create(fields: Fields): Promise<void> {
    await this.#notes.insert(fields);
  }

  /**
   * Change a note: pass only the fields the user changed. Each field keeps the latest change from
   * any device, so sending an untouched field would undo another device's change to it.
   */
  async update(id: string, fields: Partial<Fields>): Promise<void> {
    await this.#notes.update(id, fields);
  }

  /** Delete a note: shown as "deleting…" until the server has answered. */
  async remove(id: string): Promise<void> {
    await this.#notes.remove(id);
  }

  /** Send refused changes again (all of them without an id). */
  async retry(id?: string): Promise<void> {
    await this.#sync.retry(id);
  }

  /**
   * Send again after a pause: the server answered 401 (a real app signs the user in again
   * first, so that its `headers` option sends the new credentials), or `sync.pause()`.
   */
  resume(): void {
    this.#sync.resume();
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

  // ——— internals ———

  #rows(): NoteRow[] {
    const pending = this.#notes.pending.value;
    const rows: NoteRow[] = this.#notes.items.value.map((note) => ({
      id: note.id,
      title: note.title,
      body: note.body,
      state: pending.has(note.id) ? 'saving' : 'saved',
    }));
    for (const [id, { removed }] of pending) {
      if (removed) rows.push({ id, title: removed.title, body: removed.body, state: 'deleting' });
    }
    // Newest first: notes the server has not created yet (last made first), then by server id.
    const order = [...pending.keys()];
    const isNew = (id: string) => pending.has(id) && pending.get(id)?.confirmed === undefined;
    return rows.sort((a, b) => {
      const fresh = Number(isNew(b.id)) - Number(isNew(a.id));
      if (fresh !== 0 || isNew(a.id)) return fresh || order.indexOf(b.id) - order.indexOf(a.id);
      return b.id.length - a.id.length || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
    });
  }

  #describe(operation: Operation | UnreadableOperation, error = operation.lastError): FailedChange {
    if ('unreadable' in operation) {
      return { id: operation.id, label: 'A change that cannot be read', reason: operation.lastError.message };
    }
    const id = rowIdOf(operation) ?? '';
    const body = (operation.body ?? {}) as Partial<Fields>;
    const title = body.title ?? this.#notes.get(id).peek()?.title ?? id;
    return {
      id: operation.id,
      label: `${kindNames[operation.kind ?? ''] ?? 'Change'} “${title}”`,
      reason: reason(error),
    };
  }

  #problem(): string {
    const error = this.#sync.lastError.value;
    const pull = this.#notes.lastError.value;
    const cause = (pull?.cause as { code?: unknown } | undefined)?.code;
    if (this.stopped.value) {
      const n = this.#unsent;
      const lost = n
        ? `${n} unsent ${n === 1 ? 'change was' : 'changes were'} lost`
        : 'any unsent changes were lost';
      return `The browser cleared this site's data; ${lost}. Reload this tab.`;
    }
    if (error?.code === 'sync/storage-lost')
      return "The browser cleared this site's data since you were last here: changes that were not sent by then are lost.";
    // Storage full: neither the server's fault nor the network's.
    if (error?.code === 'sync/storage-failed' || cause === 'storage/quota-exceeded')
      return 'This device is out of storage space (or its storage failed): free some space, or the latest changes and notes cannot be kept here.';
    const unreachable =
      "Can't reach the server — your changes are saved on this device and will be sent when it's back.";
    if (!this.#online.value) return unreachable;
    const status = this.#sync.status.value;
    if (status === 'paused')
      return error?.status === 401
        ? 'The server asked to sign in again (HTTP 401): sending is paused. Your changes are saved on this device; once signed in, press Resume sending.'
        : 'Sending is paused. Your changes are saved on this device; press Resume sending to send them.';
    if (error && status === 'error') {
      if (error.code === 'sync/network-error' || error.code === 'sync/timeout') return unreachable;
      return `The server could not take your changes (${reason(error)}). They are saved on this device and will be sent again shortly.`;
    }
    if (pull?.code === 'collections/pull-failed')
      return pull.status
        ? `Could not get the latest notes from the server (HTTP ${pull.status}); showing the ones saved on this device.`
        : "Can't reach the server to get the latest notes; showing the ones saved on this device.";
    // A clock far ahead (another device's, or the server's): the notes still arrived. Only a hint
    // for whoever looks at the console (the collection logs it), not a problem to show.
    if (pull && pull.code !== 'collections/clock-skew')
      return pull.message || `Could not get the latest notes (${pull.code}).`; // no prose in production builds
    return '';
  }
}

/** The row a notes operation changes (the collection keeps it in `meta.id`). */
function rowIdOf(operation: Operation | UnreadableOperation): string | undefined {
  if ('unreadable' in operation || !operation.kind?.startsWith('notes.')) return undefined;
  const id = (operation.meta as { id?: unknown } | undefined)?.id;
  return typeof id === 'string' ? id : undefined;
}

function reason(error: OperationError | undefined): string {
  if (error?.status === 404 || error?.status === 410) return 'the note was deleted elsewhere';
  if (error?.status === 412) return 'the note was changed elsewhere';
  // The reference server's refusals say why in `{ error: <code> }` (docs/server-contract.md).
  if ((error?.body as { error?: unknown } | undefined)?.error === 'clock-ahead')
    return "this device's clock is more than 5 minutes fast: set it right, then retry";
  // (The message is empty in production builds: the code says it there.)
  return error?.status ? `HTTP ${error.status}` : error?.message || error?.code || 'unknown error';
}
