// The production build's one difference from the development build: the prose of errors and
// warnings is left out (DESIGN "Package": production builds carry error codes; what to do is in
// the development build and in docs/errors.md, keyed by code). An esbuild plugin for TypeScript
// sources, used by tsup (dist/, the default export condition) and by scripts/size.mjs.
//
// What is removed: a string or template literal of at least 24 characters with a space in it
// (or either branch of a `… ? … : …` that is one), when it is an argument of `new …Error(…)`, of a
// function whose name ends in `Error` or starts with `invalid`/`fail`/`refuse` (or a private
// method so named), of `logger.warn/error/info/debug(…)` or `console.warn/error/info/debug(…)`, or
// the value of a `message:` or `example:` property (`example` is the sample value of
// core/input-checks' `checkOptions` messages). It becomes '' (FluxyError then uses its code as
// its message) — or, as the last argument of a call that is not a log call, it goes with its
// comma: `refuse(path)` for `refuse(path, '…')`, 90 times on the critical path (≈ 50 B gzipped).
// Every such function takes its message only to put it in prose (or in FluxyError, which reads a
// missing message as '': `message || code`), so undefined and '' are the same to it; fluxy/testing
// is left as it was (its FaultServer puts a `message` in the JSON it answers).
// Everything else — codes, header names, URLs, regular expressions — is untouched.
import { readFile } from 'node:fs/promises';
import ts from 'typescript';

const CALLEE = /(Error|^#?invalid[A-Za-z]*|^#?fail[A-Za-z]*|^#?refuse[A-Za-z]*)$/;
const PROSE_PROPERTY = /^(message|example)$/;
const LOG = /^(warn|error|info|debug)$/;

/** True for the literals that are prose. */
function isProse(node) {
  if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.PlusToken) {
    return isProse(node.left) || isProse(node.right);
  }
  if (ts.isParenthesizedExpression(node)) return isProse(node.expression);
  if (
    !ts.isStringLiteral(node) &&
    !ts.isNoSubstitutionTemplateLiteral(node) &&
    !ts.isTemplateExpression(node)
  )
    return false;
  const text = node.getText();
  return text.length >= 24 && text.includes(' ');
}

/** True when evaluating `node` can have no effect (reading a getter or a Proxy aside). */
function isPure(node) {
  if (
    ts.isCallExpression(node) ||
    ts.isNewExpression(node) ||
    ts.isTaggedTemplateExpression(node) ||
    ts.isAwaitExpression(node) ||
    ts.isYieldExpression(node) ||
    ts.isDeleteExpression(node) ||
    (ts.isPrefixUnaryExpression(node) &&
      [ts.SyntaxKind.PlusPlusToken, ts.SyntaxKind.MinusMinusToken].includes(node.operator)) ||
    ts.isPostfixUnaryExpression(node) ||
    (ts.isBinaryExpression(node) &&
      node.operatorToken.kind >= ts.SyntaxKind.FirstAssignment &&
      node.operatorToken.kind <= ts.SyntaxKind.LastAssignment)
  ) {
    return false;
  }
  let pure = true;
  ts.forEachChild(node, (child) => {
    if (pure && !isPure(child)) pure = false;
  });
  return pure;
}

function calleeName(expression) {
  if (ts.isIdentifier(expression)) return { name: expression.text, log: false };
  if (ts.isPropertyAccessExpression(expression)) {
    const name = expression.name.text;
    return { name, log: LOG.test(name) && /logger|^console$/i.test(expression.expression.getText()) };
  }
  return undefined;
}

/** The source with its prose removed. */
export function stripProse(source, fileName = 'file.ts') {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const cuts = new Set();
  // Cut nodes that go with the comma before them, to where that comma starts (see the top).
  const drops = new Map();
  const dropsLast = !/[\\/]src[\\/]testing[\\/]/.test(fileName);
  // A conditional's branches are cut one by one: a branch that is not prose stays. When both go
  // and its condition cannot have an effect (no call, assignment, update, await, yield or
  // delete in it), the conditional goes as a whole (as a last argument, with its comma).
  const cut = (node) => {
    if (ts.isConditionalExpression(node)) {
      cut(node.whenTrue);
      cut(node.whenFalse);
      if (cuts.has(node.whenTrue) && cuts.has(node.whenFalse) && isPure(node.condition)) {
        cuts.delete(node.whenTrue);
        cuts.delete(node.whenFalse);
        cuts.add(node);
      }
    } else if (isProse(node)) cuts.add(node);
  };
  const visit = (node) => {
    if (cuts.has(node)) return; // its inside goes with it
    if ((ts.isCallExpression(node) || ts.isNewExpression(node)) && node.arguments) {
      const callee = calleeName(node.expression);
      if (callee && (callee.log || CALLEE.test(callee.name))) {
        for (const argument of node.arguments) cut(argument);
        const [last, before] = [...node.arguments].reverse();
        if (dropsLast && !callee.log && cuts.has(last))
          drops.set(last, before ? before.getEnd() : node.arguments.pos);
      }
    }
    if (ts.isPropertyAssignment(node) && PROSE_PROPERTY.test(node.name.getText())) cut(node.initializer);
    ts.forEachChild(node, visit);
  };
  visit(file);
  let result = source;
  for (const node of [...cuts].sort((a, b) => b.getStart() - a.getStart())) {
    result = drops.has(node)
      ? `${result.slice(0, drops.get(node))}${result.slice(node.getEnd()).replace(/^\s*,/, '')}`
      : `${result.slice(0, node.getStart())}''${result.slice(node.getEnd())}`;
  }
  return result;
}

/** An esbuild plugin applying {@link stripProse} to the project's TypeScript sources. */
export function stripProsePlugin() {
  return {
    name: 'fluxy-strip-prose',
    setup(build) {
      build.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, async (args) => ({
        contents: stripProse(await readFile(args.path, 'utf8'), args.path),
        loader: 'ts',
      }));
    },
  };
}
