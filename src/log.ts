import { type Logger, type LoggerOptions, pino } from 'pino';
import { prettyStream } from './log-pretty.js';

export type { Logger } from 'pino';

// STYLE §10: one pino root per process, a child per module, secrets redacted.
const REDACT = [
  'password',
  '*.password',
  'secret',
  '*.secret',
  'componentSecret',
  '*.componentSecret',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
];

/** `json` for journald and programs (the default); `pretty` for a person at a terminal. */
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LogOptions {
  name: string;
  level?: string;
  /** Defaults to LOG_FORMAT, then `json`. */
  format?: LogFormat;
  /** Where to write; defaults to stdout (journald in the field). */
  destination?: NodeJS.WritableStream;
}

export function createRootLogger(options: LogOptions): Logger {
  const config: LoggerOptions = {
    name: options.name,
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: REDACT, censor: '[redacted]' },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  const format = options.format ?? (process.env.LOG_FORMAT === 'pretty' ? 'pretty' : 'json');
  if (format === 'pretty') {
    // Synchronous, in this thread (src/log-pretty.ts); colours only for a terminal.
    const target = options.destination ?? process.stdout;
    const isTty = (target as { isTTY?: boolean }).isTTY === true;
    const colour = isTty && process.env.NO_COLOR === undefined;
    return pino(config, prettyStream(target, { colour }) as pino.DestinationStream);
  }
  return options.destination
    ? pino(config, options.destination as pino.DestinationStream)
    : pino(config);
}

/** A logger that discards everything, for unit tests and library defaults. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
