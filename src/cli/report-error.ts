import { ERROR_CODES, EXIT, GridpresenceError } from '../errors.js';

/** Prints an error for a person (message, then what to do) and returns the exit code to use. */
export function reportCliError(program: string, error: unknown): number {
  if (error instanceof GridpresenceError) {
    process.stderr.write(`${program}: ${error.message}\n`);
    if (error.hint) process.stderr.write(`  → ${error.hint}\n`);
    switch (error.code) {
      case ERROR_CODES.CONFIG_INVALID:
      case ERROR_CODES.CONFIG_UNREADABLE:
      case ERROR_CODES.IMPORT_INVALID:
        return EXIT.CONFIG;
      case ERROR_CODES.AUTH_FAILED:
        return EXIT.AUTH;
      case ERROR_CODES.AGENT_NOT_RUNNING:
        return EXIT.UNAVAILABLE;
      default:
        return EXIT.FAILURE;
    }
  }
  process.stderr.write(`${program}: ${(error as Error)?.message ?? String(error)}\n`);
  return EXIT.FAILURE;
}

/** A usage error: names the problem, points at --help, exits 2. */
export function usageError(program: string, message: string): number {
  process.stderr.write(`${program}: ${message}\n  → see '${program} --help'\n`);
  return EXIT.CONFIG;
}

/**
 * Ends the process with `code` once stdout and stderr are flushed. Node writes to pipes
 * asynchronously, and process.exit() drops what is still queued: `meters list --json | jq` got
 * JSON cut off at 64 KiB. Exiting explicitly still matters: a library timer left behind must not
 * keep a finished command alive.
 */
export function exitWhenFlushed(code: number): void {
  let pending = 2;
  const done = () => {
    pending -= 1;
    if (pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}
