import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Operation } from '../../src/plugins/sync/operation.js';

// The request of an attempt is sent by a lazy chunk (send-request.ts), loaded by the first
// attempt. A chunk that cannot load (the page's host unreachable, a deploy that removed it) is a
// network error: nothing was sent, the engine retries with the same key, and the next attempt
// loads the chunk again.
const operation: Operation = {
  id: '019ab3c4d5e6-0000-9f1c2b7a4d3e8f60',
  idempotencyKey: '019ab3c4d5e6-0000-9f1c2b7a4d3e8f60',
  method: 'POST',
  url: 'https://api.example/notes',
  createdAt: 0,
  attempts: 0,
};

describe('the lazy chunk that sends a request', () => {
  afterEach(() => {
    vi.doUnmock('../../src/plugins/sync/send-request.js');
    vi.resetModules();
  });

  it('is a network error when it cannot load, and is loaded again by the next attempt', async () => {
    const unavailable = new Error('chunk unavailable');
    vi.doMock('../../src/plugins/sync/send-request.js', () => {
      throw unavailable;
    });
    const { sendOperation } = await import('../../src/plugins/sync/transport.js');
    const fetched: string[] = [];
    const options = {
      fetch: async (input: RequestInfo | URL) => {
        fetched.push(String(input));
        return new Response('{"id":1}', { status: 201, headers: { 'Content-Type': 'application/json' } });
      },
      resolveUrl: (url: string) => new URL(url),
      headers: undefined,
      timeoutMs: 5000,
      setTimer: (callback: () => void, ms: number) => setTimeout(callback, ms),
      clearTimer: (handle: unknown) => clearTimeout(handle as ReturnType<typeof setTimeout>),
    };
    const failed = await sendOperation(operation, '{}', options, new AbortController().signal);
    expect(failed.kind).toBe('network');
    expect((failed as { cause: unknown }).cause).toBeInstanceOf(Error);
    expect(fetched).toEqual([]);

    vi.doUnmock('../../src/plugins/sync/send-request.js');
    const sent = await sendOperation(operation, '{}', options, new AbortController().signal);
    expect(sent).toMatchObject({ kind: 'response', status: 201, body: { id: 1 } });
    expect(fetched).toEqual(['https://api.example/notes']);
  });
});
