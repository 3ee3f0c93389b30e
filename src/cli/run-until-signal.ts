import type { GridpresenceError } from '../errors.js';
import type { Logger } from '../log.js';
import { reportCliError } from './report-error.js';

/** A started program: what the CLIs need to run it until a signal or its own end. */
export interface RunningProgram {
  stop(): Promise<void>;
  readonly exited: Promise<number>;
  readonly failure?: GridpresenceError | undefined;
}

/**
 * Stops the program cleanly on SIGINT/SIGTERM and resolves with its exit code. A fatal error's
 * log line is for journald; a person at a terminal gets it in plain words on stderr too.
 */
export async function runUntilSignal(
  program: string,
  logger: Logger,
  running: RunningProgram,
): Promise<number> {
  const onSignal = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    void running.stop();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const code = await running.exited;
  if (running.failure) reportCliError(program, running.failure);
  return code;
}
