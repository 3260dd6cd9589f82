// The DOM: a status bar bound to the Sync and Connectivity signals, a form, the notes, and the
// list of refused changes. Plain DOM; each binding re-runs when a signal it reads changes.
import { effect, signal } from 'fluxy';
import type { ConnectivityPlugin } from 'fluxy/connectivity';
import { bindAttr, bindClass, bindText } from 'fluxy/dom';
import type { SyncPlugin } from 'fluxy/sync';
import type { NoteRow, NotesController } from './notes-controller.js';

type Fields = { title: string; body: string };

/** The edit form of the note being edited. */
interface Editor {
  row: HTMLElement;
  /** The note is being deleted in another tab: say so, and do not save meanwhile. */
  deleting(on: boolean): void;
  /** What was typed, if it differs from the note as the form opened with it. */
  typed(): Fields | null;
}

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

  const newTitle = $<HTMLInputElement>('new-note-title');
  const newBody = $<HTMLTextAreaElement>('new-note-body');

  // ——— status bar ———
  const online = connectivity.isOnline;
  const bar = $('status-bar');
  bindAttr(bar, 'data-status', sync.status);
  // What the bar's colour says: offline (amber), a change refused (red, until retried or
  // discarded), syncing, retrying, or all good (green).
  bindAttr(bar, 'data-state', () => {
    if (notes.stopped.value) return 'error';
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
    if (notes.stopped.value) return 'Stopped: reload this tab'; // (its outbox is gone: nothing to retry)
    if (!online.value) text = pending ? `Offline: ${items(pending)} will sync when back online` : 'Offline';
    else if (sync.status.value === 'paused') text = 'Paused';
    else if (sync.isSyncing.value) text = `Syncing ${items(pending)}…`;
    else if (sync.status.value === 'error') text = `Retrying ${items(pending)} soon`;
    else if (pending) text = `${pending} pending`;
    else if (failed) return refused;
    return failed ? `${text} · ${refused}` : text;
  });
  bindAttr($('refused-actions'), 'hidden', () => sync.failedCount.value === 0);
  // Paused (the server answered 401, or sync.pause()): the one way on, without a reload.
  bindAttr($('resume'), 'hidden', () => sync.status.value !== 'paused');
  $('resume').addEventListener('click', () => void run(() => notes.resume()));
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
  // The notice (a refusal, a conflict) stays until dismissed; it is in a live region, so screen
  // readers announce it too.
  bindText($('notice'), notes.notice);
  bindAttr($('notice-box'), 'hidden', () => !notes.notice.value);
  $('dismiss-notice').addEventListener('click', () => {
    notes.notice.value = '';
    $('new-note-title').focus(); // the button is gone: keep the keyboard focus on the page
  });
  // What was typed into a note that was deleted meanwhile: Restore puts it in the new-note form.
  const draft = signal<Fields | null>(null);
  effect(() => {
    if (!notes.notice.value) draft.value = null; // dismissed
  });
  bindAttr($('restore-draft'), 'hidden', () => !draft.value);
  $('restore-draft').addEventListener('click', () => {
    const { title, body } = draft.peek() ?? { title: '', body: '' };
    [newTitle.value, newBody.value] = [title, body];
    notes.notice.value = '';
    newTitle.focus();
  });

  // ——— new note ———
  const form = $<HTMLFormElement>('new-note-form');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const title = String(data.get('title') ?? '').trim();
    if (!needsTitle(newTitle, title)) return;
    form.reset();
    void run(() => notes.create({ title, body: String(data.get('body') ?? '') }));
  });

  // ——— notes ———
  // Rows are kept per note and replaced only when what they show changes, so a change elsewhere
  // (a pull, another tab, the outbox) neither moves the keyboard focus nor disturbs an edit.
  const editing = signal<string | null>(null);
  let editor: Editor | null = null; // the edit form of the note being edited, while it is
  let edited: NoteRow | null = null; // that note as it was last shown
  let rendered = new Map<string, { key: string; node: HTMLElement }>();
  const list = $('notes-list');
  bindAttr($('empty'), 'hidden', () => notes.notes.value.length > 0);
  effect(() => {
    // The id being edited may have been a temporary one that the server's id replaced since.
    const editId = editing.value === null ? null : notes.resolve(editing.value);
    const next = new Map<string, { key: string; node: HTMLElement }>();
    let editorShown = false;
    for (const note of notes.notes.value) {
      // (A note being deleted in another tab keeps its form open: the deletion may be refused.)
      const isEdited = note.id === editId && editor !== null;
      if (isEdited && editor) {
        [editorShown, edited] = [true, note];
        editor.deleting(note.state === 'deleting');
      }
      const key = isEdited ? 'editing' : JSON.stringify([note.state, note.title, note.body]);
      let entry = rendered.get(note.id);
      if (entry?.key !== key) {
        const node = isEdited && editor ? editor.row : noteRow(note);
        if (entry) keepFocus(entry.node, node);
        entry = { key, node };
      }
      entry.node.dataset.key = note.id;
      next.set(note.id, entry);
    }
    for (const [id, { node }] of rendered) if (next.get(id)?.node !== node) node.remove();
    // In order, moving only the rows that are out of place (a moved row loses the focus).
    let cursor = list.firstElementChild;
    for (const { node } of next.values()) {
      if (node === cursor) cursor = cursor.nextElementSibling;
      else list.insertBefore(node, cursor);
    }
    rendered = next;
    if (editor !== null && !editorShown) {
      // The note is gone while it was being edited: say so, and keep what was typed. Shown as
      // "deleting…" last, it was deleted in another tab (this tab cannot while editing it);
      // otherwise the app cannot tell where. (A pending change of it that lost to the deletion
      // is told by the controller's conflict notice.)
      const [lost, typed] = [edited, editor.typed()];
      editor = null;
      queueMicrotask(() => {
        editing.value = null;
        if (lost?.state === 'saving' && !typed) return;
        const where = lost?.state === 'deleting' ? 'in another tab' : 'elsewhere';
        const kept = typed ? ' What you typed is kept: Restore puts it in the new-note form.' : '';
        notes.tell(`“${lost?.title ?? 'A note'}” was deleted ${where} while you were editing it.${kept}`);
        draft.value = typed ?? draft.peek();
      });
    }
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
      button('Edit', 'edit-note', () => startEditing(note), `Edit “${note.title}”`),
      button('Delete', 'delete-note', () => remove(row, note.id), `Delete “${note.title}”`),
    );
    return row;
  }

  /** Delete a note; the keyboard focus moves on to the next note (or the one before, or the form). */
  async function remove(row: HTMLElement, id: string): Promise<void> {
    const rows = [...list.children];
    const at = rows.indexOf(row);
    const others = [...rows.slice(at + 1), ...rows.slice(0, at).reverse()];
    const keys = others.map((other) => (other as HTMLElement).dataset.key ?? '');
    await run(() => notes.remove(id));
    if (doc.activeElement !== doc.body && doc.activeElement !== null) return; // it stayed or moved on
    const edit = (key: string) =>
      list.querySelector<HTMLElement>(`[data-key="${CSS.escape(key)}"] [data-testid="edit-note"]`);
    const next = keys.map(edit).find((button) => button !== null);
    (next ?? newTitle).focus();
  }

  /** The edit form: Enter (in the title) saves, Escape cancels; only the fields changed are sent. */
  function startEditing(note: NoteRow): void {
    const before = { title: note.title, body: note.body };
    const form = element('form', { class: 'edit-form', 'aria-label': `Edit “${note.title}”` });
    const title = element('input', {
      'data-testid': 'edit-title',
      'aria-label': 'Title',
      value: note.title,
      maxlength: '200',
      required: '',
    });
    const body = element('textarea', { 'data-testid': 'edit-body', 'aria-label': 'Note' }, note.body);
    const stop = () => {
      const id = editing.value === null ? note.id : notes.resolve(editing.value);
      editor = null;
      editing.value = null;
      list.querySelector<HTMLElement>(`[data-key="${CSS.escape(id)}"] [data-testid="edit-note"]`)?.focus();
    };
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const fields = { title: title.value.trim(), body: body.value };
      if (!needsTitle(title, fields.title)) return;
      // A patch of what was changed here: a field another device changed meanwhile is left to it.
      const patch: Partial<typeof fields> = {};
      if (fields.title !== before.title) patch.title = fields.title;
      if (fields.body !== before.body) patch.body = fields.body;
      const id = editing.value ?? note.id;
      stop();
      if (Object.keys(patch).length > 0) void run(() => notes.update(id, patch));
    });
    form.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') stop();
    });
    const save = element('button', { type: 'submit', 'data-testid': 'save-note' }, 'Save');
    const hint = element(
      'p',
      { class: 'hint', 'data-testid': 'edit-hint', hidden: '' },
      'This note is being deleted in another tab: saving waits for the server to take or refuse that; what you typed is kept either way.',
    );
    form.append(title, body, hint, save, button('Cancel', 'cancel-edit', stop));
    const row = element('li', { class: 'note editing', 'data-testid': 'note', 'data-key': note.id });
    row.append(form);
    editor = {
      row,
      deleting(on) {
        hint.hidden = !on;
        save.disabled = on;
      },
      typed() {
        const now = { title: title.value, body: body.value };
        return now.title === before.title && now.body === before.body ? null : now;
      },
    };
    editing.value = note.id;
    title.focus();
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
          button('Retry', 'retry-op', () => run(() => notes.retry(change.id)), `Retry: ${change.label}`),
          button(
            'Discard',
            'discard-op',
            () => run(() => notes.discard(change.id)),
            `Discard: ${change.label}`,
          ),
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
      notes.tell(`That did not work: ${error instanceof Error ? error.message : String(error)}`);
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

/** A title of only spaces is no title: say so where the user typed it. */
function needsTitle(input: HTMLInputElement, title: string): boolean {
  input.setCustomValidity(title ? '' : 'A note needs a title.');
  if (!title) {
    input.reportValidity();
    input.addEventListener('input', () => input.setCustomValidity(''), { once: true });
  }
  return title !== '';
}

/** When a row is replaced, the control that had the focus in it passes it to its counterpart. */
function keepFocus(from: HTMLElement, to: HTMLElement): void {
  const focused = from.ownerDocument.activeElement;
  if (!(focused instanceof HTMLElement) || !from.contains(focused) || from === to) return;
  const testId = focused.dataset.testid;
  // After the caller has put the new row in place.
  queueMicrotask(() => to.querySelector<HTMLElement>(`[data-testid="${testId}"]`)?.focus());
}

function button(
  label: string,
  testId: string,
  onClick: () => unknown,
  ariaLabel?: string,
): HTMLButtonElement {
  const node = element(
    'button',
    {
      type: 'button',
      'data-testid': testId,
      ...(ariaLabel ? { 'aria-label': ariaLabel } : {}),
    },
    label,
  );
  node.addEventListener('click', () => void onClick());
  return node;
}
