// docs/errors.md from the sources: every error code of the package (the members of the exported
// `…ErrorCode` unions), with the development build's messages for it — what happened and what to
// do. The production build carries only the code; this page is where its prose lives.
//
//   node scripts/errors-doc.mjs           # writes docs/errors.md
//   node scripts/errors-doc.mjs --check   # exits 1 when docs/errors.md is not up to date (npm test runs it too)
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * For codes whose messages are built elsewhere (an operation's lastError, a status mapping): listed
 * first, before the messages of the calls that throw the code, if any.
 */
const DESCRIBED = {
  'collections/invalid-options':
    "new Collection(name, options) refused its name (1-64 letters, digits, _ or -, starting with a letter; not a built-in plugin's: sync, storage, connectivity) or an option: url (required: a path or an http(s) URL with a host, without query or fragment), key (a field name), conflict ('lww', 'server-wins', 'client-wins' or a function), clientIdField, pullIntervalMs (0, or whole ms from 1000), compare, locks, now, random. The development message names the option and the value given; docs/collections.md lists them.",
  'collections/clock-skew':
    "A pulled clock is more than 5 minutes ahead of this device's clock: it was not adopted (the rows were). Check the device's or the server's clock.",
  'connectivity/invalid-probe':
    "The probe option is not { url, intervalMs?, maxIntervalMs?, timeoutMs?, method? } with an http(s) URL, positive durations (maxIntervalMs not below intervalMs) and method 'HEAD' or 'GET'.",
  'sync/http-error':
    'The server answered with an error status (in `status`): 4xx fails the operation (it waits in the failed list: retry() or discard() it), 5xx/408/425/429 are retried.',
  'sync/redirected':
    'The server answered with a redirect (its target in `location`): redirects are never followed, the operation fails. Point the URL at the final address.',
  'sync/response-unreadable':
    "A create's successful answer could not be read (cut short, not JSON, too large) so its server id is unknown, or a batch's answer is not 200 { results } for the operations sent: sent again with the same Idempotency-Keys.",
  'sync/network-error':
    'No answer (the network is down, the host does not answer), or a lazy chunk of fluxy/sync could not load (a deploy removed it): retried with backoff and the same Idempotency-Key, never counted as an attempt while the device looks offline or when no request was made. A method that needed the chunk (pending(), discard(), a queue() with a binary body…) rejects with it, its cause the loader error.',
  'sync/timeout': 'No answer within timeoutMs: retried with the same Idempotency-Key.',
  'sync/max-attempts':
    'The operation failed retryably maxAttempts times: it waits in the failed list (retry() or discard()).',
  'sync/record-unreadable':
    'A stored operation could not be decrypted or authenticated (altered, or another secret): it is never sent; discard() it.',
  'sync/dependency-failed':
    'The create that introduced a temporary id this operation uses failed: the operation cannot succeed; retry() the create first, or discard() both.',
  'sync/storage-failed':
    'Storage refused a read or a write in the background: shown in lastError, retried with backoff; cleared once storage answers.',
  'sync/storage-lost':
    'The storage plugin found its database wiped (storage.lost). Between runs: the queue starts empty, shown until the next success. Under the running app: the in-memory queue is dropped, nothing more is sent, queue() fails with storage/lost; reload.',
  'sync/not-queued':
    'defineMutation(): queue() refused the operation (bad input, storage full): the optimistic change was rolled back.',
};

async function sourceFiles(dir) {
  const files = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await sourceFiles(path)));
    else if (entry.name.endsWith('.ts')) files.push(path);
  }
  return files.sort();
}

/**
 * What a substitution of a message stands for, as the reader should see it: `{name}` after the
 * value it holds (`${this.#options.key}` → `{key}`, `${String(limit)}` → `{limit}`), `…` when no
 * name says it.
 */
function placeholderOf(node) {
  if (ts.isIdentifier(node) || ts.isPrivateIdentifier(node)) return `{${node.text.replace(/^#/, '')}}`;
  if (ts.isPropertyAccessExpression(node)) return placeholderOf(node.name);
  if (ts.isCallExpression(node) && node.arguments.length === 1) return placeholderOf(node.arguments[0]);
  if (ts.isParenthesizedExpression(node) || ts.isAsExpression(node) || ts.isNonNullExpression(node))
    return placeholderOf(node.expression);
  if (
    ts.isBinaryExpression(node) &&
    [ts.SyntaxKind.QuestionQuestionToken, ts.SyntaxKind.BarBarToken].includes(node.operatorToken.kind)
  )
    return placeholderOf(node.left);
  return '…';
}

/** Every combination of the parts' alternatives, at most 12. */
function combine(parts) {
  let texts = [''];
  for (const part of parts) texts = texts.flatMap((text) => part.map((alt) => text + alt)).slice(0, 12);
  return texts;
}

/**
 * A message as the reader should see it: its texts (a conditional of two prose branches gives
 * both), substitutions written as placeholders, or the argument given for a parameter of a
 * wrapper (`env`: parameter name → texts). undefined when `node` is not prose.
 */
function proseOf(node, env = new Map()) {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return [node.text];
  if (ts.isParenthesizedExpression(node)) return proseOf(node.expression, env);
  if (ts.isIdentifier(node) && env.has(node.text)) return env.get(node.text);
  if (ts.isConditionalExpression(node)) {
    const yes = proseOf(node.whenTrue, env);
    const no = proseOf(node.whenFalse, env);
    return yes && no ? [...yes, ...no] : undefined;
  }
  if (ts.isTemplateExpression(node)) {
    const parts = [[node.head.text]];
    for (const span of node.templateSpans) {
      const inner = span.expression;
      const alternatives = (ts.isIdentifier(inner) && env.get(inner.text)) ||
        (ts.isConditionalExpression(inner) && proseOf(inner, env)) || [placeholderOf(inner)];
      parts.push(alternatives, [span.literal.text]);
    }
    return combine(parts);
  }
  if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.PlusToken) {
    const left = proseOf(node.left, env);
    const right = proseOf(node.right, env);
    return left === undefined || right === undefined ? undefined : combine([left, right]);
  }
  return undefined;
}

/** The name a function is called by: its declaration's, or that of the variable holding it. */
function nameOfFunction(node) {
  if (ts.isFunctionDeclaration(node)) return node.name?.text;
  if ((ts.isArrowFunction(node) || ts.isFunctionExpression(node)) && ts.isVariableDeclaration(node.parent))
    return ts.isIdentifier(node.parent.name) ? node.parent.name.text : undefined;
  return undefined;
}

/** Does `node` mention one of `names` (an identifier)? */
function mentions(node, names) {
  let found = false;
  const visit = (child) => {
    if (found) return;
    if (ts.isIdentifier(child) && names.has(child.text)) found = true;
    else ts.forEachChild(child, visit);
  };
  visit(node);
  return found;
}

/** Codes (from the unions) and messages (from calls that pass a code, then prose). */
export async function collectErrors() {
  const codes = new Map(); // code → { group, messages: Set }
  const calls = [];
  // Wrappers: functions that build an error of one code from a message made of their parameters
  // (`function invalid(problem) { return new FluxyError(code, `…${problem}.`) }`): their calls are
  // listed with the arguments put in, instead of the wrapper's own message. A file's own ones, and
  // the exported ones (`invalidArgument(message)`) where a file imports them.
  const files = [];
  const exported = new Map(); // name → [wrapper]
  for (const path of await sourceFiles(join(root, 'src'))) {
    const file = ts.createSourceFile(path, await readFile(path, 'utf8'), ts.ScriptTarget.Latest, true);
    const wrappers = new Map(); // name → [{ code, params, message, expanded }]
    const imported = new Set();
    const messages = []; // [code, message node, enclosing function]
    const visit = (node, fn) => {
      if (
        ts.isTypeAliasDeclaration(node) &&
        /ErrorCode$/.test(node.name.text) &&
        ts.isUnionTypeNode(node.type)
      ) {
        for (const member of node.type.types) {
          if (ts.isLiteralTypeNode(member) && ts.isStringLiteral(member.literal)) {
            codes.set(member.literal.text, {
              group: node.name.text,
              messages: new Set(),
              file: relative(root, path),
            });
          }
        }
      }
      if (ts.isImportSpecifier(node) && !node.propertyName) imported.add(node.name.text);
      if ((ts.isCallExpression(node) || ts.isNewExpression(node)) && node.arguments?.length >= 2) {
        const [first, second, third] = node.arguments;
        if (ts.isStringLiteral(first)) messages.push([first.text, second, fn]);
        // A report given its context first (collections' `failPull(host, code, message)`): the
        // code, then the prose, never a wrapper's.
        else if (third && ts.isStringLiteral(second) && /^[a-z]+\/[a-z-]+$/.test(second.text))
          messages.push([second.text, third, undefined]);
      }
      const inner = ts.isFunctionLike(node) && node.parameters?.length ? node : fn;
      ts.forEachChild(node, (child) => visit(child, inner));
    };
    visit(file, undefined);
    for (const [code, message, fn] of messages) {
      const params = new Set(
        (fn?.parameters ?? []).map((param) => ts.isIdentifier(param.name) && param.name.text).filter(Boolean),
      );
      const name = fn && nameOfFunction(fn);
      if (name && mentions(message, params)) {
        const wrapper = { code, params: [...params], message, expanded: false };
        if (!wrappers.has(name)) wrappers.set(name, []);
        wrappers.get(name).push(wrapper);
        if (
          ts.isFunctionDeclaration(fn) &&
          fn.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)
        ) {
          if (!exported.has(name)) exported.set(name, []);
          exported.get(name).push(wrapper);
        }
      } else for (const text of proseOf(message) ?? []) calls.push([code, text]);
    }
    files.push({ file, wrappers, imported });
  }
  for (const { file, wrappers, imported } of files) {
    const wrappersOf = (name) => wrappers.get(name) ?? (imported.has(name) ? exported.get(name) : undefined);
    const visitCalls = (node) => {
      const called = ts.isCallExpression(node) && ts.isIdentifier(node.expression);
      for (const wrapper of (called && wrappersOf(node.expression.text)) || []) {
        // Only a call that gives prose for a parameter says more than the wrapper itself.
        const env = new Map();
        wrapper.params.forEach((param, index) => {
          const prose = node.arguments[index] && proseOf(node.arguments[index]);
          if (prose) env.set(param, prose);
        });
        if (![...env.keys()].some((param) => mentions(wrapper.message, new Set([param])))) continue;
        for (const text of proseOf(wrapper.message, env) ?? []) calls.push([wrapper.code, text]);
        wrapper.expanded = true;
      }
      ts.forEachChild(node, visitCalls);
    };
    visitCalls(file);
  }
  // A wrapper never called with prose (passed as a callback, or given values): its own message,
  // placeholders for its parameters.
  for (const { wrappers } of files)
    for (const wrapper of [...wrappers.values()].flat())
      if (!wrapper.expanded)
        for (const text of proseOf(wrapper.message) ?? []) calls.push([wrapper.code, text]);
  for (const [code, prose] of calls) codes.get(code)?.messages.add(prose.trim());
  return codes;
}

export async function renderErrors() {
  const codes = await collectErrors();
  const lines = [
    '# Error codes',
    '',
    'Every `FluxyError` has a stable `code` — branch on it, never on the message. The production',
    "build (what browsers' production bundles load) carries only the code: `error.message` is the",
    'code itself. The development build (the `development` and `node` export conditions; Vite and',
    'webpack pick it in dev) carries the messages below, which say what happened and what to do.',
    '',
    'In a message, `{name}` stands for a value it names (the key, the URL, the value given) and `…`',
    'for one no name says. Generated from the sources by `node scripts/errors-doc.mjs`; a test keeps',
    'it up to date.',
    '',
  ];
  const groups = new Map();
  for (const [code, info] of codes) {
    if (!groups.has(info.group)) groups.set(info.group, []);
    groups.get(info.group).push([code, info]);
  }
  for (const [group, entries] of groups) {
    lines.push(`## ${group} (\`${entries[0][1].file}\`)`, '');
    for (const [code, info] of entries) {
      // What a code means where no call says it (an operation's lastError), first; then the calls'.
      const messages = [...new Set([DESCRIBED[code], ...info.messages].filter(Boolean))];
      lines.push(`- **\`${code}\`**`);
      for (const message of messages) lines.push(`  - ${message.replaceAll('\n', ' ')}`);
    }
    lines.push('');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = await renderErrors();
  const target = join(root, 'docs/errors.md');
  if (process.argv.includes('--check')) {
    const current = await readFile(target, 'utf8').catch(() => '');
    if (current !== text) {
      console.error('docs/errors.md is out of date: run node scripts/errors-doc.mjs');
      process.exit(1);
    }
  } else {
    await writeFile(target, text);
    console.log(`docs/errors.md: ${(await collectErrors()).size} codes`);
  }
}
