import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/core/app.js';
import { FileDriver } from '../../src/plugins/storage/drivers/file-driver.js';
import { decodeFileName, encodeFileName } from '../../src/plugins/storage/drivers/file-names.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import { expectCode, fastIterations, quietLogger, storagePerTest, tempDirsPerTest } from './fixtures.js';

const tempDir = tempDirsPerTest();
const openStorage = storagePerTest();

describe('file names', () => {
  it('encode keys reversibly into lowercase-safe names', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 30 }), (key) => {
        const name = encodeFileName(key);
        expect(name).toMatch(/^[a-z0-9_~-]*$/);
        expect(decodeFileName(name)).toBe(key);
      }),
    );
    expect(encodeFileName('A/b.c')).toBe('~41~2fb~2ec');
    expect(encodeFileName('a')).not.toBe(encodeFileName('A'));
    expect(decodeFileName('~61')).toBeUndefined(); // not how "a" is encoded: a stray file, not a key
  });

  it('refuse keys whose file name would be too long (storage/invalid-key through the store)', async () => {
    // Drivers throw plain errors; the store turns this one into storage/invalid-key.
    expect(() => encodeFileName('K'.repeat(200))).toThrow(
      expect.objectContaining({ name: 'UnstorableKeyError' }),
    );
    const { storage } = await openStorage({ driver: 'file', dir: await tempDir(), name: 'db' });
    const error = await expectCode(storage.set('K'.repeat(200), 1), 'storage/invalid-key');
    expect(error.message).toMatch(/too long for the file driver/);
    expect(await storage.keys()).toStrictEqual([]);
  });

  it('refuse a database name too long for a folder, saying it is the name', async () => {
    await expect(FileDriver.open({ dir: await tempDir(), name: 'N'.repeat(100) })).rejects.toThrow(
      expect.objectContaining({ name: 'UnstorableKeyError' }),
    );
    const app = createApp({ logger: quietLogger() });
    const storage = app.register(
      new StoragePlugin({ driver: 'file', dir: await tempDir(), name: 'N'.repeat(100) }),
    );
    const error = await expectCode(storage.get('x'), 'storage/invalid-key');
    expect(error.message).toMatch(/database name/);
    await app.dispose();
  });

  it('take every key up to the limit, temp files included (255-character file names)', async () => {
    const backend = await FileDriver.open({ dir: await tempDir(), name: 'db' });
    const longest = 'x'.repeat(240);
    await backend.setItem(longest, 'fits');
    await backend.writeBatch([{ key: `${'y'.repeat(239)}`, value: 'also' }]);
    expect(await backend.insertIfAbsent(`${'z'.repeat(240)}`, 'too')).toBe(true);
    expect(await backend.getItem(longest)).toBe('fits');
    expect(() => encodeFileName('x'.repeat(241))).toThrow(/too long for the file driver/);
    await backend.close();
  });
});

describe('FileDriver', () => {
  it('stores one file per key in one folder per database, and nothing in clear with a secret', async () => {
    const dir = await tempDir();
    const { storage } = await openStorage({
      driver: 'file',
      dir,
      name: 'Notes',
      secret: 's3cret',
      iterations: fastIterations,
    });
    await storage.set('todo/Milk', { text: 'buy oat milk' });
    const folder = join(dir, encodeFileName('Notes'));
    const files = await readdir(folder);
    expect(files).toContain(`k-${encodeFileName('todo/Milk')}.rec`);
    const raw = await readFile(join(folder, `k-${encodeFileName('todo/Milk')}.rec`), 'utf8');
    expect(raw).not.toContain('oat milk');
    expect(JSON.parse(raw)).toMatchObject({ v: 2 });
    for (const file of files) expect(await readFile(join(folder, file), 'utf8')).not.toContain('s3cret');
  });

  it('ignores and deletes leftover temp files of an interrupted write, keeping the last committed record', async () => {
    const dir = await tempDir();
    const first = await FileDriver.open({ dir, name: 'db' });
    await first.setItem('a', 'committed');
    await first.setItem('b', 'other');
    await first.close();
    const folder = join(dir, 'db');
    // A crash between "write temp" and "rename" leaves a torn temp file next to the old record.
    const torn = `k-a.rec.0011223344556677.tmp`;
    await writeFile(join(folder, torn), 'torn half-writ');
    await writeFile(join(folder, 'k-new.rec.8899aabbccddeeff.tmp'), '');
    const reopened = await FileDriver.open({ dir, name: 'db' });
    expect((await reopened.keys()).sort()).toStrictEqual(['a', 'b']);
    expect(await reopened.getItem('a')).toBe('committed');
    expect((await readdir(folder)).sort()).toStrictEqual(['k-a.rec', 'k-b.rec']);
  });

  it("leaves alone the temp files of a live writer (another instance on the folder), deletes a dead one's", async () => {
    const dir = await tempDir();
    const first = await FileDriver.open({ dir, name: 'db' });
    await first.setItem('a', 'committed');
    const folder = join(dir, 'db');
    const live = `t-${process.pid}-00112233aabbccdd.tmp`;
    const dead = 't-2147483646-00112233aabbccdd.tmp'; // no such process
    await writeFile(join(folder, live), 'a write in progress');
    await writeFile(join(folder, dead), 'left by a crash');
    const second = await FileDriver.open({ dir, name: 'db' });
    expect((await readdir(folder)).sort()).toStrictEqual(['k-a.rec', live]);
    expect(await second.keys()).toStrictEqual(['a']);
    await first.close();
    await second.close();
  });

  it('survives a restart through the plugin, encrypted, with everything readable', async () => {
    const dir = await tempDir();
    const options = { driver: 'file', dir, secret: 'pw', iterations: fastIterations } as const;
    const { app, storage } = await openStorage(options);
    for (let i = 0; i < 25; i++) await storage.set(`op/${String(i).padStart(3, '0')}`, { i });
    await app.dispose();
    await writeFile(join(dir, 'fluxy', `k-op~2f999.rec.0123456789abcdef.tmp`), '{"v":1,"iv":');
    const { storage: restarted } = await openStorage(options);
    const keys = await restarted.keys('op/');
    expect(keys).toHaveLength(25);
    expect(await restarted.get('op/024')).toStrictEqual({ i: 24 });
    expect((await readdir(join(dir, 'fluxy'))).filter((f) => f.endsWith('.tmp'))).toStrictEqual([]);
  });

  it('counts existing records against the quota after a restart', async () => {
    const dir = await tempDir();
    const first = await FileDriver.open({ dir, name: 'db', quota: 100 });
    await first.setItem('a', 'x'.repeat(60));
    await first.close();
    const reopened = await FileDriver.open({ dir, name: 'db', quota: 100 });
    await expect(reopened.setItem('b', 'y'.repeat(60))).rejects.toMatchObject({ name: 'QuotaExceededError' });
    await reopened.setItem('a', 'x'.repeat(90)); // replacing counts only the difference
    expect(await reopened.getItem('a')).toBe('x'.repeat(90));
  });

  it('clear() removes records but not foreign files', async () => {
    const dir = await tempDir();
    const driver = await FileDriver.open({ dir, name: 'db' });
    await driver.setItem('a', '1');
    await writeFile(join(dir, 'db', 'README.txt'), 'not a record');
    await driver.clear();
    expect(await driver.keys()).toStrictEqual([]);
    expect(await readdir(join(dir, 'db'))).toStrictEqual(['README.txt']);
  });
});

describe('a data folder that disappears', () => {
  it('a read fails with storage/unavailable instead of reading as absent, and works again once it is back', async () => {
    const dir = await tempDir();
    const { storage } = await openStorage({ driver: 'file', dir, name: 'db' });
    await storage.set('kept', { n: 1 });
    await rename(dir, `${dir}.away`);
    try {
      await expectCode(storage.get('kept'), 'storage/unavailable');
      await expectCode(storage.get('never-written'), 'storage/unavailable');
    } finally {
      await rename(`${dir}.away`, dir);
    }
    expect(await storage.get('kept')).toStrictEqual({ n: 1 });
    expect(await storage.get('never-written')).toBeUndefined();
  });
});
