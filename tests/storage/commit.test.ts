import { describe, expect, it } from 'vitest';
import { driverCases, expectCode, snapshot, storagePerTest, tempDirsPerTest } from './fixtures.js';

// storage.commit(changes): several changes committed together — what Sync uses to store an
// operation with its temporary id, and a sent operation's removal with its outcome (issue 17,
// findings 5 and 8).
const tempDir = tempDirsPerTest();
const openStorage = storagePerTest();

describe('commit(changes)', () => {
  for (const { driver, setup } of driverCases(tempDir)) {
    it(`${driver}: applies sets and removals in one go, through namespace views too`, async () => {
      const { storage } = await openStorage(await setup());
      const view = storage.namespace('sync');
      await view.set('p/1', { op: 1 });
      await view.commit([
        { key: 'o/1', value: { outcome: 1 } },
        { key: 'p/1', remove: true },
      ]);
      expect(await snapshot(storage)).toStrictEqual({ 'sync/o/1': { outcome: 1 } });
    });

    it(`${driver}: refuses bad input before writing anything`, async () => {
      const { storage } = await openStorage(await setup());
      await storage.set('kept', 1);
      const before = await snapshot(storage);
      for (const changes of [
        [
          { key: 'a', value: 1 },
          { key: '', value: 2 },
        ],
        [
          { key: 'a', value: 1 },
          { key: 'b', value: () => 1 },
        ],
        [
          { key: 'a', value: 1 },
          { key: 'b', remove: false },
        ],
        [{ key: 'a', value: 1 }, { key: 'b' }],
        'a',
      ]) {
        await expect(storage.commit(changes as never)).rejects.toMatchObject({
          code: expect.stringMatching(/^storage\/(invalid-key|not-serializable)$/),
        });
      }
      expect(await snapshot(storage)).toStrictEqual(before);
    });
  }

  for (const driver of ['memory', 'file'] as const) {
    it(`${driver}: over quota, none of the changes is applied (the removal neither)`, async () => {
      const { storage } = await openStorage(
        driver === 'file' ? { driver, dir: await tempDir(), quota: 400 } : { driver, quota: 400 },
      );
      await storage.set('op', { small: true });
      const before = await snapshot(storage);
      await expectCode(
        storage.commit([
          { key: 'outcome', value: { big: 'x'.repeat(500) } },
          { key: 'op', remove: true },
        ]),
        'storage/quota-exceeded',
      );
      expect(await snapshot(storage)).toStrictEqual(before);
    });
  }
});
