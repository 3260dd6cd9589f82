import { describe, expect, it } from 'vitest';
import { driverCases, expectCode, snapshot, storagePerTest, tempDirsPerTest } from './fixtures.js';
import { describeStoreContract, modes } from './store-contract.js';

const tempDir = tempDirsPerTest();
const openStorage = storagePerTest();

describeStoreContract(driverCases(tempDir), openStorage);

describe.each(modes)('quota on the memory and file drivers ($mode)', ({ extra }) => {
  it.each(['memory', 'file'] as const)(
    '%s: refuses the write with storage/quota-exceeded, earlier data intact',
    async (driver) => {
      const dir = await tempDir();
      const { storage } = await openStorage({
        driver,
        ...(driver === 'file' ? { dir } : {}),
        quota: 4_000,
        ...extra,
      });
      await storage.set('a', 'small');
      await storage.set('b', { list: [1, 2, 3] });
      const before = await snapshot(storage);
      const error = await expectCode(storage.set('big', 'x'.repeat(5_000)), 'storage/quota-exceeded');
      expect(error.message).toMatch(/intact/);
      await expectCode(storage.set('a', 'y'.repeat(5_000)), 'storage/quota-exceeded');
      expect(await snapshot(storage)).toStrictEqual(before);
      await storage.remove('b');
      await storage.set('c', 'fits again');
      expect(await storage.get('c')).toBe('fits again');
    },
  );
});
