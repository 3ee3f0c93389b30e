import { runCommand } from './run-command.js';

// Prosody must not run as root: it warns, then hangs in shutdown (XMPP-NOTES "Prosody").
// When we are root, everything Prosody touches is owned by the `prosody` user the Debian
// package creates, and Prosody and prosodyctl are started through setpriv. setpriv rather than
// runuser/su: runuser drops the open-files limit to 1024 (about 1,000 clients), setpriv keeps
// ours, and setpriv execs in place, so the pid we spawn is Prosody's own pid.

export const PROSODY_USER = 'prosody';

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** The command line that runs `file args` as the prosody user when we are root, else as is. */
export function asProsodyUser(file: string, args: readonly string[]): [string, string[]] {
  if (!isRoot()) return [file, [...args]];
  return [
    'setpriv',
    [`--reuid=${PROSODY_USER}`, `--regid=${PROSODY_USER}`, '--init-groups', '--', file, ...args],
  ];
}

/** Gives `path` (recursively) to the prosody user when we are root; a no-op otherwise. */
export async function chownToProsody(path: string): Promise<void> {
  if (!isRoot()) return;
  const result = await runCommand('chown', ['-R', `${PROSODY_USER}:${PROSODY_USER}`, path]);
  if (!result.ok) {
    throw new Error(`chown -R ${PROSODY_USER}:${PROSODY_USER} ${path}: ${result.stderr.trim()}`);
  }
}

/**
 * Fails with a clear message when the prosody user cannot read `file`, typically because a
 * parent directory is root's and mode 0700 (chownToProsody only changes the harness dir).
 */
export async function assertProsodyCanRead(file: string): Promise<void> {
  if (!isRoot()) return;
  const [command, args] = asProsodyUser('test', ['-r', file]);
  if ((await runCommand(command, args)).ok) return;
  throw new Error(
    `the ${PROSODY_USER} user cannot read ${file}: make every parent directory searchable ` +
      `by it (e.g. chmod o+x), or use a directory elsewhere`,
  );
}
