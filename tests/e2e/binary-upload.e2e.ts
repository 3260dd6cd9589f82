// Binary bodies in Chromium (real IndexedDB, encrypted): a photo note made offline — the upload
// of a PNG Blob that introduces a temporary id, then the note create that points to it — is
// stored, the page is reloaded, and the queue then drains from storage: the server gets the bytes
// once, byte for byte, and the note points to the real upload.
import { expect, test } from 'vitest';
import {
  type FluxyNotesHandle,
  goOnlineAfterPull,
  type Harness,
  harnessPerTest,
  openApp,
  serverLog,
  setBrowserOffline,
  waitForApp,
  waitForPending,
} from './harness.js';

let harness: Harness;
harnessPerTest((started) => {
  harness = started;
});

/** A PNG signature followed by 100,000 pseudo-random bytes: three 35 KiB chunks. */
function photoBytes(): number[] {
  const bytes = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  let seed = 12345;
  for (let index = 0; index < 100_000; index++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    bytes.push(seed >>> 24);
  }
  return bytes;
}

test('a photo note made offline is uploaded, then created, after a reload', async () => {
  const page = await openApp(harness);
  const photo = photoBytes();
  await setBrowserOffline(harness.context, true);
  const queued = await page.evaluate(async (bytes) => {
    const { sync } = (globalThis as unknown as { fluxyNotes: FluxyNotesHandle }).fluxyNotes as unknown as {
      sync: {
        queue(method: string, url: string, options: unknown): Promise<{ id: string }>;
      };
    };
    const body = new Blob([new Uint8Array(bytes)], { type: 'image/png' });
    const upload = await sync.queue('POST', '/uploads', { body, tempId: 'tmp_photo_e2e_0001' });
    const note = await sync.queue('POST', '/notes', {
      body: { title: 'Beach photo', photo: 'tmp_photo_e2e_0001' },
    });
    return [upload.id, note.id];
  }, photo);
  await waitForPending(page, 2);
  expect(await serverLog(harness)).toEqual([]);
  // As stored (encrypted, base64): 3 chunk records, each under 64 KiB, the size over which Chromium
  // writes an IndexedDB value as a blob file of its own.
  const chunkSizes = await page.evaluate(async () => {
    const sizes: number[] = [];
    for (const { name } of await indexedDB.databases()) {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const request = indexedDB.open(name as string);
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      for (const storeName of db.objectStoreNames) {
        const store = db.transaction(storeName).objectStore(storeName);
        const [keys = [], values = []] = await Promise.all(
          [store.getAllKeys(), store.getAll()].map(
            (request) =>
              new Promise<unknown[]>((resolve, reject) => {
                request.onsuccess = () => resolve(request.result as unknown[]);
                request.onerror = () => reject(request.error);
              }),
          ),
        );
        keys.forEach((key, index) => {
          if (/(^|\/)b\/[^/]+\/\d+$/.test(String(key))) sizes.push(JSON.stringify(values[index]).length);
        });
      }
      db.close();
    }
    return sizes;
  });
  expect(chunkSizes).toHaveLength(3);
  for (const size of chunkSizes) expect(size).toBeLessThan(64 * 1024);
  expect(Math.max(...chunkSizes)).toBeGreaterThan(60_000); // full 35 KiB chunks, encrypted

  // Online but not sending until the reload: what is sent is read back from IndexedDB.
  await goOnlineAfterPull(harness, page);
  await page.reload();
  await waitForApp(page);
  await waitForPending(page, 0, 30_000);

  const failed = await page.evaluate(async () => {
    const { sync } = (globalThis as unknown as { fluxyNotes: { sync: { failed(): Promise<unknown[]> } } })
      .fluxyNotes;
    return sync.failed();
  });
  expect(failed).toEqual([]);
  const log = await serverLog(harness);
  expect(log.map((entry) => entry.key)).toEqual(queued);
  expect(log.map((entry) => `${entry.method} ${entry.path}`)).toEqual([
    'POST /api/uploads',
    'POST /api/notes',
  ]);
  expect(harness.server.state.uploads).toHaveLength(1);
  const download = await fetch(`${harness.server.url}/api/uploads/u_1`);
  expect(download.status).toBe(200);
  expect(download.headers.get('Content-Type')).toBe('image/png');
  expect(Buffer.from(await download.arrayBuffer()).equals(Buffer.from(photo))).toBe(true);
  const notes = (await (await fetch(`${harness.server.url}/api/notes`)).json()) as Array<{
    title: string;
    photo?: string;
  }>;
  expect(notes).toMatchObject([{ title: 'Beach photo', photo: 'u_1' }]);
});
