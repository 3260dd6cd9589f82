// A fresh-eyes review of fluxy/collections (session 13): what an app author meets at the edges —
// restarts between steps, pulls cut off, the signals a UI shows.
import { describe, expect, it } from 'vitest';
import { faults, referenceServer, serverNotes, serverWrite, startDevice } from './harness.js';

describe('review s13: lastPulledAt', () => {
  it('keeps the last complete pull across a restart after a pull cut off mid-way', async () => {
    const server = await referenceServer({ feedPageSize: 2 });
    const device = await startDevice({ server });
    await device.notes.pull();
    const pulledAt = device.notes.lastPulledAt.value;
    expect(pulledAt).not.toBeNull();
    for (let n = 0; n < 6; n++) await serverWrite(server, 'POST', '/api/notes', { title: `n${n}` });
    await faults(server, ['ok', { status: 503 }]); // page 1 comes (and is stored), page 2 fails
    await expect(device.notes.pull()).rejects.toMatchObject({ code: 'collections/pull-failed' });
    expect(device.notes.items.value).toHaveLength(2);
    expect(device.notes.lastPulledAt.value).toBe(pulledAt);
    await device.dispose();
    const again = await startDevice({ server, disk: device.disk, online: false });
    expect(again.notes.items.value).toHaveLength(2);
    // It said null ("never pulled"): the cut pull's page was stored without it.
    expect(again.notes.lastPulledAt.value).toBe(pulledAt);
    again.connectivity.setOnline(true);
    await again.notes.pull();
    expect(again.notes.items.value).toEqual(await serverNotes(server));
    expect(again.notes.lastPulledAt.value).toBeGreaterThanOrEqual(pulledAt as number);
  });
});
