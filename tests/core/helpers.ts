import type { Logger } from '../../src/core/logger.js';
import type { Plugin, PluginContext } from '../../src/core/plugin.js';

/** A promise with its resolve/reject exposed, to sequence async steps without sleeping. */
export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  details: unknown[];
}

/** A logger that records every line instead of printing it. */
export function recordingLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at =
    (level: LogLine['level']) =>
    (message: string, ...details: unknown[]): void => {
      lines.push({ level, message, details });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/**
 * A plain-object plugin that appends `init:<name>` / `dispose:<name>` to `log`, and hands its
 * context to `onInit` (which may be async).
 */
export function tracedPlugin(
  name: string,
  log: string[],
  options: { dependencies?: string[]; onInit?: (ctx: PluginContext) => void | Promise<void> } = {},
): Plugin {
  return {
    name,
    ...(options.dependencies ? { dependencies: options.dependencies } : {}),
    async init(ctx) {
      log.push(`init:${name}`);
      await options.onInit?.(ctx);
    },
    dispose() {
      log.push(`dispose:${name}`);
    },
  };
}

/** Resolve with the rejection of `promise` (fails the test if it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject, but it resolved');
}

/** Return what `fn` throws (fails the test if it does not throw). */
export function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected the function to throw, but it returned');
}
