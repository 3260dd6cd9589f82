import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, expect, vi } from 'vitest';
import { type App, createApp } from '../../src/core/app.js';
import { FluxyError } from '../../src/core/errors.js';
import type { Logger } from '../../src/core/logger.js';
import { minIterations, type StorageOptions, StoragePlugin } from '../../src/plugins/storage/index.js';

/** The lowest accepted iteration count: fast enough for many tests. */
export const fastIterations = minIterations;

/** A logger that records warnings and prints nothing. */
export function quietLogger() {
  return { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() } satisfies Logger;
}

/** Fresh temp folders, deleted after each test. */
export function tempDirsPerTest(): () => Promise<string> {
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });
  return async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fluxy-storage-'));
    dirs.push(dir);
    return dir;
  };
}

/** A registered, initialised StoragePlugin on a fresh app; the app is disposed after the test. */
export function storagePerTest() {
  const apps: App[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.dispose()));
  });
  return async (options: StorageOptions) => {
    const logger = quietLogger();
    const app = createApp({ logger });
    apps.push(app);
    const storage = app.register(new StoragePlugin(options));
    await app.ready();
    return { app, storage, logger };
  };
}

/** The drivers every operation is tested on; `setup` returns the options of a fresh database. */
export function driverCases(tempDir: () => Promise<string>) {
  return [
    {
      driver: 'memory',
      persistent: false,
      setup: async (): Promise<StorageOptions> => ({ driver: 'memory' }),
    },
    {
      driver: 'file',
      persistent: true,
      setup: async (): Promise<StorageOptions> => ({ driver: 'file', dir: await tempDir() }),
    },
    {
      driver: 'indexeddb',
      persistent: true,
      setup: async (): Promise<StorageOptions> => ({ driver: 'indexeddb', indexedDB: new IDBFactory() }),
    },
  ] as const;
}

/** Asserts that `promise` rejects with a FluxyError of `code`, and returns the error. */
export async function expectCode(
  promise: Promise<unknown> | (() => unknown),
  code: string,
): Promise<FluxyError> {
  let error: unknown;
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (caught) {
    error = caught;
  }
  expect(error, `expected a FluxyError with code ${code}`).toBeInstanceOf(FluxyError);
  expect((error as FluxyError).code).toBe(code);
  return error as FluxyError;
}

/** Every key and value of a store, to prove an operation changed nothing. */
export async function snapshot(store: {
  keys(): Promise<string[]>;
  get(key: string): Promise<unknown>;
}): Promise<Record<string, unknown>> {
  const entries: Record<string, unknown> = {};
  for (const key of await store.keys()) entries[key] = await store.get(key);
  return entries;
}

/** `promise`, or a rejection naming `label` if it has not settled within `ms`. */
export function withTimeout<T>(promise: Promise<T>, label: string, ms = 2_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${label}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
