import { existsSync } from 'node:fs';
import { buildNotes } from '../../examples/notes/build.mjs';
import { chromiumPath } from './harness.js';

/** Build the notes app once for every e2e test file. */
export default async function setup(): Promise<void> {
  if (!existsSync(chromiumPath)) {
    throw new Error(
      `Chromium not found at ${chromiumPath}: install it (apt-get install chromium) or set CHROMIUM_PATH.`,
    );
  }
  await buildNotes();
}
