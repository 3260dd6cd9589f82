// A review of fluxy/collections (session 16): the defects left open last session, and what a
// new user trying the acceptance list found. Each finding failed before its fix.
import { effect } from '@preact/signals-core';
import { describe, expect, it } from 'vitest';
import { isFluxyError } from '../../src/core/errors.js';
import {
  type Note,
  referenceServer,
  serverNotes,
  serverWrite,
  startDevice,
  titles,
  until,
} from './harness.js';

describe('review s16: every public call after dispose()', () => {
  it('refuses with app/disposed whatever its arguments, and changes nothing', async () => {
    const server = await referenceServer();
    const note = (await serverWrite(server, 'POST', '/api/notes', { title: 'orig' })).body as Note;
    const device = await startDevice({ server });
    await device.notes.pull();
    await device.dispose();
    const seen: string[][] = [];
    const stop = effect(() => {
      seen.push(titles(device.notes.items.value));
    });
    const notes = device.notes as unknown as Record<string, (...args: unknown[]) => unknown>;
    const calls: Array<[string, unknown[]]> = [
      ['update', ['no-such-row', { title: 'x' }]],
      ['update', [note.id, { title: 'x' }]],
      ['update', [note.id, {}]],
      ['update', [note.id, { title: Number.NaN }]],
      ['update', ['', { title: 'x' }]],
      ['update', [note.id, { id: 'other' }]],
      ['remove', ['no-such-row']],
      ['remove', [note.id]],
      ['remove', [42]],
      ['insert', [{ title: 'new' }]],
      ['insert', [{ id: 'mine', title: 'new' }]],
      ['insert', ['not an object']],
      ['insert', [{ title: () => 1 }]],
      ['get', [note.id]],
      ['get', ['no-such-row']],
      ['get', [undefined]],
      ['pull', []],
      ['on', ['conflict', () => {}]],
      ['on', ['nope', () => {}]],
    ];
    const codes = [];
    for (const [method, args] of calls)
      codes.push(`${method} ${await outcome(() => (notes[method] as Function).apply(notes, args))}`);
    expect(codes).toEqual(calls.map(([method]) => `${method} app/disposed`));
    stop();
    expect(seen).toEqual([['orig']]);
    expect(device.notes.unconfirmed.value).toBe(0);
  });
});

/** The code of the FluxyError `action` throws or rejects with; 'ok' when it does not, or what else it threw. */
async function outcome(action: () => unknown): Promise<string> {
  try {
    await action();
    return 'ok';
  } catch (error) {
    return isFluxyError(error) ? error.code : String(error);
  }
}

describe('review s16: the clientIdField is Fluxy’s', () => {
  it('an insert that sets it is refused (collections/invalid-row), changing nothing; Fluxy sends the temporary id', async () => {
    const server = await referenceServer();
    const device = await startDevice({ server, online: false, collection: { clientIdField: 'clientId' } });
    const shown = device.notes.items.value;
    // It was overwritten with the temporary id without a word.
    for (const clientId of ['mine', null, 7])
      expect(await outcome(() => device.notes.insert({ title: 'x', clientId }))).toBe(
        'collections/invalid-row',
      );
    expect(device.notes.items.value).toBe(shown);
    expect(device.sync.pendingCount.value).toBe(0);
    const row = await device.notes.insert({ title: 'kept' });
    expect(row.clientId).toBe(row.id);
    device.connectivity.setOnline(true);
    await until(() => device.sync.pendingCount.value === 0, 'the insert to be sent');
    const [stored] = await serverNotes(server);
    expect(stored).toMatchObject({ title: 'kept', clientId: row.id });
  });

  it('without the option, the field is the app’s: sent as given', async () => {
    const server = await referenceServer();
    const device = await startDevice({ server });
    await device.notes.insert({ title: 'x', clientId: 'mine' });
    await until(() => device.sync.pendingCount.value === 0, 'the insert to be sent');
    expect((await serverNotes(server))[0]).toMatchObject({ clientId: 'mine' });
  });
});
