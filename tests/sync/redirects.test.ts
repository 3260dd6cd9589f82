import { afterEach, describe, expect, it } from 'vitest';
import { FaultServer } from '../../src/testing/index.js';
import { faultServerPerTest, nextEvent } from './harness.js';

// Issue 17, finding 1: fetch followed redirects, so a write answered by a redirect was reported
// sent (same-origin login page), turned into a GET elsewhere (301/302/303), or resent with its
// body and headers to another origin (307/308). A redirect is a failure, naming its target.
const fixture = faultServerPerTest();
const { engineFor } = fixture;
const others: FaultServer[] = [];
afterEach(async () => {
  for (const server of others.splice(0)) await server.close();
});

async function otherOrigin(): Promise<FaultServer> {
  const server = await FaultServer.start();
  others.push(server);
  return server;
}

describe('redirects', () => {
  it('a same-origin 302 to a login page answering 200 is a failure, not a sent op', async () => {
    const server = fixture.server;
    server.script({ status: 302, headers: { Location: '/login' } });
    const { engine, queue } = engineFor({ baseUrl: server.url });
    await engine.start();
    const failed = nextEvent(engine, 'failed');
    const op = await queue('POST', '/api/notes', { body: { title: 'a' } });
    const { error } = await failed;
    expect(error).toMatchObject({ code: 'sync/redirected', status: 302, location: `${server.url}/login` });
    expect(error.message).toContain(`${server.url}/login`);
    expect(server.received.map((request) => `${request.method} ${request.path}`)).toStrictEqual([
      'POST /api/notes',
    ]);
    expect((await engine.failed()).map((operation) => operation.id)).toStrictEqual([op.id]);
    expect(engine.pendingCount.value).toBe(0);
  });

  for (const status of [301, 302, 303, 307, 308]) {
    it(`a ${status} to another origin sends nothing there, and the op fails naming the target`, async () => {
      const other = await otherOrigin();
      fixture.server.script({ status, headers: { Location: `${other.url}/steal` } });
      const { engine, queue } = engineFor({
        baseUrl: fixture.server.url,
        headers: { 'X-Api-Key': 'secret-key' },
      });
      await engine.start();
      const failed = nextEvent(engine, 'failed');
      await queue('POST', '/api/notes', { body: { title: 'a' } });
      expect((await failed).error).toMatchObject({
        code: 'sync/redirected',
        status,
        location: `${other.url}/steal`,
      });
      expect(other.received).toStrictEqual([]);
    });
  }

  it('the ops behind a redirected one are still sent', async () => {
    fixture.server.script({ status: 307, headers: { Location: '/elsewhere' } });
    const { engine, queue } = engineFor({ baseUrl: fixture.server.url });
    await engine.start();
    const first = await queue('POST', '/api/a', { body: {} });
    const second = await queue('POST', '/api/b', { body: {} });
    await engine.flush();
    expect(fixture.server.applied.map((applied) => applied.key)).toStrictEqual([second.id]);
    expect((await engine.failed()).map((operation) => operation.id)).toStrictEqual([first.id]);
  });

  it('a custom fetch that follows redirects anyway: the redirected answer is still a failure', async () => {
    const other = await otherOrigin();
    fixture.server.script({ status: 302, headers: { Location: `${other.url}/landing` } });
    const { engine, queue } = engineFor({
      baseUrl: fixture.server.url,
      fetch: (input, init) => fetch(input, { ...init, redirect: 'follow' }),
    });
    await engine.start();
    const failed = nextEvent(engine, 'failed');
    await queue('POST', '/api/notes', { body: {} });
    expect((await failed).error).toMatchObject({ code: 'sync/redirected', location: `${other.url}/landing` });
    expect(engine.pendingCount.value).toBe(0);
  });
});
