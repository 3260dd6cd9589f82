import { describe, expect, it } from 'vitest';
import { resolveOperationUrl, resolveSyncOptions } from '../../src/plugins/sync/options.js';
import { prepareOperation } from '../../src/plugins/sync/request-validation.js';

const limits = {
  maxBodyBytes: 1024,
  resolveUrl: (url: string) => resolveOperationUrl(url, 'https://api.example.com/v1'),
};
const attempt = (method: unknown, url: unknown, options?: unknown) => () =>
  prepareOperation(method, url, options, limits);

function cyclic() {
  const value: Record<string, unknown> = {};
  value.self = value;
  return value;
}
/** `[1, <hole>, 3]`: JSON.stringify would send `[1,null,3]`. */
function holey() {
  const value: unknown[] = [1];
  value[2] = 3;
  return value;
}
function deep(levels: number) {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = [value];
  return value;
}

describe('queue() input validation', () => {
  it.each([
    ['method not a string', attempt(42, '/x'), 'sync/invalid-method'],
    ['empty method', attempt('', '/x'), 'sync/invalid-method'],
    ['method not a token', attempt('PO ST', '/x'), 'sync/invalid-method'],
    ['unsupported method', attempt('TRACE', '/x'), 'sync/invalid-method'],
    ['body with GET', attempt('GET', '/x', { body: { a: 1 } }), 'sync/invalid-body'],
    ['url not a string', attempt('POST', 12), 'sync/invalid-url'],
    ['empty url', attempt('POST', '  '), 'sync/invalid-url'],
    ['javascript: url', attempt('POST', 'javascript:alert(1)'), 'sync/invalid-url'],
    ['data: url', attempt('POST', 'data:text/plain,hi'), 'sync/invalid-url'],
    ['file: url', attempt('POST', 'file:///etc/passwd'), 'sync/invalid-url'],
    ['credentials in url', attempt('POST', 'https://user:pw@api.example.com/x'), 'sync/credentials-in-queue'],
    ['CR/LF in url', attempt('POST', '/x\r\nHost: evil'), 'sync/invalid-url'],
    ['unparsable absolute url', attempt('POST', 'http://[::1'), 'sync/invalid-url'],
    ['BigInt body', attempt('POST', '/x', { body: { n: 1n } }), 'sync/invalid-body'],
    ['function in body', attempt('POST', '/x', { body: { f() {} } }), 'sync/invalid-body'],
    ['symbol in body', attempt('POST', '/x', { body: { s: Symbol('s') } }), 'sync/invalid-body'],
    ['cyclic body', attempt('POST', '/x', { body: cyclic() }), 'sync/invalid-body'],
    ['lone surrogate', attempt('POST', '/x', { body: { s: '\uD800x' } }), 'sync/invalid-body'],
    ['NaN', attempt('POST', '/x', { body: { n: Number.NaN } }), 'sync/invalid-body'],
    ['a Map', attempt('POST', '/x', { body: new Map([[1, 2]]) }), 'sync/invalid-body'],
    ['too deep', attempt('POST', '/x', { body: deep(100) }), 'sync/invalid-body'],
    ['too large', attempt('POST', '/x', { body: 'x'.repeat(2000) }), 'sync/body-too-large'],
    [
      'meta too large together with body',
      attempt('POST', '/x', { body: 'x'.repeat(600), meta: 'y'.repeat(600) }),
      'sync/body-too-large',
    ],
    ['BigInt meta', attempt('POST', '/x', { meta: 1n }), 'sync/invalid-options'],
    ['headers not a plain object', attempt('POST', '/x', { headers: new Headers() }), 'sync/invalid-headers'],
    ['headers an array', attempt('POST', '/x', { headers: [['a', 'b']] }), 'sync/invalid-headers'],
    ['invalid header name', attempt('POST', '/x', { headers: { 'bad name': 'x' } }), 'sync/invalid-headers'],
    [
      'CR/LF in header value',
      attempt('POST', '/x', { headers: { 'X-A': 'a\r\nX-B: b' } }),
      'sync/invalid-headers',
    ],
    ['NUL in header value', attempt('POST', '/x', { headers: { 'X-A': 'a\0' } }), 'sync/invalid-headers'],
    ['non-string header', attempt('POST', '/x', { headers: { 'X-A': 1 } }), 'sync/invalid-headers'],
    [
      'duplicate header case',
      attempt('POST', '/x', { headers: { 'X-A': '1', 'x-a': '2' } }),
      'sync/invalid-headers',
    ],
    ['Host', attempt('POST', '/x', { headers: { Host: 'evil' } }), 'sync/invalid-headers'],
    ['Content-Length', attempt('POST', '/x', { headers: { 'Content-Length': '1' } }), 'sync/invalid-headers'],
    [
      'Authorization',
      attempt('POST', '/x', { headers: { Authorization: 'Bearer t' } }),
      'sync/credentials-in-queue',
    ],
    ['Cookie', attempt('POST', '/x', { headers: { cookie: 'a=b' } }), 'sync/credentials-in-queue'],
    [
      'Proxy-Authorization',
      attempt('POST', '/x', { headers: { 'Proxy-Authorization': 'x' } }),
      'sync/credentials-in-queue',
    ],
    [
      'caller Idempotency-Key',
      attempt('POST', '/x', { headers: { 'Idempotency-Key': 'k' } }),
      'sync/invalid-headers',
    ],
    ['options not an object', attempt('POST', '/x', 'body'), 'sync/invalid-options'],
    ['unknown option key', attempt('POST', '/x', { bdy: 1 }), 'sync/invalid-options'],
    ['kind not a string', attempt('POST', '/x', { kind: 3 }), 'sync/invalid-options'],
    [
      'non-Latin-1 header value',
      attempt('POST', '/x', { headers: { 'X-Name': 'é€' } }),
      'sync/invalid-headers',
    ],
    ['lone surrogate in a key', attempt('POST', '/x', { body: { '\uDC00': 1 } }), 'sync/invalid-body'],
    ['lone surrogate in the url', attempt('POST', '/x\uD800'), 'sync/invalid-url'],
    [
      'a getter that throws',
      attempt('POST', '/x', {
        body: {
          get boom() {
            throw new Error('boom');
          },
        },
      }),
      'sync/invalid-body',
    ],
    [
      'a Proxy that throws',
      attempt('POST', '/x', {
        body: new Proxy(
          {},
          {
            ownKeys() {
              throw new Error('trap');
            },
          },
        ),
      }),
      'sync/invalid-body',
    ],
    [
      'an array with a hole in the body',
      attempt('POST', '/x', { body: { list: holey() } }),
      'sync/invalid-body',
    ],
    ['an array with a hole as the body', attempt('POST', '/x', { body: holey() }), 'sync/invalid-body'],
    ['an array with a hole in meta', attempt('POST', '/x', { meta: holey() }), 'sync/invalid-options'],
    ['a new Array(2) body', attempt('POST', '/x', { body: new Array(2) }), 'sync/invalid-body'],
    [
      'a header named __proto__',
      attempt('POST', '/x', { headers: JSON.parse('{"X-A":"1","__proto__":"x"}') }),
      'sync/invalid-headers',
    ],
    ['tempId too short', attempt('POST', '/x', { tempId: 'tmp' }), 'sync/invalid-options'],
    ['tempId on GET', attempt('GET', '/x', { tempId: 'tmp_abcdefgh' }), 'sync/invalid-options'],
  ])('%s', (_name, run, code) => {
    expect(run).toThrow(expect.objectContaining({ name: 'FluxyError', code }));
  });

  it('explicit nulls and undefined array elements are told apart: [1, null, 3] is kept as is', () => {
    expect(prepareOperation('POST', '/x', { body: [1, null, 3] }, limits).bodyText).toBe('[1,null,3]');
    expect(attempt('POST', '/x', { body: [1, undefined, 3] })).toThrow(
      expect.objectContaining({ code: 'sync/invalid-body' }),
    );
  });

  it('stores exactly the headers it was given (none dropped on the way)', () => {
    const headers = { 'X-A': '1', constructor: 'c', toString: 't', hasOwnProperty: 'h' };
    const draft = prepareOperation('POST', '/x', { headers }, limits);
    expect(draft.headers).toStrictEqual(headers);
    expect(Object.keys(draft.headers ?? {})).toStrictEqual(Object.keys(headers));
  });

  it('a relative URL without a base is refused in Node with a message that says what to do', () => {
    expect(() =>
      prepareOperation('POST', '/x', undefined, {
        maxBodyBytes: 10,
        resolveUrl: (u) => resolveOperationUrl(u, undefined),
      }),
    ).toThrow(/give SyncPlugin a baseUrl/);
  });

  it('accepts any-case methods, Date bodies (via toJSON), undefined properties, and joins baseUrl + url', () => {
    const draft = prepareOperation(
      'patch',
      '/notes/1',
      { body: { at: new Date(0), gone: undefined }, meta: { previous: 'a' }, kind: 'note.update' },
      limits,
    );
    expect(draft).toStrictEqual({
      method: 'PATCH',
      url: '/notes/1',
      bodyText: '{"at":"1970-01-01T00:00:00.000Z"}',
      meta: { previous: 'a' },
      kind: 'note.update',
    });
    expect(resolveOperationUrl('/notes', 'https://api.example.com/v1/').href).toBe(
      'https://api.example.com/v1/notes',
    );
    expect(resolveOperationUrl('https://other.example/x', 'https://api.example.com/v1').href).toBe(
      'https://other.example/x',
    );
  });
});

describe('SyncPlugin options validation', () => {
  it.each([
    ['not an object', 'x'],
    ['unknown key', { baseURL: '/api' }],
    ['baseUrl not http', { baseUrl: 'ftp://x' }],
    ['baseUrl with credentials', { baseUrl: 'https://u:p@x' }],
    ['headers not an object', { headers: 'Authorization: x' }],
    ['headers null', { headers: null }],
    ['headers an array', { headers: [['X-A', 'a']] }],
    ['headers a Map', { headers: new Map([['X-A', 'a']]) }],
    ['header value with CRLF', { headers: { 'X-A': 'a\r\n' } }],
    ['retry not an object', { retry: 3 }],
    ['unknown retry key', { retry: { attempts: 3 } }],
    ['maxAttempts 0', { retry: { maxAttempts: 0 } }],
    ['negative baseDelay', { retry: { baseDelayMs: -1 } }],
    ['base above max', { retry: { baseDelayMs: 10, maxDelayMs: 5 } }],
    ['timeout 0', { timeoutMs: 0 }],
    ['interval NaN', { intervalMs: Number.NaN }],
    ['fetch not a function', { fetch: 'fetch' }],
    ['empty namespace', { namespace: '' }],
    ['namespace with a slash', { namespace: 'a/b' }],
    ['locks not a manager', { locks: {} }],
  ])('%s → sync/invalid-options', (_name, options) => {
    expect(() => resolveSyncOptions(options)).toThrow(
      expect.objectContaining({ code: 'sync/invalid-options' }),
    );
  });
  it('fills the documented defaults', () => {
    expect(resolveSyncOptions(undefined)).toMatchObject({
      timeoutMs: 30_000,
      intervalMs: 30_000,
      maxBodyBytes: 1_048_576,
      namespace: 'sync',
      retry: { maxAttempts: 8, baseDelayMs: 1000, maxDelayMs: 60_000, maxRetryAfterMs: 3_600_000 },
    });
  });
});

describe('issue 17, finding 9: small input limits', () => {
  const prepare = (url: string, options?: unknown) =>
    prepareOperation('POST', url, options, {
      maxBodyBytes: 1_048_576,
      resolveUrl: (candidate) => resolveOperationUrl(candidate, 'https://api.example.com'),
    });

  it('a URL over 8 KiB is refused at queue()', () => {
    expect(() => prepare(`/notes?q=${'x'.repeat(8200)}`)).toThrow(
      expect.objectContaining({ code: 'sync/invalid-url' }),
    );
    expect(prepare(`/notes?q=${'x'.repeat(8000)}`).url).toHaveLength(8009);
  });

  it("a body's toJSON() is called once, and what it returned is what is checked and stored", () => {
    let calls = 0;
    const body = {
      when: {
        toJSON() {
          calls++;
          return calls === 1 ? 'first' : { late: () => 1 };
        },
      },
      list: [1, { toJSON: () => 'x' }],
    };
    expect(prepare('/notes', { body }).bodyText).toBe('{"when":"first","list":[1,"x"]}');
    expect(calls).toBe(1);
  });

  it('what toJSON() returns is still checked (a BigInt, a cycle, a hole)', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    const holey: unknown[] = [1];
    holey[2] = 3;
    for (const value of [10n, cycle, holey]) {
      expect(() => prepare('/notes', { body: { item: { toJSON: () => value } } })).toThrow(
        expect.objectContaining({ code: 'sync/invalid-body' }),
      );
    }
  });
});
