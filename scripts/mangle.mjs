// Internal property names that the builds shorten (esbuild `mangleProps`), as
// @preact/signals-core does with its mangle.json: a minifier renames local variables and private
// `#fields`, never `object.method` — these are methods and function-valued fields of Fluxy's
// internal objects, written in full in the source and one or two letters in dist/. Used by
// tsup.config.ts (both builds) and scripts/size.mjs.
//
// A name may be listed only if renaming it everywhere in one build cannot change behaviour:
// - it is not part of the public API (no dist/*.d.ts mentions it: `npm run check:package`),
//   nor a name of the platform or of a dependency (TypeScript's lib, @types/node, signals, mitt,
//   localforage, crypto-js), which code outside the build calls or provides;
// - it is never written as a string ('name' in x, x['name']: esbuild leaves those alone), nor
//   exported by a module (a lazy chunk's `(await import(…)).name` is a property access, renamed,
//   while the export keeps its name);
// - its values are functions or in-memory objects, never data that is stored, posted to other
//   tabs or sent (JSON would carry the short name, which differs from build to build).
// - it is not a name the file driver defines or uses: the development build loads the
//   production build's file driver (`#file-driver`), so both sides must spell it alike.
// tests/package/mangle.test.ts checks the first three rules against the sources, and
// `npm run test:dist` runs tests through the built package; review the third rule by hand.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const MANGLED = [
  // sync
  'commitSent',
  'chunkFailed',
  'handleUnanswered',
  'heardBack',
  'retryLater',
  'sendRequest',
  'settleAnswer',
  'trackStep',
  'deliver',
  'deliverStored',
  'deliverAll',
  'settleRefusal',
  'settling',
  'isAllowedOrigin',
  'isKnown',
  'isLeader',
  'leader',
  'loadOutcomes',
  'loadTempIds',
  'moveUnreadable',
  'postState',
  'readAhead',
  'referencesIn',
  'resolveUrl',
  'settleCreate',
  'refsFor',
  'setTimer',
  'clearTimer',
  'stage',
  'stageIntroduce',
  'stageMove',
  'stageRecord',
  'stageRemoval',
  'stageSettle',
  'tempIdRetentionMs',
  'tempIds',
  'bodyProblem',
  'bodyText',
  'changedAt',
  'collectWhile',
  'woke',
  'inFlight',
  'unsettled',
  'flushRun',
  'forgetErrorsOf',
  'headRemoved',
  'rescanOutbox',
  'retryOps',
  'discardOp',
  'clearAll',
  'publishStatus',
  'requestFlush',
  'collectTempIds',
  'opWrites',
  'networkFailures',
  'clearing',
  'answerTab',
  'clearErrors',
  'headFailed',
  'removalRun',
  'awaitRemoval',
  'headWaits',
  'failOp',
  'backoffFor',
  'wakeIn',
  'completeOne',
  'decideAnswer',
  'noRequest',
  'noAnswer',
  'unanswered',
  'waitUnanswered',
  // storage
  'acceptUnbound',
  'checkFields',
  'checkListing',
  'decryptAesCbc',
  'encryptAesCbc',
  'forEachSized',
  'hasIndexedDB',
  'hmacSha256',
  'isNode',
  'pbkdf2Sha256',
  'writeGroup',
  'openParts',
  'macFor',
  // core
  'assertEventName',
  'undos',
  'markInitialized',
  // collections
  'addAlias',
  'addChange',
  'changeCount',
  'confirmRows',
  'currentId',
  'dropChanges',
  'forgetAliases',
  'loadAll',
  'opId',
  'publishRows',
  'readMeta',
  'saveClock',
  'setChanges',
  'shownRow',
  'writePages',
  'bindTo',
  'kv',
  'settleBy',
  'commitEpoch',
  'shownAs',
  'changeList',
  'callOrder',
  'nextStamp',
  'receiveStamp',
  'restoreStamp',
  'lastStamp',
  'aliasMap',
  'watchRow',
  'confirmedRow',
  'readRows',
];

/** The esbuild `mangleProps` option: exactly the names above. */
export const mangleProps = new RegExp(`^(${MANGLED.join('|')})$`);

/**
 * Problems with the list, checked against the sources under `root`: a name written as a string
 * or exported in src/, or one that TypeScript's lib, @types/node or a dependency's types know.
 */
export function mangleProblems(root) {
  const files = (dir) =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? files(path) : [path];
    });
  const source = files(join(root, 'src'))
    .filter((path) => path.endsWith('.ts'))
    .map((path) => readFileSync(path, 'utf8'))
    .join('\n');
  const quoted = new Set([...source.matchAll(/['"`]([A-Za-z_$][\w$]*)['"`]/g)].map((match) => match[1]));
  const typings = [
    ...files(join(root, 'node_modules/typescript/lib')).filter((path) => /lib\..*\.d\.ts$/.test(path)),
    ...files(join(root, 'node_modules/@types/node')).filter((path) => path.endsWith('.d.ts')),
    ...files(join(root, 'node_modules/@types/crypto-js')).filter((path) => path.endsWith('.d.ts')),
    join(root, 'node_modules/@preact/signals-core/dist/signals-core.d.ts'),
    join(root, 'node_modules/mitt/index.d.ts'),
    join(root, 'node_modules/localforage/typings/localforage.d.ts'),
  ];
  // The development build (dist/dev) loads the production build's file driver through the
  // `#file-driver` package import: a name shortened in one build and not in the other breaks
  // there. Every name the driver's modules define or use is off limits.
  const fileDriverNames = new Set(
    ['file-driver.ts', 'file-driver-unavailable.ts', 'storage-backend.ts']
      .flatMap((name) => [
        ...readFileSync(join(root, 'src/plugins/storage/drivers', name), 'utf8').matchAll(
          /[A-Za-z_$][\w$]*/g,
        ),
      ])
      .map((match) => match[0]),
  );
  const known = new Set();
  for (const path of typings)
    for (const match of readFileSync(path, 'utf8').matchAll(/[A-Za-z_$][\w$]*/g)) known.add(match[0]);
  const problems = [];
  for (const name of MANGLED) {
    if (quoted.has(name)) problems.push(`${name} is written as a string in src/`);
    if (
      new RegExp(`export (async )?(function|const|let|class) ${name}\\b|export \\{[^}]*\\b${name}\\b`).test(
        source,
      )
    )
      problems.push(`${name} is exported by a module of src/`);
    if (known.has(name)) problems.push(`${name} is a name of the platform or of a dependency`);
    if (!new RegExp(`\\b${name}\\b`).test(source)) problems.push(`${name} is not used in src/`);
    if (fileDriverNames.has(name))
      problems.push(`${name} crosses the #file-driver boundary (dist/dev loads the production file driver)`);
  }
  return problems;
}

/** Problems with the list against the built declarations: a listed name in the public API. */
export function publicApiProblems(distDir) {
  const declarations = readdirSync(distDir)
    .filter((name) => /\.d\.c?ts$/.test(name))
    .map((name) => readFileSync(join(distDir, name), 'utf8'))
    .join('\n');
  return MANGLED.filter((name) => new RegExp(`\\b${name}\\b`).test(declarations)).map(
    (name) => `${name} is in the public API (dist/*.d.ts)`,
  );
}
