import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { programPath } from '../../../src/stack/programs.js';

// Our two CLIs run as real processes from dist/ (what ships), with their output captured, for the
// end-to-end tests of exit codes, messages and logs.

type Program = 'meter-agent' | 'presence-service';

export interface CliResult {
  /** The exit code, or null when a signal ended the process. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  readonly running: boolean;
  readonly exited: Promise<CliResult>;
  /** Sends `signal` (default SIGTERM), SIGKILL after `graceMs`, and waits for the exit. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<CliResult>;
}

/**
 * The environment without our own variables (GP_*, LOG_LEVEL): a developer's shell must not
 * change what a test sees. `extra` is added on top.
 */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('GP_') && key !== 'LOG_LEVEL') env[key] = value;
  }
  return { ...env, ...extra };
}

export function startCli(
  program: Program,
  args: string[],
  options: { env?: NodeJS.ProcessEnv } = {},
): CliProcess {
  const child = spawn(process.execPath, [programPath(program), ...args], {
    env: cleanEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not start ${program}`);
  let stdout = '';
  let stderr = '';
  let running = true;
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  // 'close' (not 'exit'): the pipes are drained, so stdout and stderr are complete.
  const exited = new Promise<CliResult>((resolve) => {
    child.once('close', (code, signal) => {
      running = false;
      resolve({ code, signal, stdout, stderr });
    });
  });
  const pid = child.pid;
  return {
    pid,
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    get running() {
      return running;
    },
    exited,
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

/**
 * Runs a command to its end. A process still running after `timeoutMs` is killed and the call
 * fails, naming the command and quoting its output: "it should have exited" is the finding.
 */
export async function runCli(
  program: Program,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CliResult> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const running = startCli(program, args, options);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const outcome = await Promise.race([running.exited, timedOut]);
    if (outcome !== 'timeout') return outcome;
    const last = await running.stop('SIGKILL');
    throw new Error(
      `${program} ${args.join(' ')} did not exit within ${timeoutMs} ms\n` +
        `stdout: ${last.stdout.slice(-2000)}\nstderr: ${last.stderr.slice(-2000)}`,
    );
  } finally {
    clearTimeout(timer);
  }
}

/** One pino log line of our programs. */
export interface LogLine {
  level: number;
  time: string;
  msg: string;
  [key: string]: unknown;
}

/** The JSON log lines in a program's stdout; other lines (none expected) are skipped. */
export function logLines(stdout: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const text of stdout.split('\n')) {
    if (!text.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(text) as LogLine);
    } catch {
      // a line cut off by a kill
    }
  }
  return lines;
}

/** A private temp dir per test file; `removeAll()` in afterAll. */
export function tempDirs(prefix: string) {
  const dirs: string[] = [];
  return {
    make(): string {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
    removeAll(): void {
      for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A TCP port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
export function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
