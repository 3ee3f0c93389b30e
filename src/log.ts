import { type Logger, type LoggerOptions, pino } from 'pino';

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

export interface LogOptions {
  name: string;
  level?: string;
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
  return options.destination
    ? pino(config, options.destination as pino.DestinationStream)
    : pino(config);
}

/** A logger that discards everything, for unit tests and library defaults. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
