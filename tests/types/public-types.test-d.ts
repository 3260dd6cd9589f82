// Types that guide: error codes checked by the compiler, unreadable operations narrowed by a
// guard, storage namespaces typed by their caller. Through the public entries, as users write it.
import { expectTypeOf, it } from 'vitest';
import { createApp, type FluxyError, type FluxyErrorCode, isFluxyError } from '../../src/index.js';
import { StoragePlugin } from '../../src/plugins/storage/index.js';
import {
  isUnreadable,
  type Operation,
  type SyncErrorCode,
  SyncPlugin,
  type UnreadableOperation,
} from '../../src/plugins/sync/index.js';

it('isFluxyError accepts only known codes and narrows to the one given', () => {
  const error: unknown = new Error('x');
  if (isFluxyError(error, 'sync/invalid-url')) {
    expectTypeOf(error).toEqualTypeOf<FluxyError<'sync/invalid-url'>>();
    expectTypeOf(error.code).toEqualTypeOf<'sync/invalid-url'>();
  }
  if (isFluxyError(error)) expectTypeOf(error.code).toEqualTypeOf<string>();
  // @ts-expect-error a code no module raises (a typo) does not compile
  isFluxyError(error, 'sync/invalid-ulr');
  // The plugin entries add their codes to the core's union.
  expectTypeOf<'plugin/not-registered'>().toExtend<FluxyErrorCode>();
  expectTypeOf<'storage/quota-exceeded'>().toExtend<FluxyErrorCode>();
  expectTypeOf<'connectivity/invalid-probe'>().toExtend<FluxyErrorCode>();
  expectTypeOf<'sync/network-error'>().toExtend<FluxyErrorCode>();
  expectTypeOf<'controller/disposed'>().toExtend<FluxyErrorCode>();
});

it('isUnreadable narrows failed() entries and the failed event', async () => {
  const sync = createApp().register(new SyncPlugin());
  for (const op of await sync.failed()) {
    // @ts-expect-error url does not exist on an unreadable operation until narrowed
    op.url;
    if (isUnreadable(op)) expectTypeOf(op).toEqualTypeOf<UnreadableOperation>();
    else expectTypeOf(op.url).toEqualTypeOf<string>();
    // lastError.code is the union of Sync's codes, so a switch over it is checked.
    expectTypeOf(op.lastError?.code).toEqualTypeOf<SyncErrorCode | undefined>();
  }
  sync.on('failed', ({ operation }) => {
    if (!isUnreadable(operation)) expectTypeOf(operation).toEqualTypeOf<Operation>();
  });
});

it('storage.namespace<T>() is typed by its caller', async () => {
  interface Note {
    id: string;
    title: string;
  }
  const storage = createApp().register(new StoragePlugin({ driver: 'memory' }));
  const notes = storage.namespace<Note>('notes');
  expectTypeOf(await notes.get('n1')).toEqualTypeOf<Note | undefined>();
  await notes.set('n1', { id: 'n1', title: 'Groceries' });
  // @ts-expect-error the value must be a Note
  await notes.set('n2', { id: 'n2' });
  await notes.commit([
    { key: 'n3', value: { id: 'n3', title: 'x' } },
    { key: 'n1', remove: true },
  ]);
  // @ts-expect-error so must the values of a commit
  await notes.commit([{ key: 'n3', value: 42 }]);
  // Without a type argument, as before: unknown values.
  expectTypeOf(await storage.namespace('raw').get('k')).toEqualTypeOf<unknown>();
});
