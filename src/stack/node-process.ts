import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

// One of our programs (agent, service) run as a child process, with its output in a log file.
// Used by `npm start`, the end-to-end tests and the benchmarks, which need real processes they
// can stop, SIGKILL, SIGSTOP and restart.

export interface NodeProcess {
  readonly pid: number;
  readonly logFile: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or the signal name) when the process has ended. */
  readonly exited: Promise<number | string>;
  /** Sends a signal (default SIGTERM) and waits for the exit; SIGKILL after `graceMs`. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | string>;
  signal(signal: NodeJS.Signals): void;
  readonly running: boolean;
}

// Children still running when the launcher exits (a crash, process.exit) are killed with it.
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export function startNodeProcess(options: {
  script: string;
  args: string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  nodeArgs?: string[];
}): NodeProcess {
  mkdirSync(dirname(options.logFile), { recursive: true });
  const log = createWriteStream(options.logFile, { flags: 'a' });
  const child = spawn(
    process.execPath,
    [...(options.nodeArgs ?? []), options.script, ...options.args],
    {
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: Ctrl-C reaches only the launcher, which then stops the programs
      // in order (agents first, so their goodbyes still reach the server), not all at once.
      detached: true,
    },
  );
  live.add(child);
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  let running = true;
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false;
      live.delete(child);
      // Let the pipes drain into the log before closing it.
      setImmediate(() => log.end());
      resolve(code ?? signal ?? 'unknown');
    });
  });
  if (child.pid === undefined) throw new Error(`could not start ${options.script}`);
  const pid = child.pid;
  return {
    pid,
    logFile: options.logFile,
    child,
    exited,
    get running() {
      return running;
    },
    signal(signal) {
      if (running) child.kill(signal);
    },
    async stop(signal = 'SIGTERM', graceMs = 10_000) {
      if (!running) return exited;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
