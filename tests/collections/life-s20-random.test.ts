// DESIGN: "Time and randomness are injectable" — time was (`now`), randomness was not: the clock's
// node id always came from WebCrypto. A `random` option now makes it (from branch coll-conf-random).
import { describe, expect, it } from 'vitest';
import { Collection } from '../../src/plugins/collections/index.js';
import { code, type Note, referenceServer, startDevice } from './harness.js';

type Device = Awaited<ReturnType<typeof startDevice>>;

describe("randomness is injectable (the clock's node id)", () => {
  it('two collections given the same random() and now() stamp their changes alike', async () => {
    const server = await referenceServer();
    const collection = { random: () => 0.75, now: () => 1_700_000_000_000 };
    const one = await startDevice({ server, online: false, collection });
    const two = await startDevice({ server, online: false, collection });
    const stamps: string[] = [];
    /** The clock stamp of a device's only pending change. */
    const stampOf = async (device: Device) => {
      const [operation] = await device.sync.pending();
      return (operation as unknown as { meta: { clock: string } }).meta.clock;
    };
    for (const device of [one, two]) {
      await device.notes.insert({ title: 'x' });
      stamps.push(await stampOf(device));
    }
    // 6 bytes of 0.75 * 256 = 0xc0; the same time and counter: the same stamp.
    expect(stamps).toEqual([
      `${(1_700_000_000_000).toString(36).padStart(9, '0')}-0000-c0c0c0c0c0c0`,
      stamps[0],
    ]);
    // Without it, WebCrypto: two collections, two node ids.
    const three = await startDevice({ server, online: false, collection: { now: collection.now } });
    await three.notes.insert({ title: 'x' });
    expect(await stampOf(three)).not.toBe(stamps[0]);
  });

  it('refuses a random, now or compare option that is not a function', async () => {
    for (const name of ['random', 'now', 'compare']) {
      for (const value of [0.5, 'random', null, {}, 1n]) {
        expect(
          await code(() => new Collection<Note>('notes', { url: '/notes', [name]: value } as never)),
          `${name}: ${String(value)}`,
        ).toBe('collections/invalid-options');
      }
    }
    expect(() => new Collection<Note>('notes', { url: '/notes', random: 1 as never })).toThrow(/random/);
  });
});
