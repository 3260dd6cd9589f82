import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { collectErrors, renderErrors } from '../../scripts/errors-doc.mjs';
import { stripProse } from '../../scripts/strip-prose.mjs';

describe('docs/errors.md and the production build', () => {
  it('lists every error code of the sources, with what it means, and is up to date', async () => {
    const codes = await collectErrors();
    expect(codes.size).toBeGreaterThan(40);
    const text = await readFile(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    expect(text, 'run: node scripts/errors-doc.mjs').toBe(await renderErrors());
    for (const code of codes.keys()) expect(text).toMatch(new RegExp(`\\*\\*\`${code}\`\\*\\*\\n  - `));
  });

  it("lists the messages a wrapper builds from its callers' prose, every one, with named placeholders", async () => {
    const codes = await collectErrors();
    const options = [...(codes.get('sync/invalid-options')?.messages ?? [])];
    // invalid(problem) in src/plugins/sync/options.ts: each call's problem, not the wrapper's own.
    expect(options).toContain(
      'new SyncPlugin(options): namespace must be 1 to 100 characters of A-Z a-z 0-9 . _ - (no "/").',
    );
    expect(options).toContain('new SyncPlugin(options): retry.baseDelayMs must not exceed retry.maxDelayMs.');
    expect(options).not.toContain('new SyncPlugin(options): {problem}.');
    expect(options.length).toBeGreaterThan(15); // no longer cut at three
    // A conditional of two prose branches gives both; a substitution is named by its value.
    const row = [...(codes.get('collections/invalid-row')?.messages ?? [])];
    expect(row).toContain(
      '{name}.insert(fields): do not pass "{field}": it is the clientIdField, which Fluxy sets to the temporary id.',
    );
    expect(row.some((message) => message.includes('the server assigns ids'))).toBe(true);
    // An exported wrapper (the core's invalidArgument(message)) expanded where a file imports it.
    expect([...(codes.get('invalid-argument')?.messages ?? [])]).toContain(
      'derive(fn): fn must be a function.',
    );
    // toStorageError(error, operation), exported, called from other files with the operation's name.
    expect([...(codes.get('storage/quota-exceeded')?.messages ?? [])]).toContain(
      'Opening the indexeddb driver failed: the storage quota is exhausted. The data already stored is intact; free space (remove or clear old keys) or ask the browser for more (navigator.storage.persist()), then retry.',
    );
  });

  it('leaves out the prose of errors and warnings, and nothing else', () => {
    // Source text, not templates of this file: the ${…} are the strings under test.
    // biome-ignore-start lint/suspicious/noTemplateCurlyInString: source text under test
    const source = [
      "throw new FluxyError('sync/invalid-url', `queue(): the URL ${url} is not http(s): pass an absolute http URL.`);",
      "throw storageError('storage/unavailable', 'The file driver needs Node (node:fs), and this is not Node.');",
      "this.#logger?.warn('could not tell the other tabs about it', error);",
      "const error = { code: 'sync/timeout', message: `no answer after ${ms} ms: retried later.`, at };",
      "headers.set('Content-Type', 'application/json; charset=utf-8');",
      "const pattern = 'a string with spaces, not an error message at all';",
    ].join('\n');
    // biome-ignore-end lint/suspicious/noTemplateCurlyInString: source text under test
    const stripped = stripProse(source).split('\n');
    // The last argument of a call goes with its comma (FluxyError reads a missing message as '').
    expect(stripped[0]).toBe("throw new FluxyError('sync/invalid-url');");
    expect(stripped[1]).toBe("throw storageError('storage/unavailable');");
    expect(stripped[2]).toBe("this.#logger?.warn('', error);");
    expect(stripped[3]).toBe("const error = { code: 'sync/timeout', message: '', at };");
    expect(stripped.slice(4)).toStrictEqual(source.split('\n').slice(4));
  });

  it('also leaves out prose in the branches of a conditional, refuse(…), console.*(…) and example:', () => {
    // biome-ignore-start lint/suspicious/noTemplateCurlyInString: source text under test
    const source = [
      "throw new FluxyError('plugin/duplicate', same ? `Plugin ${name} is already registered here.` : 'short');",
      "refuse(path, 'is a BigInt (convert it to a string)');",
      "console.error('fluxy/connectivity: a handler of a probe answer threw', error);",
      "checkOptions(options, keys, { where, example: '{ limit: 100, after: lastId }' }, fail);",
      "const label = same ? 'a string with spaces, not an error message' : 'another long string of words';",
    ].join('\n');
    // biome-ignore-end lint/suspicious/noTemplateCurlyInString: source text under test
    const stripped = stripProse(source).split('\n');
    expect(stripped[0]).toBe("throw new FluxyError('plugin/duplicate', same ? '' : 'short');");
    expect(stripped[1]).toBe('refuse(path);');
    expect(stripped[2]).toBe("console.error('', error);");
    expect(stripped[3]).toBe("checkOptions(options, keys, { where, example: '' }, fail);");
    expect(stripped[4]).toBe(source.split('\n')[4]);
  });

  it("drops a last prose argument with its comma (also a trailing one), keeps '' elsewhere and in fluxy/testing", () => {
    const source = [
      "throw invalidArgument('bindText(node, source): node must be a DOM node.');",
      "throw invalidArgument(\n  'a message long enough to be prose, on its own line',\n);",
      "throw new FluxyError('sync/x', 'a message long enough to be prose', { cause });",
      "fail('a message long enough to be prose', 'and another message of words');",
    ].join('\n');
    expect(stripProse(source, '/repo/src/plugins/sync/x.ts')).toBe(
      [
        'throw invalidArgument();',
        'throw invalidArgument(\n);',
        "throw new FluxyError('sync/x', '', { cause });",
        "fail('');",
      ].join('\n'),
    );
    // A conditional of two prose branches goes whole when its condition has no effect; else its
    // condition stays (a call may have one).
    expect(
      stripProse(
        [
          "throw invalidArgument(typeof s === 'function' ? 'pass a signal, not a function' : 'pass a signal, e.g. this');",
          "throw new FluxyError('x/y', a.b === 1 ? 'a long message of many words' : 'another long message of words', { cause });",
          "throw new FluxyError('x/y', f() ? 'a long message of many words' : 'another long message of words');",
          "throw new FluxyError('x/y', i++ ? 'a long message of many words' : 'another long message of words');",
        ].join('\n'),
        '/repo/src/plugins/sync/x.ts',
      ),
    ).toBe(
      [
        'throw invalidArgument();',
        "throw new FluxyError('x/y', '', { cause });",
        "throw new FluxyError('x/y', f() ? '' : '');",
        "throw new FluxyError('x/y', i++ ? '' : '');",
      ].join('\n'),
    );
    // FaultServer's answers carry their message as JSON: there '' stays ''.
    expect(stripProse(source, '/repo/src/testing/fault-server.ts').split('\n')[0]).toBe(
      "throw invalidArgument('');",
    );
  });
});
