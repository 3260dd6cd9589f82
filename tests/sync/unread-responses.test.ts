import { describe, expect, it } from 'vitest';
import type { FetchFunction } from '../../src/plugins/sync/index.js';
import { resolveSyncOptions } from '../../src/plugins/sync/options.js';
import { sendOperation } from '../../src/plugins/sync/transport.js';
import { gate, MemoryStore } from '../support/memory-store.js';
import { faultServerPerTest, manualTimeouts, nextEvent, until, withTimeout } from './harness.js';

// Issue 17, finding 4: a create answered 201 whose body was slower than timeoutMs (or cut short,
// or not JSON) counted as sent with no server id, so the ops using its temporary id went out with
// it and failed for good. A create with a tempId is done only once its server id is read.
// Finding 9: response bodies are read up to maxResponseBytes.
const fixture = faultServerPerTest();
const { engineFor } = fixture;

const trail = () =>
  fixture.server.received.map((request) => `${request.method} ${request.path} ${request.key}`);

/**
 * An engine whose request timeouts expire only when the test runs them (manualTimeouts), and a gate
 * opened when the first answer's status and headers are in (its body may still be on its way). A
 * stalled body is then cut by its timeout for sure, and no other answer is, however slow the
 * machine (with a real 300 ms timeout a loaded machine timed out the retry, or the headers).
 */
function engineWithTimeouts() {
  const timeouts = manualTimeouts();
  const headers = gate();
  const watched: FetchFunction = async (input, init) => {
    const response = await fetch(input, init);
    headers.open();
    return response;
  };
  const made = engineFor({ baseUrl: fixture.server.url, timeoutMs: 300, fetch: watched, ...timeouts });
  /** The first request's timeout expires, once its answer's headers are in and its body is not. */
  const expireFirstBody = async () => {
    await withTimeout(headers.promise, 'the status and headers of the first answer');
    const [first] = timeouts.set;
    expect(first).toMatchObject({ ms: 300, cleared: false });
    first?.run();
  };
  return { ...made, expireFirstBody };
}

describe('a create whose response cannot be read', () => {
  for (const fault of ['stall-body', 'garble-body'] as const) {
    it(`${fault}: asked again with the same key; the op using its temp id waits and gets the server id`, async () => {
      fixture.server.script(fault);
      const { engine, queue, expireFirstBody } = engineWithTimeouts();
      await engine.start();
      const retried = nextEvent(engine, 'retry');
      const create = await queue('POST', '/api/notes', { body: { title: 'a' }, tempId: 'tmp_note_0001' });
      const patch = await queue('PATCH', '/api/notes/tmp_note_0001', { body: { title: 'b' } });
      if (fault === 'stall-body') await expireFirstBody(); // (a garbled body ends by itself)
      expect((await retried).error).toMatchObject({ code: 'sync/response-unreadable', status: 201 });
      await until(() => engine.pendingCount.value === 0, 'the create and its dependant sent');
      expect(trail()).toStrictEqual([
        `POST /api/notes ${create.id}`,
        `POST /api/notes ${create.id}`,
        `PATCH /api/notes/srv-1 ${patch.id}`,
      ]);
      expect(fixture.server.applied.map((applied) => applied.path)).toStrictEqual([
        '/api/notes',
        '/api/notes/srv-1',
      ]);
      expect(await engine.resolveId('tmp_note_0001')).toBe('srv-1');
      expect(engine.failedCount.value).toBe(0);
    });
  }

  it('an op without a tempId whose body stalls still counts as sent (the status decided)', async () => {
    fixture.server.script('stall-body');
    const { engine, queue, expireFirstBody } = engineWithTimeouts();
    await engine.start();
    const sent = nextEvent(engine, 'sent');
    const op = await queue('POST', '/api/notes', { body: {} });
    await expireFirstBody();
    expect(await sent).toMatchObject({ operation: { id: op.id }, status: 201, response: undefined });
    expect(trail()).toStrictEqual([`POST /api/notes ${op.id}`]);
  });
});

describe('maxResponseBytes', () => {
  it('a body over the limit is dropped, with a flag, and not stored in the outcome', async () => {
    const store = new MemoryStore();
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url, maxResponseBytes: 8, store });
    await engine.start();
    const outcomes: unknown[] = [];
    engine.handle('note.create', { sent: (outcome) => void outcomes.push(outcome) });
    const sent = nextEvent(engine, 'sent');
    await queue('POST', '/api/notes', { body: {}, kind: 'note.create' });
    expect(await sent).toMatchObject({ status: 201, response: undefined, responseTooLarge: true });
    await until(() => outcomes.length === 1, 'the outcome delivered');
    expect(outcomes[0]).toMatchObject({ response: undefined, responseTooLarge: true });
    expect([...store.data.values()].join('')).not.toContain('srv-1');
  });

  it('within the limit the body is read as before', async () => {
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url, maxResponseBytes: 1024 });
    await engine.start();
    const sent = nextEvent(engine, 'sent');
    await queue('POST', '/api/notes', { body: {} });
    const payload = await sent;
    expect(payload.response).toStrictEqual({ id: 'srv-1', serverId: 'srv-1' });
    expect(payload.responseTooLarge).toBeUndefined();
  });

  it('is validated', () => {
    for (const maxResponseBytes of [0, -1, 1.5, '1', Number.POSITIVE_INFINITY]) {
      expect(() => resolveSyncOptions({ maxResponseBytes })).toThrow(
        expect.objectContaining({ code: 'sync/invalid-options' }),
      );
    }
    expect(resolveSyncOptions({}).maxResponseBytes).toBe(1_048_576);
  });
});

describe('a response body read in chunks', () => {
  it('joins a character split between two chunks, and still stops past maxResponseBytes', async () => {
    const bytes = new TextEncoder().encode('{"title":"café ✓"}');
    const split = bytes.indexOf(0xe2) + 1; // inside the three bytes of ✓
    const respond = () =>
      new Response(
        new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(bytes.slice(0, split));
            controller.enqueue(bytes.slice(split));
            controller.close();
          },
        }),
        { headers: { 'Content-Type': 'application/json' } },
      );
    const send = (maxResponseBytes: number) =>
      sendOperation(
        {
          id: 'x',
          idempotencyKey: 'x',
          method: 'POST',
          url: 'https://api.example/x',
          createdAt: 0,
          attempts: 0,
        },
        '{}',
        {
          fetch: async () => respond(),
          resolveUrl: (url) => new URL(url),
          headers: undefined,
          timeoutMs: 5000,
          maxResponseBytes,
          setTimer: (callback, ms) => setTimeout(callback, ms),
          clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
        },
        new AbortController().signal,
      );
    expect(await send(bytes.length)).toMatchObject({
      kind: 'response',
      body: { title: 'café ✓' },
      bytes: bytes.length,
    });
    expect(await send(bytes.length - 1)).toMatchObject({ body: undefined, bodyProblem: 'too-large' });
  });
});
