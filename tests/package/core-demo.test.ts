import { execFile } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

it('`npm run demo:core` (examples/core-demo.mjs) runs the core end to end and exits by itself', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['examples/core-demo.mjs'], {
    cwd: root,
    timeout: 15_000,
  });
  const order = [
    'effect: Inbox has 0 notes',
    'store: opening the in-memory store',
    'notes: ready, using the store',
    'event notes:added n1 "buy milk"',
    'effect: Done has 2 notes',
    'plugin/duplicate:',
    'notes: dispose()',
    'store: cleared on dispose',
    'store: dispose()',
    'disposed: true',
  ].map((line) => stdout.indexOf(line));
  expect(order.every((index) => index >= 0)).toBe(true);
  expect(order).toStrictEqual([...order].sort((a, b) => a - b));
  expect(stdout).not.toContain('"quiet note"');
}, 20_000);
