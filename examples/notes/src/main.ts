// The Fluxy notes example: bootstrap. Read this file first, then notes-controller.ts and view.ts.
import { ready, register } from 'fluxy';
import { Collection } from 'fluxy/collections';
import { ConnectivityPlugin } from 'fluxy/connectivity';
import { StoragePlugin } from 'fluxy/storage';
import { SyncPlugin } from 'fluxy/sync';
import { type Note, NotesController } from './notes-controller.js';
import { mountView, showFatal } from './view.js';

const params = new URLSearchParams(location.search);

// The key that encrypts everything this app stores (the outbox and the notes). A real app derives
// it from the user's login (e.g. a passphrase, or a key the server hands out after sign-in) and
// never ships it in code; this demo uses a constant, or `?secret=…` to try another one.
const secret = params.get('secret') || 'fluxy-notes-demo-secret';
// PBKDF2 iterations for a *new* database. Only tests lower it (`?iterations=10000`); the default
// is the library's (600,000), which costs a fraction of a second once per page load.
const iterations = numberParam('iterations');
// Test knob: how fast to retry and probe after a failure (`?retryMs=200`). Default: the library's.
const retryMs = numberParam('retryMs');
// Demo knob: pull the server's changes every this many ms (`?pullMs=2000`, at least 1000).
// Default: the library's (30 s); the notes are also pulled on start, on reconnect and when the tab
// becomes visible.
const pullMs = numberParam('pullMs');
// Demo knob: send up to this many queued writes per request to the server's batch endpoint
// (`?batch=100`, POST /api/batch). Default: one request per write.
const batchMax = numberParam('batch');

async function start(): Promise<void> {
  const storage = register(
    new StoragePlugin({ name: 'fluxy-notes', secret, ...(iterations ? { iterations } : {}) }),
  );
  // "Online" means /health answered, not just that the browser thinks it has a network.
  const connectivity = register(
    new ConnectivityPlugin({
      probe: { url: '/health', ...(retryMs ? { intervalMs: retryMs, maxIntervalMs: retryMs * 5 } : {}) },
    }),
  );
  const sync = register(
    new SyncPlugin({
      baseUrl: '/api',
      ...(retryMs ? { retry: { baseDelayMs: retryMs, maxDelayMs: retryMs * 5 } } : {}),
      ...(batchMax ? { batch: { url: '/batch', max: Math.min(1000, Math.floor(batchMax)) } } : {}),
    }),
  );
  // The notes: cached on the device (encrypted), pulled from GET /api/notes?since=…, written
  // through the outbox (POST /api/notes, PATCH and DELETE /api/notes/:id).
  const collection = register(
    new Collection<Note>('notes', {
      url: '/notes',
      // The server keeps a new note's temporary id as its clientId: a note pulled before the
      // answer to its creation arrived is then recognised, not shown twice.
      clientIdField: 'clientId',
      ...(pullMs ? { pullIntervalMs: Math.max(1000, pullMs) } : {}),
    }),
  );
  await ready(); // the cached notes and the queue are loaded: the app renders offline too
  const notes = new NotesController(collection);
  mountView(document, { notes, sync, connectivity });
  // A handle for the browser console and the end-to-end tests.
  Object.assign(globalThis, { fluxyNotes: { notes, collection, sync, connectivity, storage } });
  document.documentElement.dataset.ready = 'true';
}

/**
 * The service worker (sw.js, next to index.html) keeps the app's own files on the device, so the
 * page loads offline too. It serves nothing else: the API and /health always go to the network.
 * Service workers need a secure context (https, or http on localhost / 127.0.0.1).
 */
function registerServiceWorker(): void {
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker.register('./sw.js', { scope: './' }).catch((error: unknown) => {
    // The app still works online; it just cannot start without the network.
    console.warn('The service worker could not be registered; the app will not load offline.', error);
  });
}

function numberParam(name: string): number | undefined {
  const value = Number(params.get(name));
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

registerServiceWorker();
start().catch((error: unknown) => {
  console.error(error);
  showFatal(document, error);
});
