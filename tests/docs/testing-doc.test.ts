import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';

const read = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

it.each(['tests/docs/notes-offline.test.ts', 'tests/docs/notes-collection.test.ts'])(
  'docs/testing.md shows %s as it is (that file runs in npm test)',
  (file) => {
    const blocks = [...read('docs/testing.md').matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]);
    expect(blocks).toContain(read(file));
  },
);
