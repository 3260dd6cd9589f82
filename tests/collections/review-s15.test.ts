// A review of fluxy/collections (session 15): the defects left open last session, and what a
// skeptical user found. Each finding failed before its fix.
import { describe, expect, it } from 'vitest';
import { code, type Note, referenceServer, startDevice } from './harness.js';

describe('review s15: fields given by their own toJSON()', () => {
  it('takes a toJSON() that returns a plain object of several fields, as the outbox takes it', async () => {
    const server = await referenceServer();
    const device = await startDevice({ server, online: false });
    // A model object: its own keys are not what it sends (one key, two fields: refused).
    const model = { toJSON: () => ({ title: 'from toJSON', body: 'b' }) };
    const row = await device.notes.insert(model as unknown as Partial<Note>);
    expect(device.notes.get(row.id).value).toMatchObject({ title: 'from toJSON', body: 'b' });
    await device.notes.update(row.id, {
      toJSON: () => ({ title: 'changed', body: 'c' }),
    } as unknown as Partial<Note>);
    expect(device.notes.get(row.id).value).toMatchObject({ title: 'changed', body: 'c' });
    expect(device.sync.pendingCount.value).toBe(2);
  });

  it('refuses a toJSON() whose object has a field JSON would drop (undefined), changing nothing', async () => {
    const server = await referenceServer();
    const device = await startDevice({ server, online: false });
    const row = await device.notes.insert({ title: 'kept', body: '' });
    const shown = device.notes.items.value;
    // One own key (toJSON), one field once JSON drops the undefined one: the counts matched, and
    // `body` vanished silently.
    const fields = { toJSON: () => ({ title: 'x', body: undefined }) } as unknown as Partial<Note>;
    expect(await code(device.notes.insert(fields))).toBe('collections/invalid-row');
    expect(await code(device.notes.update(row.id, fields))).toBe('collections/invalid-row');
    expect(device.notes.items.value).toBe(shown);
    expect(device.sync.pendingCount.value).toBe(1);
  });
});
