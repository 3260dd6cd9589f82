import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { connect, createServer as createTcpServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { RunningServer } from '../../examples/server/server.mjs';
import { createApp } from '../../src/core/app.js';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.js';
import { minIterations, StoragePlugin } from '../../src/plugins/storage/index.js';
import { type Operation, type SyncOptions, SyncPlugin } from '../../src/plugins/sync/index.js';
import { startServer } from '../server/helpers.js';
import { tempDirsPerTest } from '../storage/fixtures.js';
import { silentLogger, until } from './harness.js';

// Binary bodies (issue 17): Blob/File, ArrayBuffer, typed arrays, DataView and FormData are
// stored (in chunks, encrypted with a secret) when queued, survive a restart, and reach the
// reference server byte for byte; an upload's url replaces its temporary id in later ops.

const tempDir = tempDirsPerTest();
const secret = 'correct horse battery staple';

type Driver = 'file' | 'indexeddb';

/** Where a device keeps its data: the same folder (file driver) or IDBFactory across sessions. */
async function makeDisk(driver: Driver) {
  return driver === 'file' ? { driver, dir: await tempDir() } : { driver, indexedDB: new IDBFactory() };
}
type Disk = Awaited<ReturnType<typeof makeDisk>>;

/** One run of the app on `disk`: offline unless told, disposed when the test ends. */
async function session(
  disk: Disk,
  server: RunningServer,
  options: { online?: boolean; secret?: boolean; sync?: SyncOptions } = {},
) {
  const app = createApp({ logger: silentLogger });
  onTestFinished(() => app.dispose());
  const keyed = options.secret === false ? {} : { secret, iterations: minIterations };
  const storage = app.register(
    new StoragePlugin(
      disk.driver === 'file'
        ? { driver: 'file', dir: disk.dir, ...keyed }
        : { indexedDB: disk.indexedDB, ...keyed },
    ),
  );
  const connectivity = app.register(new ConnectivityPlugin());
  const sync = app.register(new SyncPlugin({ baseUrl: server.url, ...options.sync }));
  connectivity.setOnline(options.online ?? false);
  await app.ready();
  return { app, storage, connectivity, sync };
}

async function downloaded(server: RunningServer, url: string) {
  const response = await fetch(`${server.url}${url}`);
  expect(response.status).toBe(200);
  return { type: response.headers.get('Content-Type'), bytes: new Uint8Array(await response.arrayBuffer()) };
}

/** The server's answer to each sent op, by op id. */
function answers(sync: SyncPlugin) {
  const byId = new Map<string, { id: string; url: string; fields?: Record<string, string> }>();
  sync.on('sent', ({ operation, response }) => {
    byId.set(operation.id, response as { id: string; url: string });
  });
  return byId;
}

describe.each([
  ['file', true],
  ['file', false],
  ['indexeddb', true],
  ['indexeddb', false],
] as const)('binary bodies (%s driver, secret: %s)', (driver, withSecret) => {
  it('each body type is stored, survives a restart, and reaches the server byte for byte', async () => {
    const server = await startServer();
    const disk = await makeDisk(driver);
    const big = new Uint8Array(randomBytes(600_000)); // 17 chunks
    const buffer = new Uint8Array(randomBytes(1000));
    const backing = new Uint8Array(randomBytes(500));
    const photo = new Uint8Array(randomBytes(70_000));
    const expected: Array<{ bytes: Uint8Array; type: string; fields?: Record<string, string> }> = [
      { bytes: big.slice(), type: 'image/png' },
      { bytes: buffer.slice(), type: 'application/octet-stream' },
      { bytes: backing.slice(100, 300), type: 'application/octet-stream' },
      { bytes: backing.slice(7, 19), type: 'application/x-thing' },
      { bytes: photo, type: 'image/jpeg', fields: { title: 'Ünïcode "title"\r\nline 2', empty: '' } },
      { bytes: new Uint8Array(0), type: 'text/plain' },
    ];
    const first = await session(disk, server, { secret: withSecret });
    const form = new FormData();
    form.append('title', 'Ünïcode "title"\r\nline 2');
    form.append('photo', new File([photo], 'beach.jpg', { type: 'image/jpeg' }));
    form.append('empty', '');
    const queued: Operation[] = [
      await first.sync.queue('POST', '/api/uploads', { body: new Blob([big], { type: 'image/png' }) }),
      await first.sync.queue('POST', '/api/uploads', { body: buffer.buffer }),
      await first.sync.queue('POST', '/api/uploads', { body: backing.subarray(100, 300) }),
      await first.sync.queue('POST', '/api/uploads', {
        body: new DataView(backing.buffer, 7, 12),
        headers: { 'Content-Type': 'application/x-thing' },
      }),
      await first.sync.queue('POST', '/api/uploads', { body: form }),
      await first.sync.queue('POST', '/api/uploads', { body: new Blob([], { type: 'text/plain' }) }),
    ];
    // Later changes to the caller's buffers do not change what is sent.
    for (const bytes of [big, buffer, backing]) bytes.set(randomBytes(bytes.length));
    expect(queued.every((op) => op.body === undefined)).toBe(true);
    await first.app.dispose();
    expect(server.state.log).toStrictEqual([]);

    const second = await session(disk, server, { secret: withSecret });
    expect((await second.sync.pending()).map((op) => op.id)).toStrictEqual(queued.map((op) => op.id));
    const responses = answers(second.sync);
    second.connectivity.setOnline(true);
    await until(() => second.sync.pendingCount.value === 0, 'every upload sent');
    expect(second.sync.failedCount.value).toBe(0);
    for (const [index, op] of queued.entries()) {
      const answer = responses.get(op.id);
      const want = expected[index] as (typeof expected)[number];
      const got = await downloaded(server, answer?.url as string);
      expect(got.type).toBe(want.type);
      expect(Buffer.from(got.bytes).equals(Buffer.from(want.bytes))).toBe(true);
      expect(answer?.fields).toStrictEqual(want.fields);
    }
    expect(server.state.uploads?.[4]?.filename).toBe('beach.jpg');
    // Sent: the op and its chunks are gone.
    expect((await second.storage.keys()).filter((key) => key.startsWith('sync/'))).toStrictEqual([]);
  });

  it('an upload with a tempId: the later create gets the upload url in its place, across a restart', async () => {
    const server = await startServer();
    const disk = await makeDisk(driver);
    // The server answers an upload with { id, url }: the url replaces the temporary id.
    const serverId = (response: unknown) =>
      (response as { url?: string; id: string }).url ?? (response as { id: string }).id;
    const first = await session(disk, server, { secret: withSecret, sync: { serverId } });
    const tempId = 'tmp_photo_3f9c2a71';
    const image = new Uint8Array(randomBytes(300_000));
    await first.sync.queue('POST', '/api/uploads', {
      body: new File([image], 'photo.png', { type: 'image/png' }),
      tempId,
    });
    const create = await first.sync.queue('POST', '/api/notes', {
      body: { title: 'Beach', photo: tempId },
    });
    expect(create.body).toStrictEqual({ title: 'Beach', photo: tempId });
    await first.app.dispose();

    const second = await session(disk, server, { secret: withSecret, sync: { serverId } });
    second.connectivity.setOnline(true);
    await until(() => second.sync.pendingCount.value === 0, 'upload and create sent');
    expect(second.sync.failedCount.value).toBe(0);
    expect(await second.sync.resolveId(tempId)).toBe('/api/uploads/u_1');
    expect(server.state.notes).toMatchObject([{ title: 'Beach', photo: '/api/uploads/u_1' }]);
    const got = await downloaded(server, '/api/uploads/u_1');
    expect(Buffer.from(got.bytes).equals(Buffer.from(image))).toBe(true);
  });
});

describe('binary bodies at rest', () => {
  async function storedFiles(dir: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    const walk = async (folder: string): Promise<void> => {
      for (const entry of await readdir(folder, { withFileTypes: true })) {
        const path = join(folder, entry.name);
        if (entry.isDirectory()) await walk(path);
        else parts.push(await readFile(path));
      }
    };
    await walk(dir);
    return Buffer.concat(parts);
  }

  it.each([
    [true, false],
    [false, true],
  ])(
    'with a secret (%s) the stored bytes do not show the body (readable without: %s)',
    async (withSecret, readable) => {
      const server = await startServer();
      const disk = await makeDisk('file');
      const { app, sync } = await session(disk, server, { secret: withSecret });
      const marker = Buffer.from('PLAINTEXT-PHOTO-BYTES-'.repeat(30_000)); // 660 KB: 19 chunks
      const form = new FormData();
      form.append('caption', 'PLAINTEXT-CAPTION-FIELD');
      form.append('file', new Blob([marker]), 'x.bin');
      await sync.queue('POST', '/api/uploads', { body: new Blob([marker]) });
      await sync.queue('POST', '/api/uploads', { body: form });
      await app.dispose();
      const stored = await storedFiles(disk.dir as string);
      // Each chunk (35 KiB) is base64 on its own, so a chunk's text starts with the base64 of
      // the bytes it starts with.
      const encodedStart = Buffer.from(marker.subarray(0, 3000).toString('base64'));
      const encodedSecondChunk = Buffer.from(marker.subarray(35_840, 38_840).toString('base64'));
      expect(stored.includes(marker.subarray(0, 66))).toBe(false);
      expect(stored.includes(encodedStart)).toBe(readable);
      expect(stored.includes(encodedSecondChunk)).toBe(readable);
      expect(stored.includes(Buffer.from('PLAINTEXT-CAPTION-FIELD'))).toBe(readable);
    },
  );
});

describe('refusals store nothing', () => {
  it('a binary body over 10 × maxBodyBytes is refused with sync/body-too-large; one at the limit is stored', async () => {
    const server = await startServer();
    const disk = await makeDisk('indexeddb');
    const { storage, sync } = await session(disk, server, { sync: { maxBodyBytes: 100 } });
    const before = await storage.keys();
    const form = new FormData();
    form.append('note', 'x'.repeat(520));
    form.append('file', new Blob([new Uint8Array(480)]), 'f.bin');
    for (const body of [
      new Blob([new Uint8Array(1001)]),
      new Uint8Array(1001),
      new ArrayBuffer(5000),
      form,
    ]) {
      await expect(
        sync.queue('POST', '/api/uploads', { body, tempId: 'tmp_too_large_1' }),
      ).rejects.toMatchObject({
        code: 'sync/body-too-large',
        message: expect.stringContaining('maxBodyBytes'),
      });
    }
    expect(await storage.keys()).toStrictEqual(before);
    expect(sync.pendingCount.value).toBe(0);
    // The refused tempId was never introduced: a create with it is accepted.
    await sync.queue('POST', '/api/uploads', { body: new Uint8Array(1000), tempId: 'tmp_too_large_1' });
    expect(sync.pendingCount.value).toBe(1);
  });

  it('bad binary bodies are refused (detached buffer, GET, Content-Type on a form, unreadable Blob) and store nothing', async () => {
    const server = await startServer();
    const disk = await makeDisk('indexeddb');
    const { storage, sync } = await session(disk, server);
    const before = await storage.keys();
    const buffer = new ArrayBuffer(8);
    structuredClone(buffer, { transfer: [buffer] }); // detaches it
    await expect(sync.queue('POST', '/api/uploads', { body: buffer })).rejects.toMatchObject({
      code: 'sync/invalid-body',
      message: expect.stringContaining('detached'),
    });
    const view = new Uint8Array(new ArrayBuffer(8));
    structuredClone(view.buffer, { transfer: [view.buffer] });
    await expect(sync.queue('POST', '/api/uploads', { body: view })).rejects.toMatchObject({
      code: 'sync/invalid-body',
    });
    await expect(sync.queue('GET', '/api/uploads', { body: new Blob(['x']) })).rejects.toMatchObject({
      code: 'sync/invalid-body',
    });
    const form = new FormData();
    form.append('file', new Blob(['x']), 'x.txt');
    await expect(
      sync.queue('POST', '/api/uploads', { body: form, headers: { 'Content-Type': 'multipart/form-data' } }),
    ).rejects.toMatchObject({ code: 'sync/invalid-headers' });
    // A File that can no longer be read (changed or removed on disk since it was picked).
    class GoneFile extends Blob {
      override slice(): Blob {
        return { arrayBuffer: () => Promise.reject(new Error('NotReadableError')) } as unknown as Blob;
      }
    }
    await expect(
      sync.queue('POST', '/api/uploads', { body: new GoneFile(['x'.repeat(10)]), tempId: 'tmp_gone_file_1' }),
    ).rejects.toMatchObject({
      code: 'sync/invalid-body',
      message: expect.stringContaining('NotReadableError'),
    });
    expect(await storage.keys()).toStrictEqual(before);
    expect(sync.pendingCount.value).toBe(0);
    await sync.queue('POST', '/api/uploads', { body: new Blob(['ok']), tempId: 'tmp_gone_file_1' });
    expect(sync.pendingCount.value).toBe(1);
  });
});

describe('exactly once', () => {
  /**
   * A TCP proxy to `target` that cuts the first `cuts` connections once `afterBytes` of the
   * request went through: a connection dropped in the middle of an upload.
   */
  async function cuttingProxy(target: RunningServer, afterBytes: number, cuts: number) {
    let remaining = cuts;
    const sockets = new Set<Socket>();
    const proxy = createTcpServer((client) => {
      const upstream = connect(target.port, '127.0.0.1');
      sockets.add(client).add(upstream);
      const cut = remaining-- > 0;
      let forwarded = 0;
      client.on('data', (data) => {
        forwarded += data.length;
        if (cut && forwarded > afterBytes) {
          upstream.write(data.subarray(0, data.length - (forwarded - afterBytes)));
          client.destroy();
          upstream.destroy();
          return;
        }
        upstream.write(data);
      });
      upstream.on('data', (data) => client.write(data));
      for (const socket of [client, upstream]) {
        socket.on('error', () => undefined);
        socket.on('close', () => {
          client.destroy();
          upstream.destroy();
        });
      }
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    onTestFinished(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    });
    const { port } = proxy.address() as { port: number };
    return { url: `http://127.0.0.1:${port}`, cutsLeft: () => remaining };
  }

  it('a connection cut mid-upload, then an answer lost: the upload is stored once, the create once', async () => {
    const server = await startServer();
    const proxy = await cuttingProxy(server, 200_000, 1);
    const disk = await makeDisk('file');
    const { sync, connectivity } = await session(disk, server, {
      sync: { baseUrl: proxy.url, retry: { baseDelayMs: 1, maxDelayMs: 5 } },
    });
    const image = new Uint8Array(randomBytes(700_000));
    const form = new FormData();
    form.append('caption', 'sunset');
    form.append('photo', new File([image], 'sunset.jpg', { type: 'image/jpeg' }));
    const upload = await sync.queue('POST', '/api/uploads', {
      body: form,
      tempId: 'tmp_sunset_0001',
    });
    const create = await sync.queue('POST', '/api/notes', {
      body: { title: 'Sunset', photo: 'tmp_sunset_0001' },
    });
    // The second attempt is applied but its answer never arrives; the third gets the stored answer.
    const faults = await fetch(`${server.url}/api/_faults`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(['drop-after']),
    });
    expect(faults.status).toBe(200);
    connectivity.setOnline(true);
    await until(() => sync.pendingCount.value === 0, 'both sent');
    expect(proxy.cutsLeft()).toBeLessThanOrEqual(0);
    expect(sync.failedCount.value).toBe(0);
    expect(server.state.uploads).toHaveLength(1);
    expect(server.state.log.map((entry) => entry.key)).toStrictEqual([upload.id, create.id]);
    // The upload's id (the default serverId field) replaced the temporary id.
    expect(server.state.notes).toMatchObject([{ title: 'Sunset', photo: 'u_1' }]);
    const got = await downloaded(server, '/api/uploads/u_1');
    expect(Buffer.from(got.bytes).equals(Buffer.from(image))).toBe(true);
  });
});

describe('stored chunks', () => {
  it('discard() and clearQueue() remove a body with its operation', async () => {
    const server = await startServer();
    const disk = await makeDisk('indexeddb');
    const { storage, sync } = await session(disk, server);
    const one = await sync.queue('POST', '/api/uploads', { body: new Uint8Array(600_000) });
    await sync.queue('POST', '/api/uploads', { body: new Uint8Array(300_000) });
    const chunks = async () => (await storage.keys('sync/b/')).length;
    // Chunks of 35 KiB: 17 + 9.
    expect(await chunks()).toBe(26);
    expect(await sync.discard(one.id)).toBe(true);
    expect(await chunks()).toBe(9);
    expect(await sync.clearQueue()).toBe(1);
    expect(await storage.keys('sync/')).toStrictEqual([]);
  });

  it('a missing chunk fails its operation unsent (sync/record-unreadable); the next one is sent', async () => {
    const server = await startServer();
    const disk = await makeDisk('indexeddb');
    const first = await session(disk, server);
    const broken = await first.sync.queue('POST', '/api/uploads', { body: new Uint8Array(600_000) });
    const fine = await first.sync.queue('POST', '/api/uploads', { body: new Uint8Array(10) });
    await first.storage.remove(`sync/b/${broken.id}/1`);
    first.connectivity.setOnline(true);
    await until(() => first.sync.pendingCount.value === 0, 'the queue settled');
    expect(await first.sync.failed()).toMatchObject([
      { id: broken.id, lastError: { code: 'sync/record-unreadable' } },
    ]);
    expect(server.state.log.map((entry) => entry.key)).toStrictEqual([fine.id]);
  });
});
