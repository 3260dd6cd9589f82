import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { expect, it } from 'vitest';

// The library runs in browsers and workers too: Node-only globals in src/ throw there (a stray
// `process.env` check once broke every queue() in the browser). Node modules may only be
// reached through dynamic `import('node:…')` in the file driver, which itself is reached only
// through the `#file-driver` package import (package.json "imports": `node` → the driver,
// `default` → a stub), so browser bundlers never see a `node:` specifier.
const root = resolve(import.meta.dirname, '../../src');
function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

it('src/ uses no Node-only globals and no static node: imports', () => {
  const problems: string[] = [];
  // fluxy/testing is a Node-only entry (its fault server is a real HTTP server), like a
  // test runner; every other entry runs in browsers.
  for (const file of files(root).filter((path) => !relative(root, path).startsWith('testing'))) {
    const code = readFileSync(file, 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/\/\/.*$/gm, '');
    const name = relative(root, file);
    if (/\bprocess\s*\./.test(code)) problems.push(`${name}: process.*`);
    if (/\b(Buffer|__dirname|__filename)\b/.test(code)) problems.push(`${name}: Buffer/__dirname`);
    if (/\brequire\s*\(/.test(code)) problems.push(`${name}: require()`);
    if (/^\s*import[^;]*from\s*['"]node:/m.test(code)) problems.push(`${name}: static node: import`);
    if (/import\(\s*['"]node:/.test(code) && !name.endsWith('file-driver.ts'))
      problems.push(`${name}: import('node:…') outside the file driver`);
    if (
      /^\s*import\s+(?!type\b)[^;]*from\s*['"][^'"]*\/file-driver\.js['"]|import\(\s*['"][^'"]*\/file-driver\.js/m.test(
        code,
      )
    )
      problems.push(`${name}: reaches the file driver without #file-driver`);
  }
  expect(problems).toStrictEqual([]);
});
