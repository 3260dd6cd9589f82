import { effect } from '@preact/signals-core';
import { describe, expect, it } from 'vitest';
import { type Change, RowView } from '../../src/plugins/collections/view.js';

type Note = { id: string; title: string; version?: number };
const change = (opId: string | undefined, type: Change['type'], id: string, data?: object): Change => ({
  opId,
  type,
  id,
  seq: 0,
  ...(data ? { data: data as Record<string, unknown> } : {}),
});

describe('RowView', () => {
  it('keeps the object shown when a row does not change: answered equal, listed again, confirmed again', () => {
    const view = new RowView<Note>('id');
    view.confirmRows([{ id: 'a', title: 'a', version: 1 }], []);
    const update = change('op1', 'update', 'a', { title: 'a2', version: 2 });
    view.addChange(update);
    const shown = view.shownRow('a');
    expect(shown).toEqual({ id: 'a', title: 'a2', version: 2 });
    expect(view.pending.value.get('a')?.row).toBe(shown); // pending's row is the row shown
    let itemRuns = 0;
    let rowRuns = 0;
    const stop = effect(() => {
      view.items.value;
      itemRuns++;
    });
    const stopRow = effect(() => {
      view.row('a').value;
      rowRuns++;
    });
    view.setChanges([{ ...update }]); // the outbox listed again: the same change
    view.confirmRows([{ id: 'a', title: 'a2', version: 2 }], []); // the answer, equal to what is shown
    view.dropChanges(() => true); // settled
    expect(view.shownRow('a')).toBe(shown);
    expect(view.confirmed('a')).toBe(shown);
    view.confirmRows([{ id: 'a', title: 'a2', version: 2 }], []); // pulled again
    expect(view.shownRow('a')).toBe(shown);
    expect([itemRuns, rowRuns]).toEqual([1, 1]);
    view.confirmRows([{ id: 'a', title: 'a3', version: 3 }], []);
    expect([itemRuns, rowRuns]).toEqual([2, 2]);
    stop();
    stopRow();
  });

  it('shows pending inserts after the confirmed rows, resolves temporary ids, and drops removed rows', () => {
    const view = new RowView<Note>('id');
    view.confirmRows(
      [
        { id: 'n_10', title: 'x' },
        { id: 'n_2', title: 'y' },
      ],
      [],
    );
    view.addChange(change(undefined, 'insert', 'tmp_1', { title: 'new' }));
    view.addChange(change(undefined, 'update', 'tmp_1', { title: 'newer' }));
    view.addChange(change(undefined, 'remove', 'n_2'));
    expect(view.items.value.map((row) => row.id)).toEqual(['n_10', 'tmp_1']);
    expect(view.pending.value.get('tmp_1')).toMatchObject({ type: 'insert', row: { title: 'newer' } });
    expect(view.pending.value.get('n_2')).toMatchObject({
      type: 'remove',
      row: undefined,
      removed: { title: 'y' },
    });
    const temp = view.row('tmp_1');
    view.addAlias('tmp_1', 'n_3');
    expect(temp.value).toEqual({ id: 'n_3', title: 'newer' });
    view.confirmRows([{ id: 'n_3', title: 'new' }], []);
    expect(view.items.value.map((row) => row.id)).toEqual(['n_3', 'n_10']);
    expect(view.changeCount.value).toBe(3);
    const deleted = view.row('n_10');
    expect(deleted.value).toEqual({ id: 'n_10', title: 'x' });
    view.confirmRows([], ['n_10']); // deleted on the server
    expect(deleted.value).toBeUndefined();
    expect(view.items.value.map((row) => row.id)).toEqual(['n_3']);
  });
});
