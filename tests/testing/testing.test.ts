// fluxy/testing through its public entry, as an app author uses it.
import diagnostics from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import { afterEach, beforeEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { isFluxyError } from '../../src/index.js';
import {
  createTestApp,
  FaultServer,
  settled,
  type TestApp,
  TestConnectivity,
} from '../../src/testing/index.js';
import { withTimeout } from '../sync/harness.js';

let server: FaultServer;
let t: TestApp | undefined;

beforeEach(async () => {
  server = await FaultServer.start();
});
afterEach(async () => {
  await t?.dispose();
  t = undefined;
  await server.close();
});

describe('createTestApp + TestConnectivity + settled', () => {
  it('queues offline, sends nothing, delivers once online and settles', async () => {
    t = await createTestApp({ sync: { baseUrl: server.url }, online: false });
    expect(t.storage.driver).toBe('memory');
    await t.sync.queue('POST', '/notes', { body: { title: 'offline' } });
    await t.settled({ label: 'offline: nothing can be sent' });
    expect([t.sync.pendingCount.value, server.received.length]).toStrictEqual([1, 0]);
    t.goOnline();
    await t.settled({ label: 'online: delivered' });
    expect(t.sync.pendingCount.value).toBe(0);
    expect(server.applied.map((applied) => applied.body)).toStrictEqual([{ title: 'offline' }]);
  });

  it('goOffline() stops sending; goOnline() resumes', async () => {
    t = await createTestApp({ sync: { baseUrl: server.url } });
    t.goOffline();
    expect(t.connectivity.isOnline.value).toBe(false);
    await t.sync.queue('POST', '/a', { body: { n: 1 } });
    await t.sync.queue('POST', '/b', { body: { n: 2 } });
    await settled(t.app);
    expect(server.received).toStrictEqual([]);
    t.goOnline();
    await settled(t.app);
    expect(server.applied.map((applied) => applied.path)).toStrictEqual(['/a', '/b']);
  });

  it('a dropped answer is retried with the same key and applied once (the fault server dedupes)', async () => {
    t = await createTestApp({ sync: { baseUrl: server.url, retry: { baseDelayMs: 1, maxDelayMs: 5 } } });
    server.script('drop-after', { status: 503, retryAfter: '0' });
    const op = await t.sync.queue('POST', '/notes', { body: { title: 'once' } });
    await t.settled({ timeoutMs: 5000 });
    expect(server.received.map((received) => received.key)).toStrictEqual([op.id, op.id, op.id]);
    expect(server.applied).toHaveLength(1);
  });

  it('settled() rejects after timeoutMs with its label and the state it saw', async () => {
    t = await createTestApp({ sync: { baseUrl: server.url } });
    server.script('hang');
    await t.sync.queue('POST', '/slow', { body: {} });
    await expect(t.settled({ timeoutMs: 200, label: 'hung request' })).rejects.toThrow(
      /timed out after 200 ms: hung request \(sync: 1 pending, syncing true/,
    );
  });

  it('TestConnectivity refuses bad options with a FluxyError', () => {
    let thrown: unknown;
    try {
      new TestConnectivity({ online: 'yes' as never });
    } catch (error) {
      thrown = error;
    }
    expect(isFluxyError(thrown, 'invalid-argument')).toBe(true);
  });

  // The message said "got [object Object]" whatever was wrong: a typo and a wrong type read alike.
  it.each([
    [{ onlin: false }, /has no option "onlin"; the options are online/],
    [{ online: 'yes' }, /online must be true or false \(got "yes"\)/],
    [null, /options must be a plain object \(got null\)/],
  ])('TestConnectivity(%j) says what is wrong', (options, message) => {
    expect(() => new TestConnectivity(options as never)).toThrow(message);
  });
});

describe('createTestApp + FaultServer with their defaults: temporary ids are replaced', () => {
  // The fault server answered 201 { serverId } while SyncPlugin reads `id` by default: the create's
  // temporary id was never replaced ("its response has no server id") and PATCH /items/tmp_… went out.
  it.each([
    ['one request per operation', undefined],
    ['batches', { url: '/batch', max: 3 }],
  ])('%s', async (_, batch) => {
    const own = batch ? await FaultServer.start({ batch: batch.url }) : server;
    try {
      const warnings: string[] = [];
      const logger = { debug() {}, info() {}, warn: (message: string) => warnings.push(message), error() {} };
      t = await createTestApp({
        sync: { baseUrl: own.url, ...(batch ? { batch } : {}) },
        online: false,
        app: { logger },
      });
      await t.sync.queue('POST', '/items', { body: { n: 'c1' }, tempId: 'tmp_create1' });
      await t.sync.queue('PATCH', '/items/tmp_create1', { body: { n: 'p1', of: 'tmp_create1' } });
      t.goOnline();
      await t.settled({ label: 'the create and its patch sent' });
      expect(own.applied.map(({ method, path, body }) => [method, path, body])).toStrictEqual([
        ['POST', '/items', { n: 'c1' }],
        ['PATCH', '/items/srv-1', { n: 'p1', of: 'srv-1' }],
      ]);
      expect(await t.sync.resolveId('tmp_create1')).toBe('srv-1');
      expect(warnings).toStrictEqual([]);
    } finally {
      if (own !== server) await own.close();
    }
  });

  it('the answer carries the id as `id` (what SyncPlugin reads by default) and as `serverId`, as before', async () => {
    const answer = await fetch(`${server.url}/items`, { method: 'POST', body: '{}' });
    expect([answer.status, await answer.json()]).toStrictEqual([201, { id: 'srv-1', serverId: 'srv-1' }]);
  });
});

describe('FaultServer', () => {
  it('waitForRequests() rejects after its timeout, naming the label and what arrived', async () => {
    await expect(server.waitForRequests(1, { timeoutMs: 50, label: 'the first POST' })).rejects.toThrow(
      'timed out after 50 ms: the first POST: 0 received',
    );
  });

  it('status scripts answer without applying; latency delays the answer', async () => {
    server.script({ status: 429, retryAfter: '7' }, { delayMs: 30, next: 'ok' });
    const first = await fetch(`${server.url}/x`, { method: 'POST', body: '{}' });
    const started = Date.now();
    const second = await fetch(`${server.url}/x`, {
      method: 'POST',
      body: '{}',
      headers: { 'Idempotency-Key': 'k' },
    });
    expect([first.status, first.headers.get('retry-after'), second.status]).toStrictEqual([429, '7', 201]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    expect(server.applied).toStrictEqual([{ key: 'k', method: 'POST', path: '/x', body: {} }]);
  });

  it('the choose option decides the requests after the scripted ones (docs/testing.md), as an option of start()', async () => {
    const chosen = await FaultServer.start({
      choose: (request) => (request.path.startsWith('/flaky') ? { status: 503 } : 'ok'),
    });
    try {
      chosen.script({ status: 429 });
      const statuses: number[] = [];
      for (const path of ['/flaky/a', '/flaky/b', '/fine'])
        statuses.push((await fetch(`${chosen.url}${path}`, { method: 'POST', body: '{}' })).status);
      expect(statuses).toStrictEqual([429, 503, 201]);
      expect(chosen.applied.map((applied) => applied.path)).toStrictEqual(['/fine']);
      expect('choose' in chosen).toBe(false); // not a method of the server
    } finally {
      await chosen.close();
    }
  });
});

describe('FaultServer with bodies that are not JSON', () => {
  it('applies a binary body and a FormData body, keeping their bytes (no crash, no hang)', async () => {
    t = await createTestApp({ sync: { baseUrl: server.url, timeoutMs: 2000 } });
    const photo = new Uint8Array([0xff, 0xd8, 0xff, 0x00, 0x01]);
    await t.sync.queue('PUT', '/photos/1', { body: photo });
    const form = new FormData();
    form.append('title', 'Groceries');
    await t.sync.queue('POST', '/notes', { body: form });
    await t.sync.queue('POST', '/notes', { body: 'plain text' });
    await t.settled({ timeoutMs: 5000, label: 'binary, multipart and JSON text bodies' });
    expect(server.received).toHaveLength(3);
    expect(new Uint8Array(server.received[0]!.bytes)).toStrictEqual(photo);
    expect(server.applied.map((applied) => applied.path)).toStrictEqual(['/photos/1', '/notes', '/notes']);
    expect(server.applied[1]!.body).toContain('Groceries'); // multipart text, as received
    expect(server.applied[2]!.body).toBe('plain text'); // JSON, parsed
  });

  it('script() refuses a status that is not an HTTP final status, at once', () => {
    for (const status of [99, 1000, 200.5, Number.NaN, '500']) {
      expect(() => server.script({ status } as never)).toThrow(
        expect.objectContaining({ code: 'invalid-argument' }),
      );
    }
    expect(() => server.script('sideways' as never)).toThrow(
      expect.objectContaining({ code: 'invalid-argument' }),
    );
  });
});

describe('FaultServer.close()', () => {
  it('drops a request still in a { delayMs } fault (nothing applied later) and rejects pending waits', async () => {
    // The delay on the test's clock: run past it below, when the test says.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    onTestFinished(() => void vi.useRealTimers());
    server.script({ delayMs: 150, next: 'ok' });
    const request = fetch(`${server.url}/late`, { method: 'POST', body: '{}' }).catch(() => 'dropped');
    await server.waitForRequests(1, { timeoutMs: 2000, label: 'the delayed POST' });
    const waiting = server.waitForRequests(2, { timeoutMs: 5000, label: 'a second request' });
    await server.close();
    await expect(waiting).rejects.toThrow('a second request: the fault server was closed with 1 received');
    expect(await request).toBe('dropped');
    // Past the delay: a timer that survived close() would apply the request now.
    await vi.advanceTimersByTimeAsync(150);
    expect(server.applied).toStrictEqual([]);
  });
});

// A fresh user's review: a typo in an option name went unnoticed (FaultServer.start,
// createTestApp, settled), settled(null) threw a raw TypeError, and waitForRequests('x') was
// accepted. Each is refused with invalid-argument now; each expectation failed before.
describe('fluxy/testing refuses bad input with invalid-argument', () => {
  const refused = expect.objectContaining({ code: 'invalid-argument' });

  it('FaultServer.start(): unknown option names and wrong types; no server is started', async () => {
    for (const options of [
      { dedup: false },
      { collection: { '/notes': {} } },
      { dedupe: 'no' },
      { choose: 'ok' },
      { batch: 5 },
      { batch: 'batch' },
      { collections: ['/notes'] },
      { collections: { '/notes': { pagesize: 2 } } },
      null,
      'dedupe',
    ]) {
      await expect(FaultServer.start(options as never), JSON.stringify(options)).rejects.toEqual(refused);
    }
    const valid = await FaultServer.start({ dedupe: false, batch: '/batch', choose: () => 'ok' });
    await valid.close();
  });

  it('createTestApp(): unknown option names and wrong types, before any app is made', async () => {
    for (const options of [{ onlin: false }, { sycn: { baseUrl: server.url } }, { online: 'no' }, null, []]) {
      await expect(createTestApp(options as never), JSON.stringify(options)).rejects.toEqual(refused);
    }
  });

  it('settled(): an app that is none, unknown option names and wrong types', async () => {
    t = await createTestApp({ sync: { baseUrl: server.url } });
    for (const app of [null, undefined, {}, 'app']) {
      await expect(settled(app as never), String(app)).rejects.toEqual(refused);
    }
    for (const options of [
      { timeout: 100 },
      { timeoutMs: -1 },
      { timeoutMs: '100' },
      { label: 5 },
      { collections: 'notes' },
      { collections: [5] },
      { collections: ['sync'] }, // a plugin without isPulling
      null,
    ]) {
      await expect(settled(t.app, options as never), JSON.stringify(options)).rejects.toEqual(refused);
      await expect(t.settled(options as never), JSON.stringify(options)).rejects.toEqual(refused);
    }
    await t.settled({ timeoutMs: 1000, label: 'still fine' });
  });

  it('waitForRequests(): a count that is not a whole number, unknown option names and wrong types', async () => {
    for (const count of ['x', '1', -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, undefined]) {
      await expect(server.waitForRequests(count as never), String(count)).rejects.toEqual(refused);
    }
    for (const options of [{ timeout: 50 }, { timeoutMs: -5 }, { timeoutMs: '50' }, { label: 1 }, null]) {
      await expect(server.waitForRequests(1, options as never), JSON.stringify(options)).rejects.toEqual(
        refused,
      );
    }
    await expect(server.waitForRequests(0)).resolves.toBeUndefined();
  });
});

/** Runs `run` with the process's unhandled rejections collected instead of reported. */
async function unhandledDuring(run: () => Promise<void>): Promise<unknown[]> {
  const reasons: unknown[] = [];
  const collect = (reason: unknown): void => void reasons.push(reason);
  const listeners = process.rawListeners('unhandledRejection') as Array<(reason: unknown) => void>;
  process.removeAllListeners('unhandledRejection');
  process.on('unhandledRejection', collect);
  try {
    await run();
    await vi.waitFor(() => expect(reasons, 'an unhandled rejection').not.toHaveLength(0), {
      timeout: 2000,
    });
  } finally {
    process.off('unhandledRejection', collect);
    for (const listener of listeners) process.on('unhandledRejection', listener);
  }
  return reasons;
}

// The kit's review (2026-12-06): each expectation below failed before its fix.
describe('FaultServer: reads are not writes', () => {
  // #apply treated a GET outside any collection as a write: listed in `applied`, stored per
  // Idempotency-Key, answered 201 with a new srv-<n> id (the next create got srv-2).
  it.each([
    ['without collections', undefined],
    ['with collections elsewhere', { '/notes': {} }],
  ])(
    'a GET or HEAD outside any collection (%s) is answered 200 {}, applies nothing, takes no id',
    async (_, collections) => {
      const own = collections ? await FaultServer.start({ collections }) : server;
      try {
        const read = await fetch(`${own.url}/profile`, { headers: { 'Idempotency-Key': 'r1' } });
        const probe = await fetch(`${own.url}/health`, { method: 'HEAD' });
        const again = await fetch(`${own.url}/profile`, { headers: { 'Idempotency-Key': 'r1' } });
        expect([read.status, await read.json(), probe.status, again.status]).toStrictEqual([
          200,
          {},
          200,
          200,
        ]);
        const created = await fetch(`${own.url}/items`, { method: 'POST', body: '{}' });
        expect(await created.json()).toStrictEqual({ id: 'srv-1', serverId: 'srv-1' });
        expect(own.applied.map(({ method, path }) => `${method} ${path}`)).toStrictEqual(['POST /items']);
        expect(own.received.map(({ method, path }) => `${method} ${path}`)).toStrictEqual([
          'GET /profile',
          'HEAD /health',
          'GET /profile',
          'POST /items',
        ]);
      } finally {
        if (own !== server) await own.close();
      }
    },
  );

  it('faults still apply to reads', async () => {
    server.script({ status: 503 }, 'drop-before');
    expect((await fetch(`${server.url}/profile`)).status).toBe(503);
    await expect(fetch(`${server.url}/profile`)).rejects.toThrow();
    expect(server.applied).toStrictEqual([]);
  });
});

describe('FaultServer: choose must return a fault', () => {
  // A choose that returned undefined (a branch without `return`) was taken as 'ok': the request was
  // applied and answered 201, silently, while any other value that is not a Fault was refused.
  it('undefined from choose is refused (invalid-argument naming the request), nothing is applied', async () => {
    const chosen = await FaultServer.start({
      choose: ((request: { path: string }) => {
        if (request.path.startsWith('/flaky')) return { status: 503 };
      }) as never,
    });
    try {
      const reasons = await unhandledDuring(async () => {
        expect((await fetch(`${chosen.url}/flaky`, { method: 'POST', body: '{}' })).status).toBe(503);
        await expect(fetch(`${chosen.url}/fine`, { method: 'POST', body: '{}' })).rejects.toThrow();
      });
      expect(reasons).toStrictEqual([expect.objectContaining({ code: 'invalid-argument' })]);
      expect((reasons[0] as Error).message).toMatch(/choose\(request\) returned undefined for POST \/fine/);
      expect(chosen.applied).toStrictEqual([]);
    } finally {
      await chosen.close();
    }
  });
});

describe('fluxy/testing: more bad input refused with invalid-argument', () => {
  const refused = expect.objectContaining({ code: 'invalid-argument' });

  it('script(): a fault object with an unknown field (a typo), a delay that setTimeout cannot play, headers of the wrong type', () => {
    for (const fault of [
      { status: 503, retry: '5' }, // a typo: played as a plain 503
      { delayMs: 10, nxt: 'hang' }, // a typo: played as 'ok'
      { status: 503, delayMs: 10 }, // the status was ignored
      { delayMs: Number.POSITIVE_INFINITY }, // played as 1 ms
      { delayMs: 2 ** 31 }, // played as 1 ms
      { status: 503, retryAfter: 5 },
      { status: 503, retryAfter: {} }, // threw at the request, in the server
      { status: 503, headers: 'x' },
      { status: 503, headers: { 'X-Bad': 'a\nb' } }, // threw at the request, in the server
      { status: 503, headers: { 'bad name': '1' } },
      { status: 503, headers: { 'X-N': 1 } },
    ]) {
      expect(() => server.script(fault as never), JSON.stringify(fault)).toThrow(refused);
    }
    server.script({ status: 503, retryAfter: '5', headers: { 'X-Reason': 'maintenance' } }, { delayMs: 1 });
  });

  it('put() and remove(): a row that is not an object, an id that is not a string, unknown option names', async () => {
    const own = await FaultServer.start({ collections: { '/notes': {} } });
    try {
      for (const row of [null, 'title', ['a']]) {
        expect(() => own.put('/notes', row as never), JSON.stringify(row)).toThrow(refused);
      }
      expect(() => own.put('/notes', { title: 'a' }, { clok: 'x' } as never)).toThrow(refused);
      expect(() => own.put('/notes', { title: 'a' }, null as never)).toThrow(refused);
      expect(() => own.remove('/notes', 5 as never)).toThrow(refused);
      expect(() => own.remove('/notes', 'srv-1', { clok: 'x' } as never)).toThrow(refused);
      expect(own.rows('/notes')).toStrictEqual([]);
      const row = own.put<{ id: string; title: string }>('/notes', { title: 'a' }, {});
      expect(own.remove('/notes', row.id, {})).toBe(true);
    } finally {
      await own.close();
    }
  });
});

describe('FaultServer.close(), continued', () => {
  it('waitForRequests() after close() rejects at once, as one pending at close() does', async () => {
    await server.close();
    const started = Date.now();
    await expect(server.waitForRequests(1, { timeoutMs: 5000, label: 'too late' })).rejects.toThrow(
      'too late: the fault server was closed with 0 received',
    );
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('a request whose body is still arriving when close() runs is dropped quietly (no unhandled error)', async () => {
    const unhandled: unknown[] = [];
    const collect = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', collect);
    // The server lists no request before its body is complete (received lists whole requests):
    // Node's own diagnostics channel says when its handler starts (it is called at once, and
    // reads the body), and gives the request, whose 'close' says when close() has dropped it.
    let started: (request: IncomingMessage) => void = () => {};
    const handling = new Promise<IncomingMessage>((resolve) => (started = resolve));
    const onStart = (message: unknown): void => started((message as { request: IncomingMessage }).request);
    diagnostics.subscribe('http.server.request.start', onStart);
    try {
      const body = new ReadableStream<Uint8Array>({
        start: (controller) => controller.enqueue(new TextEncoder().encode('{"title":')),
      });
      const request = fetch(`${server.url}/notes`, { method: 'POST', body, duplex: 'half' } as RequestInit);
      const incoming = await withTimeout(handling, 'the server to start handling the POST');
      const dropped = new Promise((resolve) => incoming.once('close', resolve));
      await server.close();
      await expect(request).rejects.toThrow();
      await withTimeout(dropped, 'the POST to be dropped by close()');
      // An 'aborted' error of the body's read surfaced as an unhandled rejection: Node reports
      // one once the microtasks of the turn that made it have run, so one more turn shows it.
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(unhandled).toStrictEqual([]);
      expect([server.received, server.applied]).toStrictEqual([[], []]);
    } finally {
      diagnostics.unsubscribe('http.server.request.start', onStart);
      process.off('unhandledRejection', collect);
    }
  });
});

describe('FaultServer: url is read-only, script() after close() is refused', () => {
  it('url cannot be assigned (a type error, and a TypeError at run time): it stays the address served', () => {
    const url = server.url;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(() => {
      // @ts-expect-error url is read-only
      server.url = 'http://example.com';
    }).toThrow(TypeError);
    expect(server.url).toBe(url);
  });

  it('script() after close() throws invalid-argument saying what to do', async () => {
    await server.close();
    let thrown: unknown;
    try {
      server.script('drop-after');
    } catch (error) {
      thrown = error;
    }
    expect(isFluxyError(thrown, 'invalid-argument')).toBe(true);
    expect((thrown as Error).message).toMatch(/closed.*before close\(\).*FaultServer\.start\(\)/);
  });
});

describe('settled(): a collection given instead of its name', () => {
  it('is refused with a message that names the collection to give and where it was', async () => {
    t = await createTestApp({ sync: { baseUrl: server.url } });
    const notes = { name: 'notes', isPulling: { value: false, peek: () => false } };
    const refusal = settled(t.app, { collections: ['todos', notes] as never });
    await expect(refusal).rejects.toMatchObject({ code: 'invalid-argument' });
    await expect(refusal).rejects.toThrow(
      'collections lists plugin names, not the plugins: give "notes" for collections[1], e.g. { collections: ["notes"] }.',
    );
    await expect(settled(t.app, { collections: [5] as never })).rejects.toThrow('(collections[0] is 5)');
  });
});

describe('settled(): a timeout says what to do about the state it saw', () => {
  it('an operation waiting for its retry: the last error, and to keep retries fast', async () => {
    // A slow backoff (its first retry 2 s or more away) keeps the state still when the wait ends.
    t = await createTestApp({ sync: { baseUrl: server.url, retry: { baseDelayMs: 20_000 } } });
    server.script({ status: 503 });
    await t.sync.queue('POST', '/notes', { body: {} });
    await expect(t.settled({ timeoutMs: 1000, label: 'after a 503' })).rejects.toThrow(
      "after a 503 (sync: 1 pending, syncing false, status error, last error sync/http-error (503); online true): an operation waits for its retry: its backoff (from retry.baseDelayMs, 1 s by default) or the server's Retry-After (up to retry.maxRetryAfterMs, 1 h by default) — keep both short in tests, e.g. createTestApp({ sync: { retry: { baseDelayMs: 10, maxRetryAfterMs: 100 } } })",
    );
  });

  it('a request the server does not answer: SyncPlugin’s timeoutMs', async () => {
    t = await createTestApp({ sync: { baseUrl: server.url } });
    server.script('hang');
    await t.sync.queue('POST', '/notes', { body: {} });
    await expect(t.settled({ timeoutMs: 200, label: 'hung' })).rejects.toThrow(
      "still sending — a request the server does not answer (a 'hang' fault) ends only at SyncPlugin's timeoutMs, 30 s by default: give tests a small one, e.g. createTestApp({ sync: { timeoutMs: 500 } })",
    );
  });
});

describe('FaultServer: new FaultServer() (from JavaScript, where private constructor is not checked)', () => {
  it('is refused with invalid-argument saying to use FaultServer.start(), with options or without', () => {
    const Constructor = FaultServer as unknown as new (options?: object) => FaultServer;
    for (const attempt of [() => new Constructor(), () => new Constructor({})]) {
      let thrown: unknown;
      try {
        attempt();
      } catch (error) {
        thrown = error;
      }
      expect(isFluxyError(thrown, 'invalid-argument')).toBe(true);
      expect((thrown as Error).message).toContain('start one with `await FaultServer.start(options)`');
    }
  });
});

describe('FaultServer: a key whose first request is still being processed', () => {
  const post = (body: string, key = 'key-1') =>
    fetch(`${server.url}/notes`, {
      method: 'POST',
      headers: { 'Idempotency-Key': key, 'Content-Type': 'application/json' },
      body,
    });
  const answerOf = async (response: Response) => [
    response.status,
    response.headers.get('retry-after'),
    await response.json(),
  ];

  it('answers 409 in-progress with Retry-After: 1 while the first waits in its delay (422 for another request), as the reference server does; then replays the first answer', async () => {
    // The delay runs on the test's clock: the duplicates come while the first surely waits.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      server.script({ delayMs: 60_000 });
      const first = post('{"n":1}');
      await server.waitForRequests(1, { label: 'the delayed POST' });
      expect(await answerOf(await post('{"n":1}'))).toStrictEqual([409, '1', { error: 'in-progress' }]);
      expect(await answerOf(await post('{"n":2}'))).toStrictEqual([
        422,
        null,
        { error: 'idempotency-key-reuse' },
      ]);
      // Another key is not held up.
      expect(await answerOf(await post('{"n":3}', 'key-2'))).toStrictEqual([
        201,
        null,
        { id: 'srv-1', serverId: 'srv-1' },
      ]);
      expect(server.applied.map((applied) => applied.key)).toStrictEqual(['key-2']);
      await vi.advanceTimersByTimeAsync(60_000);
      const created = [201, null, { id: 'srv-2', serverId: 'srv-2' }];
      expect(await answerOf(await first)).toStrictEqual(created);
      // Applied and stored: the key is replayed from now on, no longer in progress.
      expect(await answerOf(await post('{"n":1}'))).toStrictEqual(created);
      expect(server.applied.map((applied) => applied.key)).toStrictEqual(['key-2', 'key-1']);
      expect(server.received).toHaveLength(5);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a request that is never applied (a status, drop-before, hang) does not hold its key; dedupe: false holds none', async () => {
    server.script({ delayMs: 0, next: { status: 503 } }, 'hang');
    expect((await post('{"n":1}')).status).toBe(503);
    const hung = post('{"n":1}').catch(() => 'dropped');
    await server.waitForRequests(2, { label: 'the hanging POST' });
    expect(await answerOf(await post('{"n":1}'))).toStrictEqual([
      201,
      null,
      { id: 'srv-1', serverId: 'srv-1' },
    ]);
    await server.close();
    expect(await hung).toBe('dropped');
    server = await FaultServer.start({ dedupe: false });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      server.script({ delayMs: 60_000 });
      const first = post('{"n":1}');
      await server.waitForRequests(1, { label: 'the delayed POST' });
      expect((await post('{"n":1}')).status).toBe(201);
      await vi.advanceTimersByTimeAsync(60_000);
      expect((await first).status).toBe(201);
      expect(server.applied).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('in a batch, an op whose key is in progress ends the batch with its 409 and the batch answer carries its Retry-After', async () => {
    await server.close();
    server = await FaultServer.start({ batch: '/batch' });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      server.script({ delayMs: 60_000 });
      const first = post('{"n":1}');
      await server.waitForRequests(1, { label: 'the delayed POST' });
      const batch = await fetch(`${server.url}/batch`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          ops: [
            { id: 'key-0', method: 'POST', url: '/notes', body: { n: 0 } },
            { id: 'key-1', method: 'POST', url: '/notes', body: { n: 1 } },
            { id: 'key-2', method: 'POST', url: '/notes', body: { n: 2 } },
          ],
        }),
      });
      expect(await answerOf(batch)).toStrictEqual([
        200,
        '1',
        {
          results: [
            { id: 'key-0', status: 201, body: { id: 'srv-1', serverId: 'srv-1' } },
            { id: 'key-1', status: 409, body: { error: 'in-progress' } },
          ],
        },
      ]);
      await vi.advanceTimersByTimeAsync(60_000);
      expect((await first).status).toBe(201);
      expect(server.applied.map((applied) => applied.key)).toStrictEqual(['key-0', 'key-1']);
    } finally {
      vi.useRealTimers();
    }
  });
});
