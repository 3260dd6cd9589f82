// `npm start`: build the browser notes app, then serve it with the reference server.
//
//   npm start                 # http://127.0.0.1:5173/
//   PORT=8080 npm start       # another port; PORT=0 picks a free one
//
// The same environment as `npm run server` (examples/server/server.mjs): PORT, HOST,
// DATA_FILE (":memory:" for none), CORS_ORIGIN; the static root is always the app just built.
//
// Open the printed address, then try it offline: DevTools → Network → "Offline" (or stop this
// server), add and edit notes, reload, come back online. See docs/examples.md.
import { buildNotes, NOTES_DIST } from './notes/build.mjs';
import { createServer, serverOptionsFromEnv } from './server/server.mjs';

const options = { ...serverOptionsFromEnv(), staticDir: NOTES_DIST };
if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
  console.error(`PORT must be a number from 0 to 65535 (got ${process.env.PORT}).`);
  process.exit(1);
}

try {
  await buildNotes();
} catch (error) {
  console.error(`Building the notes app failed: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
}

let server;
try {
  server = await createServer(options);
} catch (error) {
  if (/** @type {{ code?: unknown }} */ (error)?.code === 'EADDRINUSE') {
    console.error(
      `Port ${options.port} on ${options.host} is already in use (another \`npm start\`?). ` +
        'Stop that one, or pick another port: PORT=8080 npm start (PORT=0 for any free port).',
    );
  } else {
    console.error(`The server could not start: ${error instanceof Error ? error.message : error}`);
  }
  process.exit(1);
}
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await server.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

// Printed once the handlers are in place, so a signal right after this line stops cleanly.
console.log(`Fluxy notes: ${server.url}/`);
console.log('Press Ctrl-C to stop.');
