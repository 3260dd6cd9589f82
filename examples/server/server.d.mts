// Types for server.mjs (plain JavaScript, so Node runs it without a build step).

export interface ServerOptions {
  /** Port to listen on; 0 picks a free one. @default 0 (the CLI's default is 5173) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** JSON file holding notes, idempotency keys and the log; null keeps everything in memory. @default 'examples/server/.data/db.json' */
  dataFile?: string | null;
  /** Directory served at `/`; null or missing → a placeholder page. @default 'examples/notes/dist' */
  staticDir?: string | null;
  /** Origin(s) allowed to call the API cross-origin, e.g. 'http://localhost:5174'. Never '*'. @default none */
  corsOrigin?: string | readonly string[] | null;
  /** How long a key's stored response is kept. @default 604800000 (7 days) */
  idempotencyTtlMs?: number;
  /** Changes per page of a collection's changes feed (`GET /api/notes?since=`). @default 500 */
  feedPageSize?: number;
  /** The largest batch request body (`POST /api/batch`) taken; a larger one is answered 413. @default 4194304 (4 MiB) */
  maxBatchBytes?: number;
  /** Receives one line per request. @default no logging */
  log?: (line: string) => void;
  /**
   * Clock in epoch milliseconds (tests): key expiry, the notes' dates, the stamps of writes
   * without `Fluxy-Clock`, and the limit on those with one (5 minutes ahead). @default Date.now
   */
  now?: () => number;
}

export interface Note {
  id: string;
  title: string;
  body: string;
  clientId: string | null;
  createdAt: string;
  updatedAt: string;
  version: number;
  /** The url of an upload (`/api/uploads/:id`), when the note has a photo. */
  photo?: string;
}

/** An upload's record (its bytes are kept apart, by SHA-256). */
export interface Upload {
  id: string;
  type: string;
  size: number;
  sha256: string;
  filename?: string;
  fields?: Record<string, string>;
  createdAt: string;
}

/** One applied mutation, as listed by `GET /api/_log`. */
export interface LogEntry {
  seq: number;
  key: string | null;
  method: string;
  path: string;
  body: unknown;
  at: string;
}

export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The persisted document (what the data file holds). Read-only: change it over HTTP. */
export interface ServerState {
  version: 1;
  /**
   * Chosen at random when the data is created, and again at each `POST /api/_reset`: the feed's
   * cursors (`c1.<epoch>.<seq>`) and the notes' ids (`n_<number>_<epoch>`) carry it.
   */
  epoch: string;
  nextNoteNumber: number;
  notes: Note[];
  nextSeq: number;
  log: LogEntry[];
  keys: Record<string, { fingerprint: string; response: StoredResponse; storedAt: number }>;
  nextUploadNumber?: number;
  uploads?: Upload[];
}

export interface RunningServer {
  /** Origin without a trailing slash, e.g. 'http://127.0.0.1:5173'. */
  readonly url: string;
  readonly port: number;
  /** The last committed state. */
  readonly state: Readonly<ServerState>;
  /** Stops listening, drops open connections, waits for a write in progress. Safe to call twice. */
  close(): Promise<void>;
}

/** A fault for `POST /api/_faults`. */
export type Fault =
  | 'ok'
  | 'drop-before'
  | 'drop-after'
  | { status: number; retryAfter?: string }
  | { delayMs: number };

export const DEFAULT_DATA_FILE: string;
export const DEFAULT_STATIC_DIR: string;
export const DEFAULT_IDEMPOTENCY_TTL_MS: number;

export function createServer(options?: ServerOptions): Promise<RunningServer>;

/**
 * The CLI's options from its environment: PORT (default 5173), HOST, DATA_FILE (":memory:" for
 * none), STATIC_DIR, CORS_ORIGIN (comma-separated). `npm start` uses it too.
 */
export function serverOptionsFromEnv(env?: NodeJS.ProcessEnv): {
  port: number;
  host: string;
  dataFile: string | null;
  staticDir: string;
  corsOrigin: string[];
};
