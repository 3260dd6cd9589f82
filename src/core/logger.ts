import { invalidArgument } from './errors.js';

/** Severity of a log line, from the most to the least verbose. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** Where Fluxy writes what it notices. Pass your own to `createApp({ logger })`. */
export interface Logger {
  debug(message: string, ...details: unknown[]): void;
  info(message: string, ...details: unknown[]): void;
  warn(message: string, ...details: unknown[]): void;
  error(message: string, ...details: unknown[]): void;
}

const ranks: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };

/** The methods of a {@link Logger}. @internal */
export const logMethods = ['debug', 'info', 'warn', 'error'] as const;

/** A logger whose every method calls `write` with its level. */
function loggerOf(
  write: (level: (typeof logMethods)[number], message: string, details: unknown[]) => void,
): Logger {
  return Object.fromEntries(
    logMethods.map((level) => [
      level,
      (message: string, ...details: unknown[]) => write(level, message, details),
    ]),
  ) as unknown as Logger;
}

/**
 * A logger writing to `console` at and above `level`.
 *
 * @param level - the least severe level written. @default 'warn'
 * @param prefix - put before every line; a string (`invalid-argument` otherwise). @default '[fluxy]'
 * @example createApp({ logger: consoleLogger('debug') })
 */
export function consoleLogger(level: LogLevel = 'warn', prefix = '[fluxy]'): Logger {
  const at = ranks[level];
  // A typo ('warning') would silence every line.
  if (typeof at !== 'number') {
    throw invalidArgument(
      `consoleLogger(level): level must be one of ${Object.keys(ranks).join(', ')} (got ${String(level)}).`,
    );
  }
  // Another type would print as "[object Object]" or "undefined" before every line.
  if (typeof prefix !== 'string') {
    throw invalidArgument(`consoleLogger(level, prefix): prefix must be a string (got ${typeof prefix}).`);
  }
  return loggerOf((lineLevel, message, details) => {
    if (ranks[lineLevel] >= at) console[lineLevel](`${prefix} ${message}`, ...details);
  });
}

/** A logger that prefixes every line with a scope, e.g. a plugin's name. @internal */
export function scopedLogger(parent: Logger, scope: string): Logger {
  return loggerOf((level, message, details) => parent[level](`${scope}: ${message}`, ...details));
}
