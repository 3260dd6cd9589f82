// The plugin entries augment the core's `FluxyPlugins` and `FluxyErrorCodes` interfaces with
// `declare module '../../core/plugin.js'` (and `'../../core/errors.js'`), which is right inside src/ but points nowhere from
// dist/. For package users the module that holds `FluxyPlugins` is 'fluxy', so rewrite it.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const dist = new URL('../dist/', import.meta.url).pathname;
let rewritten = 0;
for (const name of await readdir(dist)) {
  if (!/\.d\.c?ts$/.test(name)) continue;
  const file = join(dist, name);
  const text = await readFile(file, 'utf8');
  const fixed = text
    .replaceAll("declare module '../../core/plugin.js'", "declare module 'fluxy'")
    .replaceAll("declare module '../../core/errors.js'", "declare module 'fluxy'");
  if (fixed !== text) {
    await writeFile(file, fixed);
    rewritten++;
  }
}
if (rewritten === 0) {
  console.error('fix-declarations: no plugin augmentation found in dist/ — did the build change?');
  process.exit(1);
}
console.log(`fix-declarations: ${rewritten} declaration files now augment 'fluxy'`);
