// 4. With a secret, what IndexedDB holds on disk contains no plaintext of the queued bodies
// (nor of the notes kept after sync), while the server does receive them.
import type { Page } from 'playwright-core';
import { expect, test } from 'vitest';
import {
  addNote,
  type Harness,
  harnessPerTest,
  noteId,
  openApp,
  serverLog,
  setBrowserOffline,
  waitForPending,
} from './harness.js';

let harness: Harness;
harnessPerTest((started) => {
  harness = started;
});

/**
 * Every key and value of every object store of every IndexedDB database of the origin, read
 * with the raw IndexedDB API (not through Fluxy) and turned into text: strings as they are,
 * binary data decoded as UTF-8 and Latin-1, objects as JSON.
 */
async function dumpIndexedDb(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const request = <T>(req: IDBRequest<T>) =>
      new Promise<T>((resolve, reject) => {
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
    const toText = async (value: unknown): Promise<string> => {
      if (typeof value === 'string') return value;
      if (value instanceof Blob) return toText(await value.arrayBuffer());
      if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
        const bytes =
          value instanceof ArrayBuffer
            ? new Uint8Array(value)
            : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
        return `${new TextDecoder('utf-8').decode(bytes)}\n${new TextDecoder('latin1').decode(bytes)}`;
      }
      if (value !== null && typeof value === 'object') {
        const parts = await Promise.all(
          Object.entries(value).map(async ([key, inner]) => `${key}:${await toText(inner)}`),
        );
        return `{${parts.join(',')}}`;
      }
      return JSON.stringify(value) ?? String(value);
    };
    const out: string[] = [];
    for (const info of await indexedDB.databases()) {
      if (!info.name) continue;
      const db = await request(indexedDB.open(info.name));
      for (const storeName of Array.from(db.objectStoreNames)) {
        const store = db.transaction(storeName, 'readonly').objectStore(storeName);
        const [keys, values] = await Promise.all([request(store.getAllKeys()), request(store.getAll())]);
        out.push(`# ${info.name}/${storeName}: ${keys.length} records`);
        for (let i = 0; i < keys.length; i++) out.push(`${String(keys[i])} = ${await toText(values[i])}`);
      }
      db.close();
    }
    return out.join('\n');
  });
}

/** A plaintext record in a scratch database: proves the dump does see stored values. */
async function storeCalibrationRecord(page: Page, text: string): Promise<void> {
  await page.evaluate(async (value) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const open = indexedDB.open('e2e-calibration', 1);
      open.onupgradeneeded = () => open.result.createObjectStore('records');
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    await new Promise<void>((resolve, reject) => {
      const tx = db.transaction('records', 'readwrite');
      tx.objectStore('records').put(JSON.stringify({ body: { title: value } }), 'p/1');
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
    db.close();
  }, text);
}

test('with a secret, IndexedDB holds no plaintext of queued bodies; the server gets them', async () => {
  const marker = `marker-${Math.random().toString(36).slice(2, 12)}`;
  const page = await openApp(harness, `secret=correct-horse-${marker.length}&iterations=10000&retryMs=200`);
  await setBrowserOffline(harness.context, true);

  await addNote(page, `Title ${marker}`, `Body ${marker} with ünïcödé`);
  await addNote(page, 'Second note', `another ${marker}`);
  await waitForPending(page, 2);

  const calibration = `calibration-${marker}`;
  await storeCalibrationRecord(page, calibration);
  const offlineDump = await dumpIndexedDb(page);
  expect(offlineDump).toContain(calibration); // the dump reads stored values…
  expect(offlineDump).toMatch(/# fluxy-notes\/records: \d+ records/);
  expect(offlineDump).toContain('sync/p/'); // …including the queued operations (keys are not secret)…
  expect(withoutCalibration(offlineDump, calibration)).not.toContain(marker); // …and none of their bodies

  await setBrowserOffline(harness.context, false);
  await waitForPending(page, 0);
  const received = JSON.stringify(await serverLog(harness));
  expect(received).toContain(`Title ${marker}`);
  expect(received).toContain(`Body ${marker}`);

  // After sync the app keeps the server's copies of the notes: encrypted as well.
  await expect
    .poll(() => page.getByTestId('note-state').allTextContents(), { message: 'both notes saved' })
    .toEqual([`saved · ${noteId(harness, 2)}`, `saved · ${noteId(harness, 1)}`]);
  const syncedDump = await dumpIndexedDb(page);
  expect(syncedDump).toMatch(/^collection-notes\/\S+ = /m); // the notes collection's records (rows, cursor…)
  expect(withoutCalibration(syncedDump, calibration)).not.toContain(marker);
});

function withoutCalibration(dump: string, calibration: string): string {
  return dump.split(calibration).join('');
}
