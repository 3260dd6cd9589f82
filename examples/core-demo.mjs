// The Fluxy core in one small Node script: `npm start`.
//
// Node cannot run the TypeScript sources directly, so this script bundles src/index.ts with
// esbuild (a dev dependency) into a temporary file and imports it; no `npm run build` needed.
// Falls back to dist/ when esbuild is not installed.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

async function loadFluxy() {
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    const dist = join(root, 'dist', 'index.js');
    if (existsSync(dist)) return import(pathToFileURL(dist).href);
    console.error('Run `npm install` (for esbuild) or `npm run build` first.');
    process.exit(1);
  }
  const outDir = mkdtempSync(join(tmpdir(), 'fluxy-demo-'));
  const outfile = join(outDir, 'fluxy.mjs');
  try {
    await esbuild.build({
      entryPoints: [join(root, 'src', 'index.ts')],
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      outfile,
      logLevel: 'error',
    });
    return await import(pathToFileURL(outfile).href);
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

const { createApp, FluxyPlugin, consoleLogger, flux, computed, effect, batch, isFluxyError } =
  await loadFluxy();

const step = (title) => console.log(`\n── ${title}`);

// A plain-object plugin: an in-memory note store.
const store = {
  name: 'store',
  notes: new Map(),
  async init(ctx) {
    ctx.logger.info('opening the in-memory store');
    await Promise.resolve(); // an async init: `notes` waits for it
    ctx.onDispose(() => {
      this.notes.clear();
      console.log('   store: cleared on dispose');
    });
  },
  dispose() {
    console.log('   store: dispose()');
  },
};

// A class plugin that depends on `store`. Its public methods wait for its init (whenReady).
class NotesPlugin extends FluxyPlugin {
  name = 'notes';
  dependencies = ['store'];
  count = flux(0);
  #store;
  #events;

  init(ctx) {
    this.#store = ctx.use('store');
    this.#events = ctx.events;
    const timer = setInterval(() => {}, 60_000); // released by dispose, so the process can exit
    ctx.onDispose(() => clearInterval(timer));
    ctx.logger.info('ready, using the store');
  }

  async add(text) {
    await this.whenReady();
    const id = `n${this.#store.notes.size + 1}`;
    this.#store.notes.set(id, text);
    this.count.value = this.#store.notes.size;
    this.#events.emit('notes:added', { id, text });
    return id;
  }

  dispose() {
    console.log('   notes: dispose()');
  }
}

const app = createApp({ logger: consoleLogger('info', '   [fluxy]') });

step('1. register two plugins (notes depends on store)');
const notes = app.register(new NotesPlugin());
app.register(store);
console.log(`   registered: store=${app.has('store')}, notes=${app.has(NotesPlugin)}`);

step('2. signals: an effect prints the note count whenever it changes');
const list = flux('Inbox');
const label = computed(() => `${notes.count.value} note${notes.count.value === 1 ? '' : 's'}`);
const stopEffect = effect(() => console.log(`   effect: ${list.value} has ${label.value}`));

step('3. events: listen to notes:added (on() returns its unsubscribe)');
const off = app.events.on('notes:added', ({ id, text }) =>
  console.log(`   event notes:added ${id} "${text}"`),
);
app.events.on('app:ready', () => console.log('   event app:ready'));

step('4. a public method before ready(): add() waits for the init, dependencies first');
await notes.add('buy milk');

step('5. ready(): already initialised, so nothing runs twice');
await app.ready();
await notes.add('call Ada');

step('6. batch(): two writes, one effect run');
batch(() => {
  list.value = 'Archive';
  list.value = 'Done';
});

step('7. unsubscribe: this add is not printed by the listener');
off();
await notes.add('quiet note');

step('8. bad input gets a typed error and changes nothing');
try {
  app.register({ name: 'notes' });
} catch (error) {
  console.log(`   ${isFluxyError(error) ? error.code : 'unexpected'}: ${error.message}`);
}

step('9. dispose(): reverse order (notes, then store); disposers first');
stopEffect();
await app.dispose();
console.log(`   disposed: ${app.disposed}; the process now exits by itself (no timer left).`);
