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

/**
 * A logger writing to `console` at and above `level`.
 *
 * @param level - the least severe level written. @default 'warn'
 * @example createApp({ logger: consoleLogger('debug') })
 */
export function consoleLogger(level: LogLevel = 'warn', prefix = '[fluxy]'): Logger {
  const at = ranks[level];
  const write =
    (lineLevel: Exclude<LogLevel, 'silent'>) =>
    (message: string, ...details: unknown[]): void => {
      if (ranks[lineLevel] >= at) console[lineLevel](`${prefix} ${message}`, ...details);
    };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/** A logger that prefixes every line with a scope, e.g. a plugin's name. @internal */
export function scopedLogger(parent: Logger, scope: string): Logger {
  return {
    debug: (message, ...details) => parent.debug(`${scope}: ${message}`, ...details),
    info: (message, ...details) => parent.info(`${scope}: ${message}`, ...details),
    warn: (message, ...details) => parent.warn(`${scope}: ${message}`, ...details),
    error: (message, ...details) => parent.error(`${scope}: ${message}`, ...details),
  };
}
