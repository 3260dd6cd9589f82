// The signal of one row (`get(id)`) is released once nothing watches it: the view does not keep a
// signal for every id ever asked for. The row signals the view makes are seen through its `signal`.
import { effect, type Signal } from '@preact/signals-core';
import { describe, expect, it, vi } from 'vitest';
import { RowView } from '../../src/plugins/collections/view.js';

const made = vi.hoisted(() => ({ on: false, signals: [] as Array<Signal<unknown>> }));
vi.mock('../../src/plugins/collections/deps.js', async (importOriginal) => {
  const deps = await importOriginal<typeof import('../../src/plugins/collections/deps.js')>();
  const signal = ((...args: Parameters<typeof deps.signal>) => {
    const created = deps.signal(...args);
    if (made.on) made.signals.push(created as Signal<unknown>);
    return created;
  }) as typeof deps.signal;
  return { ...deps, signal };
});

type Note = { id: string; title: string };

/** A view of `count` rows, and the row signals made while `watch()` runs. */
function rowsView(count: number) {
  const view = new RowView<Note>('id');
  const rows = Array.from({ length: count }, (_, n) => ({ id: `n_${n}`, title: 'first' }));
  view.confirmRows(rows, []);
  made.signals = [];
  const watch = <T>(run: () => T): T => {
    made.on = true;
    try {
      return run();
    } finally {
      made.on = false;
    }
  };
  const changeAll = (title: string) =>
    view.confirmRows(
      rows.map((row) => ({ ...row, title })),
      [],
    );
  return { view, rows, watch, changeAll };
}

/** The row signals that hold a row titled `title` (a signal kept by the view is set at each change). */
const holding = (title: string) =>
  made.signals.filter((rowSignal) => (rowSignal.peek() as Note | undefined)?.title === title).length;

describe('get(id) signals are released when nothing watches them', () => {
  it('keeps a signal only for the rows still watched', () => {
    const { view, rows, watch, changeAll } = rowsView(1000);
    const stops = watch(() => rows.map(({ id }) => effect(() => void view.watchRow(id).value)));
    expect(made.signals).toHaveLength(1000);
    for (const stop of stops.slice(10)) stop();
    changeAll('second');
    // Before: the view kept (and set) all 1,000.
    expect(holding('second')).toBe(10);
    for (const stop of stops.slice(0, 10)) stop();
    changeAll('third');
    expect(holding('third')).toBe(0);
  });

  it('a get() signal watched again, or read with nothing watching, still shows its row', () => {
    const { view, watch } = rowsView(1);
    const row = view.watchRow('n_0');
    const seen: Array<string | undefined> = [];
    let stop = watch(() => effect(() => void seen.push(row.value?.title)));
    stop();
    view.confirmRows([{ id: 'n_0', title: 'second' }], []);
    expect(row.value?.title).toBe('second'); // read, not watched
    stop = effect(() => void seen.push(row.value?.title));
    view.confirmRows([{ id: 'n_0', title: 'third' }], []);
    expect(seen).toEqual(['first', 'second', 'third']);
    // Read by a signal nobody watches while another one watched the row, then released.
    const reader = view.watchRow('n_0');
    expect(reader.value?.title).toBe('third');
    stop();
    view.confirmRows([{ id: 'n_0', title: 'fourth' }], []);
    expect(reader.value?.title).toBe('fourth');
    expect(row.value?.title).toBe('fourth');
  });

  it('notifies only when its row changes, and follows a temporary id replaced, once released and watched again', () => {
    const { view } = rowsView(3);
    view.addChange({ type: 'insert', id: 'tmp_1', data: { title: 'new' }, callOrder: 1 });
    const row = view.watchRow('tmp_1');
    let runs = 0;
    effect(() => void view.watchRow('n_1').value)(); // watched once, released
    const stop = effect(() => {
      row.value;
      runs++;
    });
    view.confirmRows([{ id: 'n_1', title: 'other' }], []);
    expect(runs).toBe(1);
    view.addAlias('tmp_1', 'n_9');
    expect(row.value).toEqual({ id: 'n_9', title: 'new' });
    view.confirmRows([{ id: 'n_9', title: 'server' }], []);
    expect(row.value).toEqual({ id: 'n_9', title: 'new' }); // the insert still pending on top
    view.dropChanges(() => true);
    expect(row.value).toEqual({ id: 'n_9', title: 'server' });
    expect(runs).toBe(3);
    stop();
  });
});
