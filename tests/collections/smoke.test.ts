import { describe, expect, it } from 'vitest';
import { referenceServer, serverNotes, startDevice, until } from './harness.js';

describe('smoke', () => {
  it('insert, update, pull', async () => {
    const server = await referenceServer();
    const a = await startDevice({ server });
    const row = await a.notes.insert({ title: 'one' });
    expect(a.notes.items.value.map((n) => n.title)).toEqual(['one']);
    await a.notes.update(row.id, { title: 'two' });
    await a.sync.flush();
    await until(() => a.sync.pendingCount.value === 0, 'sent');
    expect(a.notes.items.value).toEqual(await serverNotes(server));
    const b = await startDevice({ server });
    await b.notes.pull();
    expect(b.notes.items.value).toEqual(await serverNotes(server));
  });
});
