import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { describe, expect, it, onTestFinished } from 'vitest';
import { isFluxyError } from '../../src/core/errors.js';
import type { ConflictStrategy } from '../../src/plugins/collections/index.js';
import { gate } from '../support/memory-store.js';
import { silentLogger } from '../sync/harness.js';
import {
  faults,
  holdAbAndAbc,
  type Note,
  referenceServer,
  serverNotes,
  startDevice,
  twoDevices,
  typeAbc,
  until,
} from './harness.js';

type Device = Awaited<ReturnType<typeof startDevice>>;

const quiet = (device: Device) =>
  until(() => device.sync.pendingCount.value === 0 && !device.sync.isSyncing.value, 'the outbox to drain');

async function settle(server: Awaited<ReturnType<typeof referenceServer>>, ...devices: Device[]) {
  for (let round = 0; round < 2; round++) {
    for (const device of devices) {
      device.connectivity.setOnline(true);
      await device.sync.flush();
      await quiet(device);
      await device.notes.pull();
    }
  }
  const rows = await serverNotes(server);
  for (const device of devices) expect(device.notes.items.value).toEqual(rows);
  return rows;
}

async function logKeys(server: Awaited<ReturnType<typeof referenceServer>>): Promise<Array<string | null>> {
  const response = await fetch(`${server.url}/api/_log`);
  return ((await response.json()) as Array<{ key: string | null }>).map((entry) => entry.key);
}

describe("conflict: 'lww' (default)", () => {
  it('an older offline edit of the same field loses to a newer one sent before it, and says so', async () => {
    const { server, id, a, b, conflicts } = await twoDevices();
    a.connectivity.setOnline(false);
    await a.notes.update(id, { title: 'older, from a' });
    await b.notes.update(id, { title: 'newer, from b' });
    await quiet(b);
    const rows = await settle(server, a, b);
    expect(rows[0]?.title).toBe('newer, from b');
    expect(conflicts).toEqual([
      expect.objectContaining({
        id,
        resolution: 'lww',
        server: expect.objectContaining({ title: 'newer, from b' }),
      }),
    ]);
  });

  it('a newer offline edit wins although it arrives last', async () => {
    const { server, id, a, b, conflicts } = await twoDevices();
    await b.notes.update(id, { title: 'older, from b' });
    await quiet(b);
    a.connectivity.setOnline(false);
    await a.notes.update(id, { title: 'newer, from a' });
    const rows = await settle(server, a, b);
    expect(rows[0]?.title).toBe('newer, from a');
    expect(conflicts).toEqual([]);
  });

  it('edits of different fields both survive', async () => {
    const { server, id, a, b } = await twoDevices();
    a.connectivity.setOnline(false);
    await a.notes.update(id, { title: 'title from a' });
    await b.notes.update(id, { body: 'body from b' });
    await quiet(b);
    const rows = await settle(server, a, b);
    expect(rows[0]).toMatchObject({ title: 'title from a', body: 'body from b' });
  });

  it('edit vs a newer delete: the edit is dropped (server: null), the row is gone everywhere', async () => {
    const { server, id, a, b, conflicts } = await twoDevices();
    a.connectivity.setOnline(false);
    await a.notes.update(id, { title: 'edit' });
    await b.notes.remove(id);
    await quiet(b);
    const rows = await settle(server, a, b);
    expect(rows).toEqual([]);
    expect(conflicts).toEqual([expect.objectContaining({ id, server: null, resolution: 'dropped' })]);
    expect(a.sync.failedCount.value).toBe(0);
  });

  it('delete vs a newer edit: the delete loses, the row stays everywhere', async () => {
    const { server, id, a, b, conflicts } = await twoDevices();
    a.connectivity.setOnline(false);
    await a.notes.remove(id);
    expect(a.notes.items.value).toEqual([]);
    await b.notes.update(id, { title: 'kept' });
    await quiet(b);
    const rows = await settle(server, a, b);
    expect(rows).toEqual([expect.objectContaining({ title: 'kept' })]);
    expect(conflicts).toEqual([expect.objectContaining({ id, local: null, resolution: 'lww' })]);
  });

  it('an edit newer than a delete that arrived first brings the row back', async () => {
    const { server, id, a, b } = await twoDevices();
    a.connectivity.setOnline(false);
    await b.notes.remove(id);
    await quiet(b);
    await a.notes.update(id, { title: 'revived' });
    const rows = await settle(server, a, b);
    expect(rows).toEqual([expect.objectContaining({ id, title: 'revived', body: 'b' })]);
  });

  it('the same insert delivered twice (answer lost, retried) makes one row', async () => {
    const server = await referenceServer();
    const a = await startDevice({ server });
    await a.notes.pull();
    a.sync.pause();
    await faults(server, ['drop-after']);
    await a.notes.insert({ title: 'once' });
    a.sync.resume();
    await quiet(a);
    await a.notes.pull();
    expect(await serverNotes(server)).toHaveLength(1);
    expect(a.notes.items.value).toEqual(await serverNotes(server));
  });
});

describe("conflict: 'server-wins', 'client-wins' and a merge function (If-Match → 412)", () => {
  it("server-wins drops the local change, shows the server's row, reports it, and never applies it", async () => {
    const { server, id, a, b, conflicts } = await twoDevices({ conflict: 'server-wins' });
    a.connectivity.setOnline(false);
    await a.notes.update(id, { title: 'mine' });
    await b.notes.update(id, { title: 'theirs' });
    await quiet(b);
    const [pending] = await a.sync.pending();
    const rows = await settle(server, a, b);
    expect(rows[0]?.title).toBe('theirs');
    expect(conflicts).toEqual([
      expect.objectContaining({
        id,
        resolution: 'server-wins',
        local: expect.objectContaining({ title: 'mine' }),
        server: expect.objectContaining({ title: 'theirs' }),
        result: expect.objectContaining({ title: 'theirs' }),
      }),
    ]);
    expect(a.sync.failedCount.value).toBe(0);
    expect(await logKeys(server)).not.toContain(pending?.id);
  });

  it('client-wins resends the change on the new version', async () => {
    const { server, id, a, b, conflicts } = await twoDevices({ conflict: 'client-wins' });
    a.connectivity.setOnline(false);
    await a.notes.update(id, { title: 'mine' });
    await b.notes.update(id, { title: 'theirs' });
    await quiet(b);
    const rows = await settle(server, a, b);
    expect(rows[0]?.title).toBe('mine');
    expect(conflicts).toEqual([expect.objectContaining({ id, resolution: 'client-wins' })]);
    expect(a.sync.failedCount.value).toBe(0);
  });

  it('a merge function gets local, server and the three-way base, and its patch is sent', async () => {
    const seen: unknown[] = [];
    const { server, id, a, b, conflicts } = await twoDevices({
      conflict: ({ local, server: current, base }) => {
        seen.push({ local: local?.title, server: current?.title, base: base?.title });
        return { title: `${current?.title} + ${local?.title}` };
      },
    });
    a.connectivity.setOnline(false);
    await a.notes.update(id, { title: 'mine' });
    await b.notes.update(id, { title: 'theirs' });
    await quiet(b);
    const rows = await settle(server, a, b);
    expect(rows[0]?.title).toBe('theirs + mine');
    expect(seen).toEqual([{ local: 'mine', server: 'theirs', base: 'start' }]);
    expect(conflicts).toEqual([expect.objectContaining({ resolution: 'merged' })]);
  });

  it('a merge function returning null drops the change', async () => {
    const { server, id, a, b, conflicts } = await twoDevices({ conflict: () => null });
    a.connectivity.setOnline(false);
    await a.notes.update(id, { title: 'mine' });
    await b.notes.update(id, { title: 'theirs' });
    await quiet(b);
    const rows = await settle(server, a, b);
    expect(rows[0]?.title).toBe('theirs');
    expect(conflicts).toEqual([expect.objectContaining({ resolution: 'dropped' })]);
  });

  it('the merge function of docs/conflicts.md settles a remove that met an edit (local: null)', async () => {
    // The example as the page shows it, run: it read local's fields, and threw on a remove.
    const page = readFileSync(new URL('../../docs/conflicts.md', import.meta.url), 'utf8');
    const example = /## Writing a merge function\n\n```ts\n([\s\S]*?)```/.exec(page)?.[1] as string;
    const options: Array<{ conflict: ConflictStrategy<Note> }> = [];
    const Collection = class {
      constructor(_name: string, given: (typeof options)[number]) {
        options.push(given);
      }
    };
    const script = ts.transpileModule(example, { compilerOptions: { target: ts.ScriptTarget.ES2022 } });
    new Function('Collection', script.outputText)(Collection);
    const [{ conflict }] = options as [(typeof options)[number]];
    expect(typeof conflict).toBe('function');
    const { server, id, a, b, conflicts } = await twoDevices({ conflict });
    a.connectivity.setOnline(false);
    await a.notes.remove(id);
    await b.notes.update(id, { title: 'theirs' });
    await quiet(b);
    const rows = await settle(server, a, b);
    expect(rows[0]?.title).toBe('theirs');
    expect(conflicts).toEqual([expect.objectContaining({ id, local: null, resolution: 'dropped' })]);
    expect(a.sync.failedCount.value).toBe(0);
    expect(a.notes.lastError.value).toBeNull();
  });

  const refused = (status: number) => (line: string) => line.endsWith(`→ ${status}`);
  it.each([
    [
      'throws',
      'update',
      () => {
        throw new Error('merge bug');
      },
      'merge bug',
    ],
    [
      'throws on a remove',
      'remove',
      ({ local }: { local: Note | null }) => ({ title: (local as Note).title }),
      'null',
    ],
    ['returns a string', 'update', () => 'garbage', 'collections/invalid-row'],
    ['returns undefined', 'update', () => undefined, 'collections/invalid-row'],
    ['returns an empty patch', 'update', () => ({}), 'collections/invalid-row'],
    ["returns a patch that changes the row's id", 'update', () => ({ id: 'zzz' }), 'collections/invalid-row'],
  ] as const)(
    'a merge function that %s leaves the change failed, reported once in lastError (collections/merge-failed)',
    async (_what, change, merge, cause) => {
      const warnings: unknown[][] = [];
      const logger = { ...silentLogger, warn: (...args: unknown[]) => warnings.push(args) };
      const { server, id, a, b, conflicts } = await twoDevices(
        { conflict: merge as unknown as ConflictStrategy<Note> },
        { logger },
      );
      a.connectivity.setOnline(false);
      if (change === 'remove') await a.notes.remove(id);
      else await a.notes.update(id, { title: 'mine' });
      await b.notes.update(id, { title: 'theirs' });
      await quiet(b);
      a.connectivity.setOnline(true);
      await until(() => a.notes.lastError.value !== null, 'the failed merge to be reported');
      const error = a.notes.lastError.value;
      expect(isFluxyError(error, 'collections/merge-failed' as never)).toBe(true);
      const reason = error?.cause as Error & { code?: string };
      expect(reason.code ?? reason.message).toContain(cause);
      const reported = () => warnings.filter(([, detail]) => detail === error?.cause);
      expect(reported()).toHaveLength(1);
      // The change stays failed, as it was refused; nothing was sent for it, no conflict reported.
      expect(a.sync.failedCount.value).toBe(1);
      expect(a.notes.items.value[0]?.title).toBe('theirs');
      expect(conflicts).toEqual([]);
      // Not decided again (nor warned) at every pull.
      await a.notes.pull();
      await a.notes.pull();
      expect(reported()).toHaveLength(1);
      expect(a.sync.failedCount.value).toBe(1);
      expect(server.requests.filter(refused(400))).toEqual([]);
    },
  );

  it('changes made on top of a pending change of the same row are not conflicts with it (every strategy)', async () => {
    const strategies = ['server-wins', 'client-wins', () => null] as const;
    for (const conflict of strategies) {
      const { server, id, a, b, conflicts } = await twoDevices({ conflict });
      a.connectivity.setOnline(false);
      // Three changes of one row while offline: all carry the version they were made on (1).
      await a.notes.update(id, { title: 'one' });
      await a.notes.update(id, { body: 'two' });
      await a.notes.update(id, { title: 'three' });
      const rows = await settle(server, a, b);
      expect(rows[0], String(conflict)).toMatchObject({ title: 'three', body: 'two' });
      expect(conflicts, String(conflict)).toEqual([]);
      expect(a.sync.failedCount.value).toBe(0);
      // And a removal made on top of a pending update.
      await a.notes.update(id, { title: 'four' });
      await a.notes.remove(id);
      await settle(server, a, b);
      expect(await serverNotes(server)).toEqual([]);
      expect(conflicts, String(conflict)).toEqual([]);
    }
  });

  it('typing online (12 rapid edits of one row, server-wins) ends with the last edit and no conflict', async () => {
    const { server, id, a, b, conflicts } = await twoDevices({ conflict: 'server-wins' });
    const text = 'abcdefghijkl';
    for (let length = 1; length <= text.length; length++)
      await a.notes.update(id, { title: text.slice(0, length) });
    const rows = await settle(server, a, b);
    expect(rows[0]).toMatchObject({ title: text, body: 'b' });
    expect(conflicts).toEqual([]);
    expect(a.sync.failedCount.value).toBe(0);
  });

  it("a 412 resolved while this replica's next write is applied but not yet answered is no conflict", async () => {
    // The devices' fetch (bound when their sync starts) holds two PATCHes: 'ab' before it is sent,
    // and the answer to 'abc' after the server applied it.
    // Pulls made once 'ab' is refused wait until the server applied 'abc'.
    const abc = gate();
    onTestFinished(() => abc.open());
    const held = {
      ...holdAbAndAbc(async (response) => {
        await abc.promise;
        return response;
      }),
      abc,
    };
    const { server, id, a, b, conflicts } = await twoDevices({ conflict: 'server-wins' });
    await (await typeAbc(a, id, held)).decided;
    held.abc.open();
    const rows = await settle(server, a, b);
    expect(rows[0]).toMatchObject({ title: 'abc', version: 3 });
    expect(conflicts).toEqual([]);
    expect(a.sync.failedCount.value).toBe(0);
  });

  it('a change made on top of a pending one still meets a change from elsewhere (server-wins)', async () => {
    const { server, id, a, b, conflicts } = await twoDevices({ conflict: 'server-wins' });
    a.connectivity.setOnline(false);
    await a.notes.update(id, { title: 'one' });
    await a.notes.update(id, { body: 'two' });
    await b.notes.update(id, { title: 'theirs' });
    await quiet(b);
    const rows = await settle(server, a, b);
    expect(rows[0]).toMatchObject({ title: 'theirs', body: 'b' });
    expect(conflicts.map((event) => event.resolution)).toEqual(['server-wins', 'server-wins']);
  });

  it('a restart between the 412 and the resend still resends once (the decision is durable)', async () => {
    // A server whose 412 does not carry its current row: the refusal waits for the next pull.
    // (With the row, it is decided from it at once: conflicts-s19.test.ts.)
    const realFetch = globalThis.fetch;
    globalThis.fetch = async (input, init) => {
      const response = await realFetch(input, init);
      if (response.status !== 412) return response;
      const { current: _current, ...body } = (await response.json()) as Record<string, unknown>;
      return new Response(JSON.stringify(body), { status: 412, headers: response.headers });
    };
    onTestFinished(() => {
      globalThis.fetch = realFetch;
    });
    const { server, id, a, b } = await twoDevices({ conflict: 'client-wins' });
    a.connectivity.setOnline(false);
    await a.notes.update(id, { title: 'mine' });
    await b.notes.update(id, { title: 'theirs' });
    await quiet(b);
    // The PATCH gets its 412; the pull that should follow is cut, so nothing is resolved yet.
    a.sync.pause();
    const pulledAt = a.notes.lastPulledAt.value;
    a.connectivity.setOnline(true);
    await until(() => a.notes.lastPulledAt.value !== pulledAt, 'the pull on reconnect');
    await faults(server, ['ok', 'drop-before']);
    a.sync.resume();
    await until(() => a.notes.lastError.value !== null, 'the pull after the 412 to fail');
    expect(a.sync.failedCount.value).toBe(1);
    await a.dispose();
    const again = await startDevice({ server, disk: a.disk, collection: { conflict: 'client-wins' } });
    await until(
      () => again.sync.failedCount.value === 0 && again.sync.pendingCount.value === 0,
      'the resend',
    );
    const rows = await settle(server, again, b);
    expect(rows[0]?.title).toBe('mine');
    const patches = server.requests.filter((line) => line.startsWith('PATCH') && line.endsWith('200'));
    expect(patches).toHaveLength(2); // b's, then a's resend: once
  });
});

describe('clock skew', () => {
  it('a device 4 minutes fast or 10 minutes slow still converges; a pulled clock too far ahead is refused and reported', async () => {
    const server = await referenceServer();
    const fast = await startDevice({ server, collection: { now: () => Date.now() + 4 * 60_000 } });
    const slow = await startDevice({ server, collection: { now: () => Date.now() - 10 * 60_000 } });
    const normal = await startDevice({ server });
    const row = await fast.notes.insert({ title: 'from fast' });
    await quiet(fast);
    const id = fast.notes.get(row.id).value?.id as string;
    await slow.notes.pull(); // the server's clock is the insert's: 14 minutes ahead of this device
    expect(slow.notes.lastError.value?.code).toBe('collections/clock-skew');
    await slow.notes.update(id, { body: 'from slow' });
    await normal.notes.pull(); // 4 minutes ahead: adopted
    expect(normal.notes.lastError.value).toBeNull();
    await normal.notes.update(id, { title: 'from normal' });
    const rows = await settle(server, fast, slow, normal);
    // The normal device moved its clock past the insert's: its edit wins. The slow device's,
    // stamped 10 minutes behind, loses to the insert (LWW by design); every replica still ends
    // with the same row.
    expect(rows[0]).toMatchObject({ title: 'from normal', body: '' });
    expect(slow.notes.lastError.value?.code).toBe('collections/clock-skew');
  });

  it('a device 10 minutes fast has its changes refused by the server (400 clock-ahead): nothing applied, the change kept failed', async () => {
    const server = await referenceServer();
    const fast = await startDevice({ server, collection: { now: () => Date.now() + 10 * 60_000 } });
    await fast.notes.insert({ title: 'from fast' });
    await until(() => fast.sync.failedCount.value === 1, 'the insert to be refused');
    expect((await fast.sync.failed())[0]?.lastError?.status).toBe(400);
    expect(server.requests.filter((line) => line.startsWith('POST /api/notes'))).toEqual([
      'POST /api/notes → 400',
    ]);
    expect(fast.notes.items.value).toEqual([]);
    expect(await serverNotes(server)).toEqual([]);
  });
});
