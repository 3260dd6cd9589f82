import { describe, expect, it } from 'vitest';
import { isFluxyError } from '../../src/core/errors.js';
import { Collection, type CollectionOptions } from '../../src/plugins/collections/index.js';
import { code, type Note, referenceServer, serverNotes, startDevice } from './harness.js';

// Small bad inputs an audit found (session 19, finding 9): each gets a FluxyError with a stable
// code that names the real problem, and changes nothing.
const make = (name: unknown, options: unknown) => () =>
  new Collection(name as string, options as CollectionOptions<Note>);

describe('collections: bad input', () => {
  it.each(['sync', 'storage', 'connectivity'])(
    'new Collection(%j) is refused: the collection depends on that plugin',
    async (name) => {
      expect(await code(make(name, { url: '/notes' }))).toBe('collections/invalid-options');
      // Other names, and these names in another case, are plugin names like any.
      expect(make(`${name}s`, { url: '/notes' })()).toBeInstanceOf(Collection);
      expect(make(name.toUpperCase(), { url: '/notes' })()).toBeInstanceOf(Collection);
    },
  );

  it.each(['https://', 'http://', 'http:notes', 'https:/notes', 'https:///notes'])(
    'url %j (an absolute URL without a host) is refused at construction',
    async (url) => {
      expect(await code(make('notes', { url }))).toBe('collections/invalid-options');
    },
  );

  it('an absolute http(s) URL with a host, and a path, are still taken', () => {
    for (const url of ['https://api.example.com/notes', 'http://127.0.0.1:8080/notes', '/notes', 'notes'])
      expect(make('notes', { url })()).toBeInstanceOf(Collection);
  });

  it.each([2000n, 0n, Symbol('ms'), { valueOf: () => 2000 }])(
    'pullIntervalMs %s is refused with collections/invalid-options, not a raw TypeError',
    async (pullIntervalMs) => {
      expect(await code(make('notes', { url: '/notes', pullIntervalMs }))).toBe(
        'collections/invalid-options',
      );
    },
  );

  it('insert() with the key names the key, not the clientIdField; update() refuses the clientIdField', async () => {
    const server = await referenceServer();
    const device = await startDevice({ server, collection: { clientIdField: 'clientId' } });
    const error = await device.notes
      .insert({ id: 'n_1', title: 'a' } as Partial<Note>)
      .catch((e: unknown) => e);
    expect(isFluxyError(error) && error.code).toBe('collections/invalid-row');
    expect((error as Error).message).toContain('"id"');
    expect((error as Error).message).not.toContain('clientId');
    const clientError = await device.notes
      .insert({ clientId: 'x', title: 'a' } as Partial<Note>)
      .catch((e) => e);
    expect((clientError as Error).message).toContain('"clientId"');

    const row = await device.notes.insert({ title: 'a' });
    await device.sync.flush();
    const id = device.notes.items.value[0]?.id as string;
    expect(id).toMatch(/^n_/);
    const shown = device.notes.items.value;
    const pending = await device.sync.pending();
    for (const target of [row.id, id]) {
      expect(await code(device.notes.update(target, { clientId: 'zzz' } as Partial<Note>))).toBe(
        'collections/invalid-row',
      );
      expect(await code(device.notes.update(target, { title: 'b', clientId: 'zzz' } as Partial<Note>))).toBe(
        'collections/invalid-row',
      );
    }
    expect(device.notes.items.value).toBe(shown);
    expect(await device.sync.pending()).toEqual(pending);
    expect((await serverNotes(server))[0]?.clientId).toBe(row.id);
  });

  it('update() with a bad id is refused for the id, whatever the patch', async () => {
    const server = await referenceServer();
    const device = await startDevice({ server });
    for (const patch of [{}, { title: 'x' }, null])
      expect(await code(device.notes.update(5 as unknown as string, patch as Partial<Note>))).toBe(
        'invalid-argument',
      );
    expect(await code(device.notes.update('n_1', {}))).toBe('collections/invalid-row');
  });
});
