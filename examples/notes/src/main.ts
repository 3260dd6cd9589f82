// The Fluxy notes example: bootstrap. Read this file first, then notes-controller.ts and view.ts.
import { ready, register } from 'fluxy';
import { ConnectivityPlugin } from 'fluxy/connectivity';
import { StoragePlugin } from 'fluxy/storage';
import { SyncPlugin } from 'fluxy/sync';
import { NotesController } from './notes-controller.js';
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
    }),
  );
  // Built before ready(): its mutations (defineMutation) must be there when an old outcome is delivered.
  const notes = new NotesController();
  await ready();
  await notes.refresh();
  mountView(document, { notes, sync, connectivity });
  // A handle for the browser console and the end-to-end tests.
  Object.assign(globalThis, { fluxyNotes: { notes, sync, connectivity, storage } });
  document.documentElement.dataset.ready = 'true';
}

function numberParam(name: string): number | undefined {
  const value = Number(params.get(name));
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

start().catch((error: unknown) => {
  console.error(error);
  showFatal(document, error);
});
