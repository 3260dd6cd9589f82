// @ts-check
/**
 * Fluxy's reference server: the notes API behind the examples and the end-to-end tests, and
 * a working model of the server contract (docs/server-contract.md).
 *
 *   node examples/server/server.mjs            # http://127.0.0.1:5173/
 *   PORT=0 node examples/server/server.mjs     # any free port
 *
 * Environment (CLI only): PORT, HOST, DATA_FILE (":memory:" for none), STATIC_DIR,
 * CORS_ORIGIN (comma-separated origins).
 *
 * Or from code: `const server = await createServer({ dataFile: null }); … await server.close();`
 */
import { createServer as createHttpServer } from 'node:http';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequestHandler } from './app.mjs';
import { allowedOrigins } from './cors.mjs';
import { checkDocument, emptyDocument } from './document.mjs';
import { FaultQueue } from './faults.mjs';
import { IdempotencyKeys } from './idempotency.mjs';
import { newEpoch } from './notes.mjs';
import { createStaticHandler } from './static.mjs';
import { JsonFileDatabase } from './store.mjs';
import { BlobStore } from './uploads.mjs';

export const DEFAULT_DATA_FILE = fileURLToPath(new URL('./.data/db.json', import.meta.url));
export const DEFAULT_STATIC_DIR = fileURLToPath(new URL('../notes/dist', import.meta.url));
export const DEFAULT_IDEMPOTENCY_TTL_MS = 7 * 24 * 60 * 60 * 1000;

const OPTION_NAMES = [
  'port',
  'host',
  'dataFile',
  'staticDir',
  'corsOrigin',
  'idempotencyTtlMs',
  'feedPageSize',
  'maxBatchBytes',
  'log',
  'now',
];

/**
 * Starts the server and resolves once it listens.
 * @param {import('./server.d.mts').ServerOptions} [options]
 * @returns {Promise<import('./server.d.mts').RunningServer>}
 */
export async function createServer(options = {}) {
  const unknown = Object.keys(options).filter((name) => !OPTION_NAMES.includes(name));
  if (unknown.length > 0) throw new TypeError(`createServer: unknown option(s) ${unknown.join(', ')}.`);
  const {
    port = 0,
    host = '127.0.0.1',
    dataFile = DEFAULT_DATA_FILE,
    staticDir = DEFAULT_STATIC_DIR,
    idempotencyTtlMs = DEFAULT_IDEMPOTENCY_TTL_MS,
    feedPageSize = 500,
    maxBatchBytes = 4 * 1024 * 1024,
    log = () => {},
    now = Date.now,
  } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new TypeError('createServer: port must be 0–65535.');
  if (!(idempotencyTtlMs > 0))
    throw new TypeError('createServer: idempotencyTtlMs must be a positive number.');
  if (!Number.isInteger(feedPageSize) || feedPageSize < 1 || feedPageSize > 1000)
    throw new TypeError('createServer: feedPageSize must be an integer from 1 to 1000.');
  if (!Number.isInteger(maxBatchBytes) || maxBatchBytes < 1)
    throw new TypeError('createServer: maxBatchBytes must be a positive integer.');

  const db = await JsonFileDatabase.open(dataFile, emptyDocument);
  checkDocument(db.current, dataFile);
  // A data file from before epochs gets one (its devices' cursors, `c1.<seq>`, are answered 410).
  if (db.current.epoch === undefined)
    await db.update((draft) => {
      draft.epoch = newEpoch();
    });
  const aborter = new AbortController();
  const handleRequest = createRequestHandler({
    db,
    keys: new IdempotencyKeys(idempotencyTtlMs),
    faults: new FaultQueue(),
    serveStatic: createStaticHandler(staticDir),
    blobs: new BlobStore(dataFile ? `${dataFile}.uploads` : null),
    origins: allowedOrigins(options.corsOrigin),
    now,
    log,
    feedPageSize,
    maxBatchBytes,
    signal: aborter.signal,
  });

  const server = createHttpServer((request, response) => void handleRequest(request, response));
  await new Promise((listening, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      listening(undefined);
    });
  });
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  /** @type {Promise<void> | undefined} */
  let closing;
  return {
    url: `http://${urlHost}:${address.port}`,
    port: address.port,
    get state() {
      return db.current;
    },
    close() {
      closing ??= (async () => {
        aborter.abort(); // delayed requests stop waiting
        const closed = new Promise((done) => server.close(() => done(undefined)));
        server.closeAllConnections();
        await closed;
        await db.close(); // every committed write is on disk already; this waits for one in progress
      })();
      return closing;
    },
  };
}

/**
 * The server's options from its environment variables: PORT (default 5173), HOST, DATA_FILE
 * (":memory:" for none), STATIC_DIR, CORS_ORIGIN (comma-separated). Also used by `npm start`.
 * @param {NodeJS.ProcessEnv} [env]
 * @returns {{ port: number, host: string, dataFile: string | null, staticDir: string, corsOrigin: string[] }}
 */
export function serverOptionsFromEnv(env = process.env) {
  return {
    port: Number(env.PORT ?? '5173'),
    host: env.HOST || '127.0.0.1',
    dataFile: env.DATA_FILE === ':memory:' ? null : resolve(env.DATA_FILE || DEFAULT_DATA_FILE),
    staticDir: resolve(env.STATIC_DIR || DEFAULT_STATIC_DIR),
    corsOrigin: (env.CORS_ORIGIN ?? '')
      .split(',')
      .map((origin) => origin.trim())
      .filter(Boolean),
  };
}

/** Runs the server from the command line until SIGINT or SIGTERM. */
async function main() {
  const server = await createServer({ ...serverOptionsFromEnv(), log: (line) => console.log(line) });
  console.log(`Fluxy notes server: ${server.url}/`);

  /** @param {NodeJS.Signals} signal */
  const stop = async (signal) => {
    console.log(`${signal}: closing…`);
    await server.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(`Fluxy notes server could not start: ${error instanceof Error ? error.message : error}`);
    process.exit(1);
  });
}
