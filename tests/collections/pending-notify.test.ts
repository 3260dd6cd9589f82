// `pending` notifies only when a pending row changes, not at every change of the outbox.
import { effect } from '@preact/signals-core';
import { expect, it, onTestFinished } from 'vitest';
import { idle, referenceServer, startDevice, until } from './harness.js';

it('pending notifies only when a pending row changes, not at every outbox change', async () => {
  const server = await referenceServer();
  const device = await startDevice({ server });
  let runs = 0;
  onTestFinished(
    effect(() => {
      device.notes.pending.value;
      runs++;
    }),
  );
  await device.notes.insert({ title: 'a', body: '' });
  await until(() => device.notes.unconfirmed.value === 0, 'the insert to be confirmed');
  expect(runs).toBe(3); // at start, the insert shown, its answer
  for (let n = 0; n < 5; n++) await device.sync.queue('POST', '/other', { body: { n } });
  await idle(device);
  await device.notes.pull();
  expect(runs).toBe(3);
  // A pending row that changes still notifies: offline, an update, then another of the same row.
  device.connectivity.setOnline(false);
  const [row] = device.notes.items.value;
  await device.notes.update(row?.id as string, { title: 'b' });
  expect(runs).toBe(4);
  await device.notes.update(row?.id as string, { title: 'c' });
  expect(runs).toBe(5);
  expect(device.notes.pending.value.get(row?.id as string)?.row?.title).toBe('c');
  await device.sync.queue('POST', '/other', { body: { n: 6 } }); // unrelated, while offline
  expect(runs).toBe(5);
});
