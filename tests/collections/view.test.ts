import { effect } from '@preact/signals-core';
import { describe, expect, it } from 'vitest';
import { type Change, RowView } from '../../src/plugins/collections/view.js';

type Note = { id: string; title: string; version?: number };
const change = (opId: string | undefined, type: Change['type'], id: string, data?: object): Change => ({
  opId,
  type,
  id,
  callOrder: 0,
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
      view.watchRow('a').value;
      rowRuns++;
    });
    view.setChanges([{ ...update }]); // the outbox listed again: the same change
    view.confirmRows([{ id: 'a', title: 'a2', version: 2 }], []); // the answer, equal to what is shown
    view.dropChanges(() => true); // settled
    expect(view.shownRow('a')).toBe(shown);
    expect(view.confirmedRow('a')).toBe(shown);
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
    const temp = view.watchRow('tmp_1');
    view.addAlias('tmp_1', 'n_3');
    expect(temp.value).toEqual({ id: 'n_3', title: 'newer' });
    view.confirmRows([{ id: 'n_3', title: 'new' }], []);
    expect(view.items.value.map((row) => row.id)).toEqual(['n_3', 'n_10']);
    expect(view.changeCount.value).toBe(3);
    const deleted = view.watchRow('n_10');
    expect(deleted.value).toEqual({ id: 'n_10', title: 'x' });
    view.confirmRows([], ['n_10']); // deleted on the server
    expect(deleted.value).toBeUndefined();
    expect(view.items.value.map((row) => row.id)).toEqual(['n_3']);
  });
});

describe('RowView: one change costs the changes of its row, not all pending ones', () => {
  /** A change whose `data` counts its reads (each time a row is computed from it). */
  const counted = (reads: { n: number }, made: Change): Change => {
    const { data } = made;
    return Object.defineProperty(made, 'data', {
      enumerable: true,
      get: () => {
        reads.n++;
        return data;
      },
    });
  };

  it('computes again only the rows a change, a drop, an alias or a confirmed row touches', () => {
    const view = new RowView<Note>('id');
    view.confirmRows(
      Array.from({ length: 50 }, (_, n) => ({ id: `n_${n}`, title: `${n}` })),
      [],
    );
    const reads = { n: 0 };
    for (let n = 0; n < 50; n++)
      view.addChange(counted(reads, change(`op${n}`, 'update', `n_${n}`, { title: 'x' })));
    for (let n = 0; n < 50; n++)
      view.addChange(counted(reads, change(undefined, 'insert', `tmp_${n}`, { title: `new ${n}` })));
    expect(view.changeCount.value).toBe(100);
    reads.n = 0;
    view.addChange(counted(reads, change(undefined, 'update', 'n_7', { title: 'y' })));
    expect(reads.n).toBe(2); // n_7's two changes, not the 101 pending
    reads.n = 0;
    view.dropChanges((made) => made.opId === 'op3');
    expect(reads.n).toBe(0); // n_3 has no change left
    view.addAlias('tmp_4', 'n_104');
    expect(reads.n).toBe(1);
    view.confirmRows([{ id: 'n_8', title: 'server' }], []);
    expect(reads.n).toBe(2);
    expect(view.changeCount.value).toBe(100);
    expect(view.shownRow('n_8')).toEqual({ id: 'n_8', title: 'x' });
    expect(view.shownRow('n_3')).toEqual({ id: 'n_3', title: '3' });
    expect(view.shownRow('n_104')).toEqual({ id: 'n_104', title: 'new 4' });
  });

  it('keeps the pending entries and the rows of the rows a change does not touch', () => {
    const view = new RowView<Note>('id');
    view.confirmRows(
      [
        { id: 'a', title: 'a' },
        { id: 'b', title: 'b' },
      ],
      [],
    );
    view.addChange(change('op1', 'update', 'a', { title: 'a2' }));
    view.addChange(change('op2', 'remove', 'b'));
    view.addChange(change(undefined, 'insert', 'tmp_1', { title: 'c' }));
    const before = view.pending.value;
    const rowB = view.watchRow('b');
    const rowTmp = view.watchRow('tmp_1');
    const [entryA, entryB, entryTmp] = [...before.values()];
    view.addChange(change(undefined, 'update', 'a', { title: 'a3' }));
    const after = view.pending.value;
    expect([...after.keys()]).toEqual(['a', 'b', 'tmp_1']);
    expect(after.get('a')?.row?.title).toBe('a3');
    expect(after.get('a')).not.toBe(entryA);
    expect(after.get('b')).toBe(entryB);
    expect(after.get('tmp_1')).toBe(entryTmp);
    expect(rowB.value).toBeUndefined();
    expect(rowTmp.value).toBe(entryTmp?.row);
    // Listed again with the same content: the same map.
    view.setChanges(view.changeList.map((made) => ({ ...made })));
    expect(view.pending.value).toBe(after);
  });
});
