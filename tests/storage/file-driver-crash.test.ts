import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FileDriver } from '../../src/plugins/storage/drivers/file-driver.js';
import { tempDirsPerTest } from './fixtures.js';

// Records every file-system step the driver takes, and can make one step fail like a crash would.
const steps: string[] = [];
let failRename = false;
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...fs,
    open: async (path: string, flags: string) => {
      const handle = await fs.open(path, flags);
      const kind = path.endsWith('.tmp') ? 'temp' : 'folder';
      return new Proxy(handle, {
        get(target, property) {
          if (property === 'sync') {
            return async () => {
              steps.push(`fsync ${kind}`);
              return target.sync();
            };
          }
          const value = Reflect.get(target, property);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    },
    rename: async (from: string, to: string) => {
      if (failRename) throw Object.assign(new Error('simulated crash before rename'), { code: 'EIO' });
      steps.push('rename temp over record');
      return fs.rename(from, to);
    },
  };
});

const tempDir = tempDirsPerTest();
afterEach(() => {
  steps.length = 0;
  failRename = false;
});

describe('FileDriver writes', () => {
  it('write a temp file, fsync it, rename it over the record, then fsync the folder', async () => {
    const driver = await FileDriver.open({ dir: await tempDir(), name: 'db' });
    steps.length = 0;
    await driver.setItem('k', 'v');
    expect(steps).toStrictEqual(['fsync temp', 'rename temp over record', 'fsync folder']);
  });

  it('leave the previous record intact and no temp file when a write fails before the rename', async () => {
    const dir = await tempDir();
    const driver = await FileDriver.open({ dir, name: 'db' });
    await driver.setItem('k', 'old');
    failRename = true;
    await expect(driver.setItem('k', 'new')).rejects.toThrow('simulated crash');
    expect(await driver.getItem('k')).toBe('old');
    expect(await readdir(join(dir, 'db'))).toStrictEqual(['k-k.rec']);
    failRename = false;
    await driver.setItem('k', 'newer');
    expect(await driver.getItem('k')).toBe('newer');
  });
});
