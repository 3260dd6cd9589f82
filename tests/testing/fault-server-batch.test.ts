import { afterEach, describe, expect, it } from 'vitest';
import { FaultServer } from '../../src/testing/index.js';
import { exactlyOnceInOrder, makeEngine, nextEvent, until } from '../sync/harness.js';

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function start(): Promise<FaultServer> {
  const server = await FaultServer.start({ batch: '/batch' });
  closers.push(() => server.close());
  return server;
}

const post = (id: string, title: string) => ({
  id,
  method: 'POST',
  url: '/notes',
  headers: {},
  body: { title },
});

describe('FaultServer batch endpoint', () => {
  it('runs the ops in order, once per id, stopping at the first that does not succeed', async () => {
    const server = await start();
    server.script('ok', 'ok', { status: 422 });
    const send = (ops: unknown[]) =>
      fetch(`${server.url}/batch`, { method: 'POST', body: JSON.stringify({ ops }) }).then(
        async (response) => ({ status: response.status, json: await response.json() }),
      );
    const first = await send([post('k1', 'a'), post('k2', 'b'), post('k3', 'c')]);
    expect(first.status).toBe(200);
    expect(first.json.results).toEqual([
      { id: 'k1', status: 201, body: { id: 'srv-1', serverId: 'srv-1' } },
      { id: 'k2', status: 422, body: { error: 422 } },
    ]);
    const second = await send([post('k1', 'a'), post('k2', 'b')]);
    expect(second.json.results.map((result: { status: number }) => result.status)).toEqual([201, 201]);
    expect(server.applied.map((entry) => [entry.key, entry.path, entry.body])).toEqual([
      ['k1', '/notes', { title: 'a' }],
      ['k2', '/notes', { title: 'b' }],
    ]);
    expect(server.received).toHaveLength(2); // the batches, not their ops
  });

  it('drives an outbox in batches through faults: exactly once, in order', async () => {
    const server = await start();
    const { engine, online, queue } = makeEngine({
      baseUrl: server.url,
      online: false,
      batch: { url: '/batch', max: 3 },
    });
    closers.push(() => engine.dispose());
    await engine.start();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await queue('POST', '/notes', { body: { n: i } })).id);
    // Batch 1: cut after its second op was applied; its resend: the third op answers 503.
    server.script('ok', 'ok', 'drop-after', 'ok', 'ok', 'ok', { status: 503, retryAfter: '0' });
    const retry = nextEvent(engine, 'retry');
    online.value = true;
    expect((await retry).error.code).toBe('sync/network-error');
    await until(() => engine.pendingCount.value === 0, 'the queue to drain');
    expect(
      exactlyOnceInOrder(
        server.applied.map((entry) => entry.key),
        ids,
      ),
    ).toEqual([]);
    // [0, 1, 2] cut; resent: 0 and 1 answered, 2 refused with 503 (its Retry-After: 0 on the
    // batch); then [2, 3, 4] and [5, 6].
    expect(server.received.map((request) => request.path)).toEqual(['/batch', '/batch', '/batch', '/batch']);
  });
});
