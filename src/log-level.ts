import type { Logger } from './log.js';

// Changing a running program's log level (the agent's `log-level` command and control socket
// op, docs/protocol.md), optionally for a while only, so that a technician's `debug` does not
// fill the disk when forgotten.
//
// pino: a child made with `logger.child(bindings)` and no `level` option has no level of its
// own; it inherits its parent's level methods through its prototype, so setting the level on the
// logger given here reaches every such descendant, also those made before
// (test/unit/log-level.test.ts checks this). A child made with its own `level` keeps it.

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

export interface LogLevelState {
  level: LogLevel;
  /** The level from the config, to which a temporary change reverts. */
  configured: LogLevel;
  /** When a temporary level reverts (ISO 8601 UTC), or null when it stays. */
  revertsAt: string | null;
}

export interface LogLevelControl {
  /**
   * Sets the level; with `minutes` > 0 it reverts to the configured level after that long.
   * `by` (a JID, `control socket`) goes into the log line that records the change.
   */
  set(level: LogLevel, minutes?: number, by?: string): LogLevelState;
  state(): LogLevelState;
  /** Clears a pending revert (the program is stopping). */
  stop(): void;
}

export function createLogLevelControl(deps: {
  logger: Logger;
  configured: LogLevel;
  now?: () => Date;
}): LogLevelControl {
  const { logger, configured } = deps;
  const now = deps.now ?? (() => new Date());
  // Follows the level it reports (no level of its own, see above).
  const log = logger.child({ module: 'log-level' });
  let timer: NodeJS.Timeout | undefined;
  let revertsAt: Date | null = null;

  const current = (): LogLevel => {
    const level = logger.level;
    return isLogLevel(level) ? level : configured;
  };
  const state = (): LogLevelState => ({
    level: current(),
    configured,
    revertsAt: revertsAt ? revertsAt.toISOString() : null,
  });
  const clear = () => {
    clearTimeout(timer);
    timer = undefined;
    revertsAt = null;
  };

  return {
    set(level, minutes = 0, by) {
      clear();
      const before = current();
      logger.level = level;
      if (minutes > 0 && level !== configured) {
        revertsAt = new Date(now().getTime() + minutes * 60_000);
        timer = setTimeout(() => {
          clear();
          logger.level = configured;
          // Not `level`: that key is pino's own (the entry's level number).
          log.info({ logLevel: configured }, 'log level reverted to the configured one');
        }, minutes * 60_000);
        // A pending revert must not keep a stopping program alive.
        timer.unref();
      }
      // At warn: the change itself must reach the log whatever the new level is (short of
      // error/fatal, where the operator asked for silence).
      log.warn({ logLevel: level, before, revertsAt: state().revertsAt, by }, 'log level changed');
      return state();
    },
    state,
    stop: clear,
  };
}
