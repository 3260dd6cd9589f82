// The collections benchmark page: bundled by bench/collections/run.mjs, driven through
// `globalThis.collectionsBench`. Every figure is measured side by side with its baseline.
import { createApp } from '../../src/index.ts';
import { createLock, RowCache } from '../../src/plugins/collections/cache.ts';
import { catchUp } from '../../src/plugins/collections/conflicts.ts';
import { Collection } from '../../src/plugins/collections/index.ts';
import { RowView } from '../../src/plugins/collections/view.ts';
import { ConnectivityPlugin } from '../../src/plugins/connectivity/index.ts';
import { StoragePlugin } from '../../src/plugins/storage/index.ts';
import { SyncPlugin } from '../../src/plugins/sync/index.ts';

const SECRET = 'bench secret';
const now = () => performance.now();
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** `secret: null` for a database without encryption. */
async function openCollection(name, { secret = SECRET, online = false } = {}) {
  const app = createApp({ logger: { debug() {}, info() {}, warn() {}, error: console.error } });
  app.register(new StoragePlugin({ name, ...(secret ? { secret, iterations: 10_000 } : {}) }));
  const connectivity = app.register(new ConnectivityPlugin());
  connectivity.setOnline(online);
  app.register(new SyncPlugin({ baseUrl: '/api' }));
  const notes = app.register(new Collection('notes', { url: '/notes', pullIntervalMs: 0 }));
  await app.ready();
  return { app, notes, connectivity };
}

function idbRequest(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function rawStore(name, rows) {
  const open = indexedDB.open(name, 1);
  open.onupgradeneeded = () => open.result.createObjectStore('rows');
  const db = await idbRequest(open);
  const tx = db.transaction('rows', 'readwrite');
  for (const row of rows) tx.objectStore('rows').put(row, row.id);
  await new Promise((resolve) => {
    tx.oncomplete = resolve;
  });
  db.close();
}

async function rawGetAll(name) {
  const db = await idbRequest(indexedDB.open(name, 1));
  const rows = await idbRequest(db.transaction('rows').objectStore('rows').getAll());
  db.close();
  return rows;
}

/** The baseline: the same pages fetched and parsed in a plain loop (fetch + JSON only). */
async function fetchLoop(total) {
  let cursor = '';
  let count = 0;
  for (;;) {
    const page = await (await fetch(`/api/notes?since=${encodeURIComponent(cursor)}`)).json();
    count += page.changes.length;
    cursor = page.cursor;
    if (!page.more) break;
  }
  if (count !== total) throw new Error(`loop saw ${count}`);
}

/** Pull of all rows in pages, against a plain fetch loop of the same pages (fetch + JSON only). */
async function pull({ rounds, total, secret = true }) {
  const ours = [];
  const loop = [];
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? ['loop', 'ours'] : ['ours', 'loop'];
    for (const which of order) {
      if (which === 'loop') {
        const t0 = now();
        await fetchLoop(total);
        loop.push(now() - t0);
      } else {
        const name = `pull-${round}-${Math.random().toString(36).slice(2)}`;
        const { app, notes, connectivity } = await openCollection(name, {
          secret: secret ? SECRET : null,
        });
        connectivity.setOnline(true);
        const t0 = now();
        await notes.pull();
        ours.push(now() - t0);
        if (notes.items.value.length !== total) throw new Error(`pulled ${notes.items.value.length}`);
        await app.dispose();
        await idbRequest(indexedDB.deleteDatabase(name));
      }
    }
  }
  return { oursMs: median(ours), loopMs: median(loop), ratio: median(loop) / median(ours), ours, loop };
}

/** Cold start of a collection with `total` cached rows against a raw getAll() of the same rows. */
async function coldStart({ rounds, total, secret }) {
  const name = `cold-${Math.random().toString(36).slice(2)}`;
  const first = await openCollection(name, { secret: secret ? SECRET : null });
  first.connectivity.setOnline(true);
  await first.notes.pull();
  const rows = first.notes.items.value;
  await first.app.dispose();
  const rawName = `${name}-raw`;
  await rawStore(rawName, rows);
  const ours = [];
  const raw = [];
  for (let round = 0; round < rounds; round++) {
    const t0 = now();
    const got = await rawGetAll(rawName);
    raw.push(now() - t0);
    if (got.length !== total) throw new Error('raw count');
    const t1 = now();
    const again = await openCollection(name, { secret: secret ? SECRET : null });
    ours.push(now() - t1);
    if (again.notes.items.value.length !== total)
      throw new Error(`cold start saw ${again.notes.items.value.length}`);
    await again.app.dispose();
  }
  await idbRequest(indexedDB.deleteDatabase(name));
  await idbRequest(indexedDB.deleteDatabase(rawName));
  return { oursMs: median(ours), rawMs: median(raw), ratio: median(ours) / median(raw), ours, raw };
}

/** Time from update() to `items` showing it, with `total` rows. */
async function update({ total, updates }) {
  const name = `update-${Math.random().toString(36).slice(2)}`;
  const { app, notes, connectivity } = await openCollection(name);
  connectivity.setOnline(true);
  await notes.pull();
  connectivity.setOnline(false);
  if (notes.items.value.length !== total) throw new Error('rows');
  const times = [];
  for (let n = 0; n < updates; n++) {
    const row = notes.items.value[(n * 7919) % total];
    const t0 = now();
    const written = notes.update(row.id, { title: `edited ${n}` });
    const shown = notes.items.value.find((candidate) => candidate.id === row.id)?.title === `edited ${n}`;
    times.push(now() - t0);
    if (!shown) throw new Error('not shown in the same frame');
    await written;
  }
  await app.dispose();
  await idbRequest(indexedDB.deleteDatabase(name));
  return {
    medianMs: median(times),
    p95Ms: [...times].sort((a, b) => a - b)[Math.floor(times.length * 0.95)],
    times: times.length,
  };
}

/** One pull with only the pull itself between `control('start')` and `control('stop')` (the CPU profiler). */
async function profiledPull({ total, secret = true }) {
  const name = `profile-${Math.random().toString(36).slice(2)}`;
  const { app, notes, connectivity } = await openCollection(name, { secret: secret ? SECRET : null });
  connectivity.setOnline(true);
  await globalThis.profilerControl('start');
  const t0 = now();
  await notes.pull();
  const ms = now() - t0;
  await globalThis.profilerControl('stop');
  if (notes.items.value.length !== total) throw new Error(`pulled ${notes.items.value.length}`);
  await app.dispose();
  await idbRequest(indexedDB.deleteDatabase(name));
  return ms;
}

/** The fetch loop of `pull` alone between `control('start')` and `control('stop')`: the baseline's CPU. */
async function profiledLoop({ total }) {
  await globalThis.profilerControl('start');
  const t0 = now();
  await fetchLoop(total);
  const ms = now() - t0;
  await globalThis.profilerControl('stop');
  return ms;
}

/**
 * A tab's catch-up (conflicts.ts `catchUp`: changes left the outbox and the message of the tab that
 * sent them did not come) over a cache of `total` pulled rows, for `changes` changes that timed
 * out in one listing, timed until they are shown; medians of `rounds`. Run on the collection's own storage namespace, with a view of its own.
 */
async function catchUpBench({ total, rounds, changes, secret = true }) {
  const name = `catchup-${Math.random().toString(36).slice(2)}`;
  const { app, notes, connectivity } = await openCollection(name, { secret: secret ? SECRET : null });
  connectivity.setOnline(true);
  await notes.pull();
  if (notes.items.value.length !== total) throw new Error(`pulled ${notes.items.value.length}`);
  const cache = new RowCache(app.use('storage').namespace('collection-notes'), 'id', createLock(false, name));
  const times = [];
  for (let round = 0; round < rounds; round++) {
    const view = new RowView('id');
    const host = [{ key: 'id' }, cache, undefined, view];
    const ids = Array.from({ length: changes }, (_, n) => `n_${((round * 7919 + n * 104_729) % total) + 1}`);
    const t0 = now();
    // (As the collection calls it: once, with the changes of one listing that timed out.)
    await catchUp(
      host,
      ids.map((id) => ({ id })),
    );
    times.push(now() - t0);
    if (view.items.value.length !== new Set(ids).size)
      throw new Error(`caught up ${view.items.value.length}`);
  }
  await app.dispose();
  await idbRequest(indexedDB.deleteDatabase(name));
  return { medianMs: median(times), times };
}

globalThis.collectionsBench = {
  ready: true,
  pull,
  coldStart,
  update,
  catchUp: catchUpBench,
  profiledPull,
  profiledLoop,
};
