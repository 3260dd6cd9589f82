// The DOM: a status bar bound to the Sync and Connectivity signals, a form, the notes, and the
// list of refused changes. Plain DOM; each binding re-runs when a signal it reads changes.
import { effect, signal } from 'fluxy';
import type { ConnectivityPlugin } from 'fluxy/connectivity';
import { bindAttr, bindClass, bindText } from 'fluxy/dom';
import type { SyncPlugin } from 'fluxy/sync';
import type { NoteRow, NotesController } from './notes-controller.js';

interface Parts {
  notes: NotesController;
  sync: SyncPlugin;
  connectivity: ConnectivityPlugin;
}

export function mountView(doc: Document, { notes, sync, connectivity }: Parts): void {
  const $ = <T extends HTMLElement>(testId: string): T => {
    const element = doc.querySelector<T>(`[data-testid="${testId}"]`);
    if (!element) throw new Error(`index.html has no [data-testid="${testId}"]`);
    return element;
  };

  // ——— status bar ———
  const online = connectivity.isOnline;
  const bar = $('status-bar');
  bindAttr(bar, 'data-status', sync.status);
  // What the bar's colour says: offline (amber), a change refused (red, until retried or
  // discarded), syncing, retrying, or all good (green).
  bindAttr(bar, 'data-state', () => {
    if (!online.value) return 'offline';
    if (sync.failedCount.value > 0) return 'refused';
    const status = sync.status.value;
    return status === 'syncing' || status === 'error' || status === 'paused' ? status : 'ok';
  });
  bindClass(bar, 'offline', () => !online.value);
  bindText($('connection'), () => (online.value ? 'Online' : 'Offline'));
  bindText($('pending-count'), sync.pendingCount);
  bindText($('failed-count'), sync.failedCount);
  bindText($('sync-status'), () => {
    const pending = sync.pendingCount.value;
    const failed = sync.failedCount.value;
    const items = (n: number) => `${n} ${n === 1 ? 'item' : 'items'}`;
    const refused = `${failed} ${failed === 1 ? 'change was' : 'changes were'} refused`;
    let text = 'All changes synced';
    if (!online.value) text = pending ? `Offline: ${items(pending)} will sync when back online` : 'Offline';
    else if (sync.status.value === 'paused') text = 'Paused';
    else if (sync.isSyncing.value) text = `Syncing ${items(pending)}…`;
    else if (sync.status.value === 'error') text = `Retrying ${items(pending)} soon`;
    else if (pending) text = `${pending} pending`;
    else if (failed) return refused;
    return failed ? `${text} · ${refused}` : text;
  });
  bindAttr($('refused-actions'), 'hidden', () => sync.failedCount.value === 0);
  $('retry-all').addEventListener('click', () => void run(() => notes.retry()));
  $('discard-all').addEventListener('click', () => void run(() => notes.discard()));
  const progress = $<HTMLProgressElement>('sync-progress');
  bindAttr(progress, 'hidden', () => !sync.isSyncing.value);
  bindAttr(progress, 'max', () => Math.max(1, sync.progress.value.total));
  bindAttr(progress, 'value', () => sync.progress.value.done);
  // Why changes are not reaching the server, in plain words; it stays while that is true (also
  // after a reload), not only until the next render.
  const problem = $('last-error');
  bindText(problem, notes.problem);
  bindAttr(problem, 'hidden', () => !notes.problem.value);
  const notice = $('notice');
  bindText(notice, notes.notice);
  bindAttr(notice, 'hidden', () => !notes.notice.value);
  notice.addEventListener('click', () => {
    notes.notice.value = '';
  });

  // ——— new note ———
  const form = $<HTMLFormElement>('new-note-form');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const title = String(data.get('title') ?? '').trim();
    if (!title) return;
    form.reset();
    void run(() => notes.create({ title, body: String(data.get('body') ?? '') }));
  });

  // ——— notes ———
  const editing = signal<string | null>(null);
  // What is typed in the edit form survives a re-render (e.g. a change arriving from another tab).
  const draft = { title: '', body: '' };
  const list = $('notes-list');
  bindAttr($('empty'), 'hidden', () => notes.notes.value.length > 0);
  effect(() => {
    // The id being edited may have been a temporary one that the server's id replaced since.
    const editId = editing.value === null ? null : notes.resolve(editing.value);
    list.replaceChildren(
      ...notes.notes.value.map((note) =>
        note.id === editId && note.state !== 'deleting' ? editRow(note) : noteRow(note),
      ),
    );
  });

  function noteRow(note: NoteRow): HTMLElement {
    const row = element('li', {
      class: `note ${note.state}`,
      'data-testid': 'note',
      'data-key': note.id,
      'data-state': note.state,
    });
    const state =
      note.state === 'saved' ? `saved · ${note.id}` : note.state === 'saving' ? 'saving…' : 'deleting…';
    row.append(
      element('strong', { 'data-testid': 'note-title' }, note.title),
      element('p', { 'data-testid': 'note-body' }, note.body),
      element(
        'span',
        { class: `state ${note.state === 'saved' ? 'synced' : 'pending'}`, 'data-testid': 'note-state' },
        state,
      ),
    );
    if (note.state === 'deleting') return row; // nothing left to do with it here
    row.append(
      button('Edit', 'edit-note', () => {
        Object.assign(draft, { title: note.title, body: note.body });
        editing.value = note.id;
      }),
      button('Delete', 'delete-note', () => run(() => notes.remove(note.id))),
    );
    return row;
  }

  function editRow(note: NoteRow): HTMLElement {
    const row = element('li', { class: 'note editing', 'data-testid': 'note', 'data-key': note.id });
    const title = element('input', { 'data-testid': 'edit-title', value: draft.title, maxlength: '200' });
    const body = element('textarea', { 'data-testid': 'edit-body' }, draft.body);
    title.addEventListener('input', () => {
      draft.title = title.value;
    });
    body.addEventListener('input', () => {
      draft.body = body.value;
    });
    row.append(
      title,
      body,
      button('Save', 'save-note', () => {
        editing.value = null;
        return run(() =>
          notes.update(note.id, { title: title.value.trim() || note.title, body: body.value }),
        );
      }),
      button('Cancel', 'cancel-edit', () => {
        editing.value = null;
      }),
    );
    queueMicrotask(() => title.focus());
    return row;
  }

  // ——— refused changes ———
  const failedList = $('failed-list');
  bindAttr($('failed-section'), 'hidden', () => notes.failed.value.length === 0);
  effect(() => {
    failedList.replaceChildren(
      ...notes.failed.value.map((change) => {
        const row = element('li', { 'data-testid': 'failed-op', 'data-id': change.id });
        row.append(
          element('span', { class: 'label' }, change.label),
          element('span', { class: 'reason' }, change.reason),
          button('Retry', 'retry-op', () => run(() => notes.retry(change.id))),
          button('Discard', 'discard-op', () => run(() => notes.discard(change.id))),
        );
        return row;
      }),
    );
  });

  /** Run an action; show its error (e.g. storage full) instead of losing it in the console. */
  async function run(action: () => unknown): Promise<void> {
    try {
      await action();
    } catch (error) {
      notes.notice.value = `That did not work: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
}

/** Shown when the app cannot start (e.g. a wrong `?secret=` for the stored data). */
export function showFatal(doc: Document, error: unknown): void {
  const box = doc.querySelector('[data-testid="fatal"]');
  if (!box) return;
  const code = (error as { code?: unknown } | null)?.code;
  box.textContent = `The app could not start${typeof code === 'string' ? ` (${code})` : ''}: ${
    error instanceof Error ? error.message : String(error)
  }`;
  box.removeAttribute('hidden');
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string>,
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === 'value' && 'value' in node) (node as HTMLInputElement).value = value;
    else node.setAttribute(name, value);
  }
  if (text !== undefined) node.textContent = text;
  return node;
}

function button(label: string, testId: string, onClick: () => unknown): HTMLButtonElement {
  const node = element('button', { type: 'button', 'data-testid': testId }, label);
  node.addEventListener('click', () => void onClick());
  return node;
}
