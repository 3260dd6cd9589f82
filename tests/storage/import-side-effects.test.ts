import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

const source = join(import.meta.dirname, '../../src/plugins/storage');

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) =>
      entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : Promise.resolve([join(dir, entry.name)]),
    ),
  );
  return nested.flat().filter((file) => file.endsWith('.ts'));
}

afterEach(() => {
  vi.resetModules();
});

describe('importing fluxy/storage', () => {
  it('touches no browser global and opens nothing', async () => {
    const touched: string[] = [];
    const names = ['window', 'document', 'navigator', 'indexedDB', 'localStorage', 'self'] as const;
    const saved = names.map((name) => [name, Object.getOwnPropertyDescriptor(globalThis, name)] as const);
    for (const name of names) {
      Object.defineProperty(globalThis, name, {
        configurable: true,
        get() {
          touched.push(name);
          return undefined;
        },
      });
    }
    try {
      vi.resetModules();
      const entry = await import('../../src/plugins/storage/index.js');
      new entry.StoragePlugin({ secret: 'constructing is pure too', iterations: entry.minIterations });
    } finally {
      for (const [name, descriptor] of saved) {
        if (descriptor) Object.defineProperty(globalThis, name, descriptor);
        else delete (globalThis as Record<string, unknown>)[name];
      }
    }
    expect(touched).toStrictEqual([]);
  });

  it('has no static import of node: modules, localforage or crypto-js (they load on demand)', async () => {
    const offenders: string[] = [];
    for (const file of await sourceFiles(source)) {
      const text = await readFile(file, 'utf8');
      for (const match of text.matchAll(/^import\s+(?!type\b)[^;]*?from\s+'([^']+)'/gms)) {
        const specifier = match[1] ?? '';
        if (/^(node:|localforage$|crypto-js)/.test(specifier)) offenders.push(`${file}: ${specifier}`);
      }
    }
    expect(offenders).toStrictEqual([]);
  });

  it('exports exactly the documented names', async () => {
    const entry = await import('../../src/plugins/storage/index.js');
    expect(Object.keys(entry).sort()).toStrictEqual(['StoragePlugin', 'defaultIterations', 'minIterations']);
  });
});
