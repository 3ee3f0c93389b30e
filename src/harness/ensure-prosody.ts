import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { ERROR_CODES, GridpresenceError } from '../errors.js';
import { type Logger, silentLogger } from '../log.js';
import { isRoot } from './prosody-user.js';
import { describeFailure, runCommand } from './run-command.js';

// Makes sure a Prosody is available before the harness or the stack starts one. The Debian
// package is the supported way (XMPP-NOTES "Prosody": about 5 s, 7 MB, no daemon started);
// lua-dbi-sqlite3 enables storage = "sql", prosody-modules brings mod_privilege (XEP-0356).

const PACKAGES = ['prosody', 'lua-dbi-sqlite3', 'prosody-modules'];
const INSTALL_HINT = `install it: sudo apt-get install -y ${PACKAGES.join(' ')}`;

export async function ensureProsodyInstalled(logger: Logger = silentLogger()): Promise<void> {
  if (await onPath('prosody')) return;

  if (isRoot()) {
    await aptInstall(logger);
    if (await onPath('prosody')) return;
    throw new GridpresenceError(
      ERROR_CODES.PROSODY_MISSING,
      'apt-get installed prosody but `prosody` is still not on PATH',
      { hint: `PATH is ${process.env.PATH ?? '(unset)'}` },
    );
  }

  if (await dockerAnswers()) {
    // TODO: run the prosody/prosody image when a Docker engine is the only option.
    throw new GridpresenceError(
      ERROR_CODES.PROSODY_MISSING,
      'prosody is not installed; a Docker engine was found, but running Prosody in Docker is not implemented yet',
      { hint: INSTALL_HINT },
    );
  }

  throw new GridpresenceError(ERROR_CODES.PROSODY_MISSING, 'prosody is not installed', {
    hint: INSTALL_HINT,
  });
}

async function aptInstall(logger: Logger): Promise<void> {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const steps: Array<[string, string[]]> = [
    ['apt-get', ['update']],
    ['apt-get', ['install', '-y', ...PACKAGES]],
  ];
  for (const [file, args] of steps) {
    const command = `${file} ${args.join(' ')}`;
    logger.warn({ command }, 'prosody is missing: installing it');
    const result = await runCommand(file, args, { env, timeoutMs: 600_000 }).catch(
      (cause: unknown) => {
        throw new GridpresenceError(ERROR_CODES.PROSODY_MISSING, `cannot run ${file}`, {
          cause,
          hint: INSTALL_HINT,
        });
      },
    );
    if (!result.ok) {
      throw new GridpresenceError(ERROR_CODES.PROSODY_MISSING, describeFailure(command, result), {
        hint: INSTALL_HINT,
      });
    }
  }
  logger.warn('prosody installed');
}

/** `docker info` exits 0 only when a Docker engine answers, not merely when the CLI exists. */
async function dockerAnswers(): Promise<boolean> {
  try {
    return (await runCommand('docker', ['info'], { timeoutMs: 10_000 })).ok;
  } catch {
    return false; // no docker CLI
  }
}

async function onPath(command: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      await access(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}
