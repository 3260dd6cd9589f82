import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/core/app.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import { driverCases, fastIterations, quietLogger, tempDirsPerTest } from './fixtures.js';

// A fresh user's review (session 14) of storage: each test failed before its fix.

const tempDir = tempDirsPerTest();

describe.each(driverCases(tempDir))('storage on $driver (review s14)', ({ setup }) => {
  for (const encrypted of [false, true]) {
    const label = encrypted ? 'encrypted' : 'plain';

    it(`${label}: set(), commit() and a view's set() store the value as it was when called, not as the caller changed it after`, async () => {
      const app = createApp({ logger: quietLogger() });
      const storage = app.register(
        new StoragePlugin({
          ...(await setup()),
          ...(encrypted ? { secret: 'pw', iterations: fastIterations } : {}),
        }),
      );
      await app.ready();
      const draft = { text: 'first' };
      const row = { text: 'first' };
      const note = { text: 'first' };
      const writes = [
        storage.set('draft', draft),
        storage.commit([{ key: 'row', value: row }]),
        storage.namespace('notes').set('n1', note),
      ];
      draft.text = 'changed after set()';
      row.text = 'changed after commit()';
      note.text = 'changed after set()';
      // A later change that JSON cannot store does not make the call reject.
      (draft as Record<string, unknown>).big = 1n;
      await Promise.all(writes);
      expect(await storage.get('draft')).toStrictEqual({ text: 'first' });
      expect(await storage.get('row')).toStrictEqual({ text: 'first' });
      expect(await storage.namespace('notes').get('n1')).toStrictEqual({ text: 'first' });
      await app.dispose();
    });
  }

  // (A guard for the fix above, which lets calls reach an initialised store at once: it passed
  // before the fix too.)
  it('calls made before init still reach the store before the calls made after ready(): the last write wins', async () => {
    const app = createApp({ logger: quietLogger() });
    const storage = app.register(new StoragePlugin(await setup()));
    const early = [storage.set('k', 'before init'), storage.set('other', 1), storage.get('k')];
    const readyNow = app.ready();
    const alsoEarly = storage.remove('other');
    await readyNow;
    const late = [storage.set('k', 'after ready'), storage.set('other', 'after ready')];
    expect(await storage.get('k')).toBe('after ready');
    await Promise.all([...early, alsoEarly, ...late]);
    expect(await storage.get('other')).toBe('after ready');
    expect(await storage.keys()).toStrictEqual(['k', 'other']);
    await app.dispose();
  });

  it("a call made before init is not overtaken by a dependent plugin's init (which runs once storage is ready)", async () => {
    const app = createApp({ logger: quietLogger() });
    const storage = app.register(new StoragePlugin(await setup()));
    const written: Array<Promise<void>> = [];
    app.register({
      name: 'drafts',
      dependencies: ['storage'],
      init: () => {
        written.push(storage.set('k', 'by the init of drafts'));
      },
    });
    written.push(storage.set('k', 'before init'));
    await app.ready();
    await Promise.all(written);
    expect(await storage.get('k')).toBe('by the init of drafts');
    await app.dispose();
  });
});
