import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';

const read = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

it('docs/testing.md shows tests/docs/notes-offline.test.ts as it is (that file runs in npm test)', () => {
  const blocks = [...read('docs/testing.md').matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]);
  expect(blocks).toContain(read('tests/docs/notes-offline.test.ts'));
});
