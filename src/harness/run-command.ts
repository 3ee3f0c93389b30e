import { execFile } from 'node:child_process';

// One way to run the external tools the harness drives (openssl, prosodyctl, apt-get, chown):
// execFile, never a shell, so no argument is ever parsed by /bin/sh.

export interface CommandResult {
  ok: boolean;
  /** Exit code; null when the command was killed (e.g. by the timeout). */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CommandOptions {
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Written to the program's standard input (e.g. secrets, which argv would show in `ps`). */
  input?: string;
}

/**
 * Runs `file args...` and resolves with its outcome whatever the exit code; rejects only when
 * the program could not be started at all (e.g. ENOENT), which callers treat differently.
 */
export function runCommand(
  file: string,
  args: readonly string[],
  options: CommandOptions = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      {
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
        timeout: options.timeoutMs ?? 0,
        env: options.env ?? process.env,
      },
      (error, stdout, stderr) => {
        if (error && typeof error.code === 'string') {
          reject(error);
          return;
        }
        resolve({
          ok: !error,
          code: error ? (typeof error.code === 'number' ? error.code : null) : 0,
          signal: (error?.signal as NodeJS.Signals | undefined) ?? null,
          stdout,
          stderr,
        });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** The tail of what a failed command printed, for error messages. */
export function describeFailure(command: string, result: CommandResult, maxChars = 2000): string {
  const status = result.code === null ? `killed by ${result.signal}` : `exit code ${result.code}`;
  const output = [result.stderr.trim(), result.stdout.trim()].filter(Boolean).join('\n');
  const tail = output.length > maxChars ? `…${output.slice(-maxChars)}` : output;
  return `${command} failed (${status})${tail ? `:\n${tail}` : ''}`;
}
