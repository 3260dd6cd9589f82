import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  validateHeaderName,
  validateHeaderValue,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { invalidArgument } from '../core/errors.js';
import { checkOptions, describeInput } from '../core/input-checks.js';
import {
  type Answer,
  FaultCollection,
  type FaultCollectionOptions,
  type ServerRow,
} from './fault-collection.js';
import { checkWaitOptions, withTimeout } from './wait.js';

/**
 * What the fault server does with one request:
 * - `ok`: apply (once per Idempotency-Key) and answer 201 (or replay the stored answer; 422 for
 *   a key that comes with another request);
 * - `drop-before`: destroy the socket before applying anything;
 * - `drop-after`: apply and store the answer, then destroy the socket (the ambiguous case);
 * - `hang`: never answer;
 * - `stall-body`: apply, send the status, headers and half of the body, then never finish it;
 * - `garble-body`: apply, answer with only the first half of the JSON body (unparsable);
 * - `{ status, retryAfter?, headers? }`: answer that status (with those headers) without applying;
 * - `{ delayMs, next? }`: wait, then do `next` (default `ok`): latency. A request that waits to be
 *   applied holds its Idempotency-Key meanwhile, as the reference server does: the same key
 *   meanwhile is answered `409 { error: 'in-progress' }` with `Retry-After: 1` (`422` when it
 *   comes with another request).
 */
export type Fault =
  | 'ok'
  | 'drop-before'
  | 'drop-after'
  | 'hang'
  | 'stall-body'
  | 'garble-body'
  | { status: number; retryAfter?: string; headers?: Record<string, string> }
  | { delayMs: number; next?: Fault };

/** One effect the server applied (once per Idempotency-Key when `dedupe` is on). */
export interface Applied {
  key: string | null;
  method: string;
  path: string;
  /**
   * The request body parsed as JSON; its text when it is not JSON (a multipart `FormData`, plain
   * text — for binary bodies compare the request's `bytes` in {@link FaultServer.received});
   * `undefined` when empty.
   */
  body: unknown;
}

/** One request the server received. */
export interface Received {
  key: string | null;
  method: string;
  path: string;
  /** Request headers, lower-case names (as Node gives them). */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body as UTF-8 text. */
  body: string;
  /** The body's bytes, as sent (binary bodies: a photo, a file). */
  bytes: Uint8Array;
}

/** Options of {@link FaultServer.start}. */
export interface FaultServerOptions {
  /**
   * Store answers per Idempotency-Key and replay them (the server contract); a key that comes back
   * with another method, path or body gets `422 { error: 'idempotency-key-reuse' }`, nothing
   * applied. @default true
   */
  dedupe?: boolean;
  /**
   * Decide the fault of each request (after the scripted ones run out): return a {@link Fault}
   * for every request, `'ok'` for the usual answer. Anything else — `undefined` included (a branch
   * without `return`) — is refused: that request's connection is dropped and the `invalid-argument`
   * error, naming the request, is thrown as an unhandled rejection, which fails the test run.
   * @default () => 'ok'
   */
  choose?: (request: Received) => Fault;
  /**
   * The path of a batch endpoint (SyncPlugin's `batch` option), e.g. `'/batch'`: a `POST` there
   * runs `{ ops: [{ id, method, url, headers, body }] }` in order, each op once per `id`, stopping
   * at the first that does not succeed, and answers `200 { results: [{ id, status, body }] }`. The
   * request takes a fault of its own (`drop-after`: run every op, then drop the connection), then
   * each op takes the next one as if it were a request of its own (given to `choose` as one, not
   * added to `received`): a status is that op's result and ends the batch; `drop-before` /
   * `drop-after` drop the connection before / after that op is applied; `hang` never answers.
   */
  batch?: string;
  /**
   * Collections to serve (`fluxy/collections`), by path as the server receives it (`'/notes'` for
   * a Collection with `url: '/notes'` and SyncPlugin's `baseUrl: server.url`). Each serves the
   * protocol of docs/collections.md: `GET path?since=<cursor>` → `{ changes, deleted, cursor,
   * more, clock? }` in pages of `pageSize`; `POST path` → `201` the row with a new id (`srv-1`, …)
   * and `version: 1`; `PATCH path/:id` → `200` the row; `DELETE path/:id` → `204` (`200` with the
   * row when the delete lost under last writer wins); `GET path/:id`. Writes honour `Fluxy-Clock`
   * (a clock per field: a field is set only by a newer write; tombstones as in docs/conflicts.md)
   * and `If-Match: "<version>"` (`412 { current }`, nothing applied); a deleted row answers `410`,
   * an unknown one `404`. Writes are deduplicated by Idempotency-Key like every request and listed
   * in `applied` when answered 2xx; reads are neither stored nor listed. Faults apply to all of it.
   * @default {} (none)
   * @example FaultServer.start({ collections: { '/notes': { pageSize: 2 } } })
   */
  collections?: Readonly<Record<string, FaultCollectionOptions>>;
}

/** What {@link FaultServer.start} hands its constructor: `new FaultServer()` alone is refused. */
const starting: unique symbol = Symbol('FaultServer.start');

/**
 * A real HTTP server on 127.0.0.1 (Node only) that plays your API in tests: it applies each
 * request once per `Idempotency-Key` (the server contract) and answers `201 { id, serverId }` — both `srv-1`,
 * `srv-2`…: `id` is what SyncPlugin reads by default, so temporary ids are replaced — (or
 * plays a collection, at the paths of {@link FaultServerOptions.collections}), and it injects the
 * faults you script — dropped connections before or after the commit, statuses with
 * `Retry-After`, latency, hangs, truncated bodies — while recording what it received and what
 * it applied.
 *
 * @example
 * const server = await FaultServer.start();
 * server.script('drop-after', { status: 503, retryAfter: '0' }); // then 'ok'
 * // … point SyncPlugin's baseUrl at server.url, queue, await settled(app) …
 * expect(server.applied).toHaveLength(1); // applied once, though sent three times
 * await server.close();
 */
export class FaultServer {
  /** What was applied, in order: one entry per new Idempotency-Key (with `dedupe`). */
  readonly applied: Applied[] = [];
  /** Every request received, in order, retries included. */
  readonly received: Received[] = [];
  #script: Fault[] = [];
  /** Faults aimed at requests of one method and/or path ({@link FaultServer.scriptFor}), in order. */
  #aimed: Array<{ method: string | undefined; path: string | undefined; fault: Fault }> = [];
  /** The stored answer of each key, with the request it answered (method, path and body). */
  readonly #answers = new Map<string, { answer: Answer; request: string }>();
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #options: FaultServerOptions;
  readonly #waiters: Array<{ count: number; resolve: () => void; reject: (error: Error) => void }> = [];
  /**
   * The keys whose first request is being processed (waits in a `{ delayMs }` fault before it is
   * applied), with that request: the same key meanwhile is answered 409 (see #fault).
   */
  readonly #running = new Map<string, Received>();
  /** The answer decided for a request whose key was being processed when it came (409, or 422). */
  readonly #busy = new WeakMap<Received, Answer>();
  /** The timers of `{ delayMs }` faults still running: close() clears them. */
  readonly #delays = new Set<ReturnType<typeof setTimeout>>();
  /** The collections served, by path. */
  readonly #collections = new Map<string, FaultCollection>();
  /** Set by close(): a later waitForRequests() rejects at once. */
  #closed = false;
  #url = '';

  private constructor(options: FaultServerOptions, token?: typeof starting) {
    if (token !== starting)
      throw invalidArgument(
        'new FaultServer(): start one with `await FaultServer.start(options)`, which listens on a free port of 127.0.0.1 and sets its url.',
      );
    this.#options = options;
    for (const [path, collection] of Object.entries(options.collections ?? {})) {
      if (!/^\/\S*[^/\s]$/.test(path))
        throw invalidArgument(
          `FaultServer: a collection's path must start with "/" (got ${JSON.stringify(path)}).`,
        );
      this.#collections.set(path, new FaultCollection(path, collection));
    }
    this.#server = createServer((request, response) => {
      // A failure here (a `choose` that throws or returns no Fault) drops the connection, so the
      // client does not wait for its timeout, and stays an unhandled rejection: the test fails loudly.
      this.#handle(request, response).catch((error: unknown) => {
        request.socket.destroy();
        throw error;
      });
    });
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  /**
   * Starts a server on a free port of 127.0.0.1. Rejects with `invalid-argument`, starting
   * nothing, for options it does not know (a typo) or of the wrong type.
   */
  static async start(options: FaultServerOptions = {}): Promise<FaultServer> {
    // (`this`, not the class's name: a class naming itself in its body is renamed `_FaultServer`
    // by the bundler.)
    const server = new this(checkServerOptions(options), starting);
    await new Promise<void>((resolve) => server.#server.listen(0, '127.0.0.1', resolve));
    server.#url = `http://127.0.0.1:${(server.#server.address() as AddressInfo).port}`;
    return server;
  }

  /** `http://127.0.0.1:<port>`: give it as SyncPlugin's `baseUrl`. Read-only. */
  get url(): string {
    return this.#url;
  }

  /**
   * Faults for the next requests, one each, before `choose` takes over — any request, in the
   * order they come: with a collection, a pull that comes first takes the fault meant for a write
   * (aim it with {@link FaultServer.scriptFor}). Throws `invalid-argument` for something that is
   * not a {@link Fault} (a status must be a whole number from 200 to 599), and after
   * {@link FaultServer.close} (no request would ever play them).
   */
  script(...faults: Fault[]): void {
    this.#checkScript('script', faults);
    this.#script.push(...faults);
  }

  /**
   * Faults for the next requests of a method and/or path, one each, before {@link script}'s and
   * `choose`'s: `path` is the request's path without its query (`'/notes'` also matches
   * `GET /notes?since=…`); `method` is compared in upper case. Other requests do not take them.
   * Throws `invalid-argument` for a target without a method or path, or of another shape, and as
   * {@link script} does.
   *
   * @example server.scriptFor({ method: 'POST', path: '/notes' }, 'drop-after'); // not the pull's
   */
  scriptFor(target: { method?: string; path?: string }, ...faults: Fault[]): void {
    const { method, path } = checkOptions(target, ['method', 'path'], (problem) =>
      invalidArgument(
        `FaultServer.scriptFor(target, ...faults): target ${problem}, e.g. { method: 'POST', path: '/notes' }.`,
      ),
    );
    if (
      (method === undefined && path === undefined) ||
      (method !== undefined && (typeof method !== 'string' || method === '')) ||
      (path !== undefined && (typeof path !== 'string' || !path.startsWith('/')))
    )
      throw invalidArgument(
        `FaultServer.scriptFor(target, ...faults): target needs a method (a non-empty string) and/or a path starting with "/", e.g. { method: 'POST', path: '/notes' } (got ${describeInput(target)}).`,
      );
    this.#checkScript('scriptFor', faults);
    for (const fault of faults) this.#aimed.push({ method: method?.toUpperCase(), path, fault });
  }

  #checkScript(name: string, faults: Fault[]): void {
    if (this.#closed)
      throw invalidArgument(
        `FaultServer.${name}(): the server is closed, so no request would play these faults: script them before close(), or start a new server with FaultServer.start().`,
      );
    for (const fault of faults) checkFault(fault);
  }

  /**
   * Resolves once `count` requests in total have been received; rejects after `timeoutMs`
   * (default 4 s: under Vitest's and Jest's own 5 s), or when the server is closed first, with an error naming `label` and what
   * did arrive. Rejects with `invalid-argument` when `count` is not a whole number from 0, or
   * for options it does not know or of the wrong type.
   */
  async waitForRequests(count: number, options: { timeoutMs?: number; label?: string } = {}): Promise<void> {
    if (!Number.isSafeInteger(count) || count < 0) {
      throw invalidArgument(
        `server.waitForRequests(count): count must be a whole number from 0 (got ${describeInput(count)}).`,
      );
    }
    const { timeoutMs = 4000, label = `${count} request(s) at the fault server` } = checkWaitOptions(
      options,
      'server.waitForRequests(count, options)',
    );
    if (this.received.length >= count) return;
    if (this.#closed)
      throw new Error(`${label}: the fault server was closed with ${this.received.length} received`);
    const waiter = { count, resolve: () => {}, reject: (_error: Error) => {} };
    const arrived = new Promise<void>((resolve, reject) => {
      waiter.resolve = resolve;
      waiter.reject = () =>
        reject(new Error(`${label}: the fault server was closed with ${this.received.length} received`));
      this.#waiters.push(waiter);
    });
    await withTimeout(arrived, timeoutMs, () => {
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
      return `${label}: ${this.received.length} received`;
    });
  }

  /**
   * The rows of the collection served at `path` (see {@link FaultServerOptions.collections}), as
   * the server has them now: copies, deleted rows left out, in the order they were created.
   * Throws `invalid-argument` for a path that is not a collection.
   *
   * @example expect(server.rows<Note>('/notes').map((note) => note.title)).toStrictEqual(['Food']);
   */
  rows<R extends ServerRow = ServerRow>(path: string): R[] {
    return this.#collection(path).rows() as R[];
  }

  /**
   * Changes a row of the collection at `path` as another device would, so the next pull brings it:
   * sets the given fields (others are kept; `version` is the server's), creates the row when its
   * id is absent or unknown (a new `srv-<n>` id when absent), brings a deleted row back, bumps its
   * version and moves it to the end of the change log. The fields take `clock` — default: a stamp
   * after every `Fluxy-Clock` the server has seen and after every change made before this call
   * (sent or not, by a collection on this machine's clock), so under last writer wins it is the
   * newer write. Returns the row as stored. Nothing is added to `applied` or `received`.
   *
   * @example server.put('/notes', { id: 'srv-1', title: 'Changed on the phone' });
   */
  put<R extends ServerRow = ServerRow>(path: string, row: Partial<R>, options: { clock?: string } = {}): R {
    const collection = this.#collection(path);
    if (Object.prototype.toString.call(row) !== '[object Object]')
      throw invalidArgument(
        `FaultServer.put(path, row): row must be an object of fields, e.g. { title: 'Food' } (got ${describeInput(row)}).`,
      );
    return collection.put(row, checkClockOption(options, 'put').clock) as R;
  }

  /**
   * Deletes a row of the collection at `path` as another device would (the next pull lists its id
   * in `deleted`); its tombstone takes `clock` (default: as {@link FaultServer.put}'s). Returns false
   * when the row does not exist or is deleted already.
   *
   * @example server.remove('/notes', 'srv-1');
   */
  remove(path: string, id: string, options: { clock?: string } = {}): boolean {
    const collection = this.#collection(path);
    if (typeof id !== 'string')
      throw invalidArgument(`FaultServer.remove(path, id): id must be a string (got ${describeInput(id)}).`);
    return collection.remove(id, checkClockOption(options, 'remove').clock);
  }

  /**
   * Wipes the collection at `path`, as a server whose data was reset or restored from a backup:
   * no rows, and every cursor served before is answered `410 { error: 'cursor-expired' }` (a
   * Collection then forgets its confirmed rows and pulls again from the start, keeping its pending
   * changes). Ids keep counting: a new row never takes an id served before.
   *
   * @example server.reset('/notes');
   */
  reset(path: string): void {
    this.#collection(path).reset();
  }

  #collection(path: string): FaultCollection {
    const collection = this.#collections.get(path);
    if (!collection)
      throw invalidArgument(
        `FaultServer: no collection at ${JSON.stringify(path)}: start the server with { collections: { ${JSON.stringify(path)}: {} } }.`,
      );
    return collection;
  }

  /**
   * Closes the server, destroying open connections (hung requests included); requests still in a
   * `{ delayMs }` fault are dropped (nothing more is applied), and pending `waitForRequests()` reject.
   */
  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#delays) clearTimeout(timer);
    this.#delays.clear();
    for (const waiter of this.#waiters.splice(0)) waiter.reject(new Error('closed'));
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    // Answers a browser's fetch too (a DOM test environment such as happy-dom enforces CORS); its
    // preflight is the browser's, not the app's request: neither received nor applied.
    response.setHeader('Access-Control-Allow-Origin', '*');
    response.setHeader('Access-Control-Expose-Headers', '*');
    if (request.method === 'OPTIONS' && request.headers['access-control-request-method']) {
      response
        .writeHead(204, {
          'Access-Control-Allow-Methods': '*',
          'Access-Control-Allow-Headers': request.headers['access-control-request-headers'] ?? '*',
          'Access-Control-Max-Age': '600',
        })
        .end();
      return;
    }
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of request) chunks.push(chunk as Buffer);
    } catch {
      return; // the client went away, or close() dropped it, before its body was complete
    }
    const rawKey = request.headers['idempotency-key'];
    const bytes = Buffer.concat(chunks);
    const received: Received = {
      key: typeof rawKey === 'string' ? rawKey : null,
      method: request.method ?? '',
      path: request.url ?? '',
      headers: request.headers,
      body: bytes.toString('utf8'),
      bytes: new Uint8Array(bytes),
    };
    this.received.push(received);
    for (const waiter of [...this.#waiters]) {
      if (this.received.length >= waiter.count) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
    const batch = received.method === 'POST' && received.path === this.#options.batch;
    const fault = await this.#fault(received, !batch);
    if (fault === 'hang') return;
    if (fault === 'drop-before') {
      request.socket.destroy();
      return;
    }
    if (typeof fault === 'object') {
      if (fault.retryAfter !== undefined) response.setHeader('Retry-After', fault.retryAfter);
      for (const [name, value] of Object.entries(fault.headers ?? {})) response.setHeader(name, value);
      response
        .writeHead(fault.status, { 'Content-Type': 'application/json' })
        .end(JSON.stringify({ error: fault.status }));
      return;
    }
    const answer = batch ? await this.#batch(received, request, response) : this.#apply(received);
    if (!answer) return; // the connection was dropped, or an op hangs
    if (fault === 'drop-after') {
      request.socket.destroy();
      return;
    }
    if (fault === 'stall-body' || fault === 'garble-body') {
      const half = answer.body.slice(0, Math.floor(answer.body.length / 2));
      const length = Buffer.byteLength(fault === 'stall-body' ? answer.body : half);
      response.writeHead(answer.status, {
        'Content-Type': 'application/json',
        'Content-Length': String(length),
      });
      if (fault === 'garble-body') response.end(half);
      else response.write(half);
      return;
    }
    response
      .writeHead(answer.status, { 'Content-Type': 'application/json', ...answer.headers })
      .end(answer.body);
  }

  /**
   * The next fault (scripted, else chosen), after the latency it asks for. A request that is then
   * applied (`applies`: it is no batch) takes its key when it comes, as the reference server does
   * (examples/server): while it waits, a request with the same key that would be applied too is
   * answered 409 in-progress (422 when it is another request) — decided when it comes, answered
   * after its own latency. A key with a stored answer is not taken: it is replayed.
   */
  async #fault(received: Received, applies = true): Promise<Exclude<Fault, { delayMs: number }>> {
    const { choose } = this.#options;
    const path = received.path.split('?')[0];
    const aimed = this.#aimed.findIndex(
      (entry) =>
        (entry.method === undefined || entry.method === received.method) &&
        (entry.path === undefined || entry.path === path),
    );
    let fault: Fault =
      (aimed >= 0 ? this.#aimed.splice(aimed, 1)[0]?.fault : undefined) ??
      this.#script.shift() ??
      (choose
        ? checkFault(choose(received), `choose(request) returned %s for ${received.method} ${received.path}`)
        : 'ok');
    let last = fault;
    while (typeof last === 'object' && 'delayMs' in last) last = last.next ?? 'ok';
    const { key } = received;
    if (
      applies &&
      key &&
      typeof last === 'string' &&
      last !== 'hang' &&
      last !== 'drop-before' &&
      this.#dedupes(received) &&
      !this.#answers.has(key)
    ) {
      const running = this.#running.get(key);
      if (!running) this.#running.set(key, received);
      else
        this.#busy.set(
          received,
          requestOf(running) === requestOf(received)
            ? {
                status: 409,
                body: JSON.stringify({ error: 'in-progress' }),
                headers: { 'Retry-After': '1' },
              }
            : keyReused,
        );
    }
    while (typeof fault === 'object' && 'delayMs' in fault) {
      const delayMs = fault.delayMs;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.#delays.delete(timer);
          resolve();
        }, delayMs);
        this.#delays.add(timer);
      });
      fault = fault.next ?? 'ok';
    }
    return fault;
  }

  /** Run a batch's ops (see {@link FaultServerOptions.batch}); undefined once the connection is dropped. */
  async #batch(
    batch: Received,
    request: IncomingMessage,
    response: ServerResponse,
  ): Promise<Answer | undefined> {
    let ops: Array<{
      id: string;
      method: string;
      url: string;
      headers?: Record<string, string>;
      body?: unknown;
    }>;
    try {
      ops = (JSON.parse(batch.body) as { ops: typeof ops }).ops;
      if (!Array.isArray(ops)) throw new TypeError('no ops');
    } catch {
      return { status: 400, body: JSON.stringify({ error: 'invalid-batch' }) };
    }
    const results: string[] = [];
    for (const op of ops) {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(op.headers ?? {})) headers[name.toLowerCase()] = value;
      const body = op.body === undefined ? '' : JSON.stringify(op.body);
      const received: Received = {
        key: op.id,
        method: op.method,
        path: op.url,
        headers,
        body,
        bytes: new TextEncoder().encode(body),
      };
      const fault = await this.#fault(received);
      if (fault === 'hang') return undefined;
      if (fault === 'drop-before') {
        request.socket.destroy();
        return undefined;
      }
      const answer: Answer =
        typeof fault === 'object'
          ? { status: fault.status, body: JSON.stringify({ error: fault.status }) }
          : this.#apply(received);
      if (fault === 'drop-after') {
        request.socket.destroy();
        return undefined;
      }
      // The op that stops the batch says when to come back: its Retry-After is the batch's.
      const retryAfter = typeof fault === 'object' ? fault.retryAfter : answer.headers?.['Retry-After'];
      if (retryAfter !== undefined) response.setHeader('Retry-After', retryAfter);
      results.push(
        `{"id":${JSON.stringify(op.id)},"status":${answer.status},"body":${answer.body || 'null'}}`,
      );
      if (answer.status > 299) break;
    }
    return { status: 200, body: `{"results":[${results.join(',')}]}` };
  }

  #apply(received: Received): Answer {
    const url = this.#collections.size > 0 ? parseUrl(received.path) : undefined;
    let id: string | null = null;
    let collection = url ? this.#collections.get(url.pathname) : undefined;
    if (url && !collection) {
      const slash = url.pathname.lastIndexOf('/');
      collection = this.#collections.get(url.pathname.slice(0, slash));
      id = decodePart(url.pathname.slice(slash + 1));
    }
    const answerOf = (): Answer | undefined =>
      url
        ? collection?.answer(received.method, id, url.searchParams, received.body, received.headers)
        : undefined;
    // A read changes nothing: answered now, neither stored nor listed as applied, and it takes
    // no id; outside a collection the server keeps no resources, so it answers 200 {}.
    if (received.method === 'GET' || received.method === 'HEAD') {
      if (!collection) return { status: 200, body: '{}' };
      return collection.answer('GET', id, (url as URL).searchParams, '', received.headers);
    }
    // What the key's stored answer must have answered: as a contract server does, a key that
    // comes back with another request (a client bug) gets 422, applies nothing and stores nothing.
    const request = requestOf(received);
    if (this.#dedupes(received) && received.key) {
      const busy = this.#busy.get(received);
      if (busy) return busy;
      // Applied now (synchronously, so nothing comes between): the key is no longer in progress.
      if (this.#running.get(received.key) === received) this.#running.delete(received.key);
      const stored = this.#answers.get(received.key);
      if (stored?.request === request) return stored.answer;
      if (stored) return keyReused;
    }
    const answer = answerOf();
    const applied = {
      key: received.key,
      method: received.method,
      path: received.path,
      body: received.body === '' ? undefined : parseBody(received.body),
    };
    if (!answer || answer.status < 300) this.applied.push(applied);
    // `id` is the field SyncPlugin reads by default (its `serverId` option), so a create's
    // temporary id is replaced with no option; `serverId` (the same) as before, for tests that read it.
    const serverId = `srv-${this.applied.length}`;
    const stored = answer ?? { status: 201, body: JSON.stringify({ id: serverId, serverId }) };
    if (received.key) this.#answers.set(received.key, { answer: stored, request });
    return stored;
  }

  /** Whether `received` is deduplicated by its key: a write, with `dedupe` on. */
  #dedupes(received: Received): boolean {
    return (this.#options.dedupe ?? true) && received.method !== 'GET' && received.method !== 'HEAD';
  }
}

/** The answer to a key that comes back with another request (a client bug): nothing applied. */
const keyReused: Answer = { status: 422, body: JSON.stringify({ error: 'idempotency-key-reuse' }) };

/** What identifies "the same request" for a key: method, path and body. */
function requestOf(received: Received): string {
  return JSON.stringify([received.method, received.path, received.body]);
}

/** The request's URL (undefined when it is none; `URL.parse` needs Node 20.18). */
function parseUrl(path: string): URL | undefined {
  try {
    return new URL(path, 'http://fault.server');
  } catch {
    return undefined;
  }
}

/** A path segment decoded (as sent when it is not valid percent-encoding). */
function decodePart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/** `text` parsed as JSON, or the text itself when it is not JSON (multipart, plain text, bytes). */
function parseBody(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** `FaultServer.start()`'s options, checked: a name it does not know (a typo) is refused, not ignored. */
function checkServerOptions(options: unknown): FaultServerOptions {
  const refuse = (problem: string) =>
    invalidArgument(`FaultServer.start(options): ${problem}, e.g. { dedupe: false, batch: '/batch' }.`);
  const { dedupe, choose, batch, collections } = checkOptions(
    options,
    ['dedupe', 'choose', 'batch', 'collections'],
    (problem) => refuse(`options ${problem}`),
  );
  if (dedupe !== undefined && typeof dedupe !== 'boolean')
    throw refuse(`dedupe must be true or false (got ${describeInput(dedupe)})`);
  if (choose !== undefined && typeof choose !== 'function')
    throw refuse(`choose must be a function (request) => Fault (got ${describeInput(choose)})`);
  if (batch !== undefined && !(typeof batch === 'string' && batch.startsWith('/')))
    throw refuse(`batch must be a path starting with "/" (got ${describeInput(batch)})`);
  if (collections !== undefined && Object.prototype.toString.call(collections) !== '[object Object]')
    throw refuse(
      `collections must be an object of paths, such as { '/notes': {} } (got ${describeInput(collections)})`,
    );
  return options as FaultServerOptions;
}

/** The longest delay setTimeout plays as asked (a longer one fires after 1 ms). */
const maxDelayMs = 2 ** 31 - 1;

/**
 * Throws `invalid-argument` unless `fault` is a {@link Fault} the server can play: a name, or an
 * object with only the fields of its kind (a typo is refused, not ignored), a status from 200 to
 * 599 with header values Node can send, a delay setTimeout can play. `what` describes the value in
 * the error (`%s` is replaced by it).
 */
function checkFault(fault: unknown, what = '%s is not a fault'): Fault {
  const named = ['ok', 'drop-before', 'drop-after', 'hang', 'stall-body', 'garble-body'];
  const value = fault as { status?: unknown; delayMs?: unknown; next?: unknown } | null;
  const only = (...known: string[]): boolean =>
    Object.keys(value as object).every((key) => known.includes(key));
  const valid =
    named.includes(fault as string) ||
    (Object.prototype.toString.call(value) === '[object Object]' &&
      value !== null &&
      ('delayMs' in value
        ? only('delayMs', 'next') &&
          typeof value.delayMs === 'number' &&
          value.delayMs >= 0 &&
          value.delayMs <= maxDelayMs &&
          (value.next === undefined || !!checkFault(value.next))
        : only('status', 'retryAfter', 'headers') &&
          Number.isInteger(value.status) &&
          (value.status as number) >= 200 &&
          (value.status as number) <= 599 &&
          validHeaders(value as { retryAfter?: unknown; headers?: unknown })));
  if (!valid) {
    const shown = fault === undefined ? 'undefined' : JSON.stringify(fault);
    throw invalidArgument(
      `FaultServer: ${what.replace('%s', shown)}: use 'ok', 'drop-before', 'drop-after', 'hang', 'stall-body', 'garble-body', { status: 200–599, retryAfter?: string, headers?: { name: string } } or { delayMs: 0–${maxDelayMs}, next? } ('hang' never answers).`,
    );
  }
  return fault as Fault;
}

/** Whether a status fault's `retryAfter` and `headers` are strings Node can send as headers. */
function validHeaders({ retryAfter, headers = {} }: { retryAfter?: unknown; headers?: unknown }): boolean {
  const entries: Array<[string, unknown]> =
    Object.prototype.toString.call(headers) === '[object Object]'
      ? Object.entries(headers as object)
      : [['', undefined]];
  if (retryAfter !== undefined) entries.push(['Retry-After', retryAfter]);
  return entries.every(([name, text]) => {
    try {
      if (typeof text !== 'string') return false;
      validateHeaderName(name);
      validateHeaderValue(name, text);
      return true;
    } catch {
      return false;
    }
  });
}

/** The `{ clock? }` options of put() and remove(), checked. */
function checkClockOption(options: unknown, method: string): { clock?: string } {
  return checkOptions(options, ['clock'], (problem) =>
    invalidArgument(`FaultServer.${method}(): options ${problem}, e.g. { clock: '…' }.`),
  ) as { clock?: string };
}
