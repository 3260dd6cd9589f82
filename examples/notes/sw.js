// The notes app's service worker: it keeps the app shell (the page, its script and its styles) on
// the device, so the app starts with no network at all — offline, or with the server down.
//
// It only serves the shell. Requests to the API (/api/…) and to the connectivity probe (/health)
// never go through it: they leave the page straight for the network, so they fail when the
// device is offline and the app's own offline detection and outbox see the truth. Data lives in
// IndexedDB (the Sync plugin's outbox and the notes), never in this cache.
//
// Built by build.mjs, which replaces the BUILD line below with this build's hash and files: a
// new build is a new sw.js, so the browser installs it, and it replaces the previous cache.

const BUILD = { version: 'unbuilt', shell: ['index.html', 'main.js', 'styles.css'] };

const CACHE_PREFIX = 'fluxy-notes-shell-';
const CACHE = CACHE_PREFIX + BUILD.version;
/** The shell's URLs, resolved against the scope (the folder sw.js is served from). */
const SHELL = new Set(BUILD.shell.map((file) => new URL(file, self.registration.scope).href));
const INDEX = new URL('index.html', self.registration.scope).href;

self.addEventListener('install', (event) => {
  // Where the browser supports static routing, the API and the probe skip this worker entirely.
  if (typeof event.addRoutes === 'function') {
    const network = (pathname) => ({ condition: { urlPattern: { pathname } }, source: 'network' });
    event.waitUntil(event.addRoutes([network('/api/*'), network('/health')]).catch(() => {}));
  }
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // `reload`: fetch the files themselves, not a copy from the HTTP cache.
      await cache.addAll([...SHELL].map((url) => new Request(url, { cache: 'reload' })));
      await self.skipWaiting(); // a new build takes over without waiting for every tab to close
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      await Promise.all(
        names
          .filter((name) => name.startsWith(CACHE_PREFIX) && name !== CACHE)
          .map((name) => caches.delete(name)),
      );
      await self.clients.claim(); // control the page that registered us, without a reload
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith('/api/') || url.pathname === '/health') return; // the network's, not ours

  // The query is not part of the key (`/?secret=…` is the same page); `/` is index.html.
  const path = url.origin + url.pathname;
  const key = path === self.registration.scope ? INDEX : path;
  if (!SHELL.has(key)) return; // not part of the shell (e.g. main.js.map): fetched as usual
  event.respondWith(cacheFirst(key, request));
});

/** The cached copy; the network if it is missing (the cache was cleared). */
async function cacheFirst(key, request) {
  const cache = await caches.open(CACHE);
  return (await cache.match(key)) ?? fetch(request);
}
