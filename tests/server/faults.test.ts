import { describe, expect, it } from 'vitest';
import { FaultQueue, parseFaults, takesFault } from '../../examples/server/faults.mjs';
import type { LogEntry, Note, RunningServer } from '../../examples/server/server.mjs';
import { getJson, queueFaults, send, startServer } from './helpers.js';

/** fetch's error for a dropped connection, as the outbox sees it (RELIABILITY.md fact 1). */
async function expectDropped(request: Promise<Response>) {
  const error = await request.then(
    (response) => new Error(`expected a dropped connection, got HTTP ${response.status}`),
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(TypeError);
  expect((error as TypeError).message).toBe('fetch failed');
  expect(((error as TypeError).cause as { code?: string }).code).toBe('UND_ERR_SOCKET');
}

describe('parseFaults', () => {
  it('accepts every documented fault', () => {
    const faults = [
      'ok',
      'drop-before',
      'drop-after',
      { status: 503 },
      { status: 429, retryAfter: '2' },
      { status: 401 },
      { delayMs: 0 },
      { delayMs: 60_000 },
    ];
    expect(parseFaults(faults)).toStrictEqual(faults);
  });

  it.each([
    [{ status: 503 }, /array/],
    [['drop'], /Fault 0/],
    [['ok', { status: 200 }], /Fault 1: status/],
    [[{ status: 503.5 }], /status/],
    [[{ status: 503, retryAfter: 2 }], /retryAfter/],
    [[{ status: 503, retryAfter: '2\r\nX: y' }], /retryAfter/],
    [[{ delayMs: -1 }], /delayMs/],
    [[{ delayMs: 60_001 }], /delayMs/],
    [[{ status: 503, delayMs: 10 }], /unknown fault shape/],
    [[null], /Fault 0/],
  ])('refuses %j', (input, message) => {
    expect(() => parseFaults(input)).toThrow(message);
  });

  it('is a FIFO queue that answers "ok" when empty', () => {
    const queue = new FaultQueue();
    queue.add(['drop-before', { status: 500 }]);
    expect(queue.take()).toBe('drop-before');
    expect(queue.list()).toStrictEqual([{ status: 500 }]);
    expect(queue.take()).toStrictEqual({ status: 500 });
    expect(queue.take()).toBe('ok');
  });

  it('applies to mutating app requests only, never to control endpoints', () => {
    expect(takesFault('POST', '/api/notes')).toBe(true);
    expect(takesFault('DELETE', '/api/notes/n_1')).toBe(true);
    expect(takesFault('GET', '/api/notes')).toBe(false);
    expect(takesFault('POST', '/api/_faults')).toBe(false);
    expect(takesFault('POST', '/api/_reset')).toBe(false);
    expect(takesFault('POST', '/upload')).toBe(false);
  });
});

describe('/api/_faults', () => {
  it('queues, lists and clears faults over HTTP', async () => {
    const server = await startServer();
    const posted = await send(server, 'POST', '/api/_faults', ['drop-before', { status: 503 }]);
    expect(posted.status).toBe(200);
    expect(await posted.json()).toStrictEqual(['drop-before', { status: 503 }]);
    await queueFaults(server, [{ delayMs: 5 }]);
    expect(await getJson(server, '/api/_faults')).toStrictEqual([
      'drop-before',
      { status: 503 },
      { delayMs: 5 },
    ]);

    const invalid = await send(server, 'POST', '/api/_faults', ['explode']);
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toMatchObject({
      error: 'validation',
      message: expect.stringMatching(/Fault 0/),
    });
    expect(await getJson<unknown[]>(server, '/api/_faults')).toHaveLength(3);

    // Reads and control requests do not use up faults.
    await getJson(server, '/api/notes');
    await send(server, 'POST', '/api/_faults', []);
    expect(await getJson<unknown[]>(server, '/api/_faults')).toHaveLength(3);

    expect((await send(server, 'DELETE', '/api/_faults')).status).toBe(204);
    expect(await getJson(server, '/api/_faults')).toStrictEqual([]);
  });

  it('consumes one fault per mutating request, "ok" included', async () => {
    const server = await startServer();
    await queueFaults(server, ['ok', { status: 500 }]);
    expect((await send(server, 'POST', '/api/notes', { title: 'a' })).status).toBe(201);
    expect((await send(server, 'POST', '/api/notes', { title: 'b' })).status).toBe(500);
    expect((await send(server, 'POST', '/api/notes', { title: 'c' })).status).toBe(201);
    expect((await getJson<Note[]>(server, '/api/notes')).map((note) => note.title)).toStrictEqual(['a', 'c']);
  });
});

describe('injected faults', () => {
  it('drop-before: the request fails at the network level and nothing is applied; the retry applies once', async () => {
    const server = await startServer();
    await queueFaults(server, ['drop-before']);
    await expectDropped(send(server, 'POST', '/api/notes', { title: 'a' }, { key: 'op-1' }));
    expect(await getJson(server, '/api/notes')).toStrictEqual([]);
    expect(await getJson(server, '/api/_log')).toStrictEqual([]);

    const retry = await send(server, 'POST', '/api/notes', { title: 'a' }, { key: 'op-1' });
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    expect(await getJson<unknown[]>(server, '/api/_log')).toHaveLength(1);
  });

  it('drop-after: the request fails like drop-before, yet it was applied; the retry gets the stored response', async () => {
    const server = await startServer();
    await queueFaults(server, ['drop-after']);
    await expectDropped(send(server, 'POST', '/api/notes', { title: 'a' }, { key: 'op-1' }));
    const notes = await getJson<Note[]>(server, '/api/notes');
    expect(notes.map((note) => note.title)).toStrictEqual(['a']);

    const retry = await send(server, 'POST', '/api/notes', { title: 'a' }, { key: 'op-1' });
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(await retry.json()).toStrictEqual(notes[0]);
    expect(await getJson(server, '/api/notes')).toStrictEqual(notes);
    expect(await getJson<unknown[]>(server, '/api/_log')).toHaveLength(1);
  });

  it.each([
    [503, '2'],
    [429, '120'],
    [500, undefined],
    [401, undefined],
  ])(
    '{ status: %i, retryAfter: %s } answers without applying, and does not burn the key',
    async (status, retryAfter) => {
      const server = await startServer();
      await queueFaults(server, [retryAfter === undefined ? { status } : { status, retryAfter }]);
      const failed = await send(server, 'POST', '/api/notes', { title: 'a' }, { key: 'op-1' });
      expect(failed.status).toBe(status);
      expect(failed.headers.get('retry-after')).toBe(retryAfter ?? null);
      expect(await failed.json()).toMatchObject({ error: 'injected-fault' });
      expect(await getJson(server, '/api/notes')).toStrictEqual([]);

      const retry = await send(server, 'POST', '/api/notes', { title: 'a' }, { key: 'op-1' });
      expect(retry.status).toBe(201);
      expect(retry.headers.get('idempotent-replayed')).toBeNull();
    },
  );

  it('{ delayMs } delays the answer, then handles the request normally', async () => {
    const server = await startServer();
    await queueFaults(server, [{ delayMs: 200 }]);
    const started = performance.now();
    const response = await send(server, 'POST', '/api/notes', { title: 'a' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    expect(response.status).toBe(201);
  });
});

/**
 * A minimal outbox client: sends ops one at a time in order and retries each until it gets a
 * non-retryable answer. `sameKeyOnRetry: false` is the broken client the checker must catch.
 */
async function drain(server: RunningServer, titles: string[], sameKeyOnRetry: boolean) {
  for (const [index, title] of titles.entries()) {
    for (let attempt = 0; ; attempt++) {
      const key = sameKeyOnRetry ? `op-${index}` : `op-${index}-attempt-${attempt}`;
      const response = await send(server, 'POST', '/api/notes', { title }, { key }).catch(() => null);
      if (response && response.status !== 409 && response.status !== 429 && response.status < 500) {
        expect(response.status).toBe(201);
        break;
      }
      if (attempt > 20) throw new Error(`op ${index} never succeeded`);
    }
  }
}

describe('exactly-once under faults', () => {
  const titles = Array.from({ length: 12 }, (_, index) => `note ${index}`);
  const faults = [
    'drop-after',
    'drop-before',
    { status: 503, retryAfter: '0' },
    'ok',
    'drop-after',
    'drop-after',
    { status: 429 },
    { delayMs: 20 },
    'drop-before',
    'ok',
    'drop-after',
    { status: 500 },
    'drop-after',
  ];

  it('applies every op once, in enqueue order, when the client reuses its key', async () => {
    const server = await startServer();
    await queueFaults(server, faults);
    await drain(server, titles, true);
    const log = await getJson<LogEntry[]>(server, '/api/_log');
    expect(log.map((entry) => (entry.body as { title: string }).title)).toStrictEqual(titles);
    expect(log.map((entry) => entry.key)).toStrictEqual(titles.map((_, index) => `op-${index}`));
    expect(await getJson(server, '/api/_faults')).toStrictEqual([]); // every fault was exercised
  });

  it('calibration: the same check catches a client that makes a new key per attempt', async () => {
    const server = await startServer();
    await queueFaults(server, faults);
    await drain(server, titles, false);
    const log = await getJson<LogEntry[]>(server, '/api/_log');
    expect(log.map((entry) => (entry.body as { title: string }).title)).not.toStrictEqual(titles);
    expect(log.length).toBeGreaterThan(titles.length);
  });
});
