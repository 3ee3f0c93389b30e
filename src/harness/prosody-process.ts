import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { ERROR_CODES, GridpresenceError } from '../errors.js';
import type { Logger } from '../log.js';
import { waitForPorts } from './ports.js';
import { asProsodyUser } from './prosody-user.js';

// Starts one Prosody in the foreground as our child and stops exactly that child: other
// Prosody processes on the machine (the system one, other tests' harnesses) are never touched.

const STOP_GRACE_MS = 5_000;

export interface LaunchOptions {
  configFile: string;
  /** Prosody's stdout and stderr are appended here. */
  consoleLogFile: string;
  /** Prosody's own log (the `log` option), quoted in start failures. */
  logFile: string;
  /** Ready once all of these accept TCP connections on 127.0.0.1. */
  readyPorts: readonly number[];
  startTimeoutMs: number;
  logger: Logger;
}

export interface ProsodyChild {
  pid: number;
  /** Resolves with the exit code (or signal) when the process has exited. */
  exited: Promise<number | NodeJS.Signals | null>;
  /** SIGTERM, then SIGKILL after 5 s; resolves once the process is gone. Idempotent. */
  stop(): Promise<void>;
}

export async function launchProsody(options: LaunchOptions): Promise<ProsodyChild> {
  // -F: foreground, so the pid we hold is Prosody's and our stop() reaches it.
  const [file, args] = asProsodyUser('prosody', ['-F', '--config', options.configFile]);
  const consoleFd = openSync(options.consoleLogFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(file, args, { stdio: ['ignore', consoleFd, consoleFd] });
  } finally {
    closeSync(consoleFd); // the child holds its own copy
  }

  // If this Node process ends without calling stop() (a crashed test run), take Prosody along
  // rather than leaving an orphan holding the ports.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  let exitInfo: string | undefined;
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = signal ? `killed by ${signal}` : `exit code ${code}`;
      process.removeListener('exit', killOnExit);
      resolve(signal ?? code);
    });
    child.once('error', (error) => {
      exitInfo = `could not start: ${error.message}`;
      process.removeListener('exit', killOnExit);
      resolve(null);
    });
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= stopChild(child, exited, exitInfo !== undefined);
    return stopping;
  };

  try {
    await waitForPorts(options.readyPorts, {
      deadlineMs: options.startTimeoutMs,
      abortReason: () => exitInfo && `prosody exited early (${exitInfo})`,
    });
  } catch (error) {
    await stop();
    const reason = error instanceof Error ? error.message : String(error);
    throw new GridpresenceError(
      ERROR_CODES.PROSODY_START_FAILED,
      `prosody did not start: ${reason}\n${await logTails(options)}`,
      { cause: error, hint: `see ${options.logFile} and ${options.consoleLogFile}` },
    );
  }

  const pid = child.pid;
  if (pid === undefined) throw new Error('prosody child has no pid'); // unreachable once ready
  options.logger.info({ pid, configFile: options.configFile }, 'prosody started');
  return { pid, exited, stop };
}

async function stopChild(
  child: ChildProcess,
  exited: Promise<unknown>,
  alreadyExited: boolean,
): Promise<void> {
  if (alreadyExited || child.exitCode !== null || child.signalCode !== null) {
    await exited;
    return;
  }
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const escalate = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      // Prosody has been seen to hang in shutdown (as root); our child only, never by name.
      child.kill('SIGKILL');
      resolve();
    }, STOP_GRACE_MS);
  });
  await Promise.race([exited, escalate]);
  clearTimeout(timer);
  await exited;
}

async function logTails(options: LaunchOptions): Promise<string> {
  const parts: string[] = [];
  for (const file of [options.logFile, options.consoleLogFile]) {
    const text = await readFile(file, 'utf8').catch(() => '');
    const tail = text.trimEnd().split('\n').slice(-20).join('\n');
    if (tail) parts.push(`--- tail of ${file} ---\n${tail}`);
  }
  return parts.join('\n') || '(prosody wrote no log)';
}
