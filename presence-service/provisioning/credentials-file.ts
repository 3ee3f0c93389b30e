import { writeFileSync } from 'node:fs';
import { ERROR_CODES, GridpresenceError } from '../../src/errors.js';

// Generated meter passwords leave the service exactly once, in this file, for whoever installs
// the meters. Mode 0600: it holds secrets (STYLE §6).

/** Writes `content` (formatted by the caller, e.g. CSV) to a new file that only we may read. */
export function writeCredentialsFile(path: string, content: string): void {
  try {
    // 'wx': never overwrite: an existing file may hold the only copy of earlier passwords.
    writeFileSync(path, content, { mode: 0o600, flag: 'wx' });
  } catch (cause) {
    const exists = (cause as NodeJS.ErrnoException).code === 'EEXIST';
    throw new GridpresenceError(
      ERROR_CODES.IMPORT_INVALID,
      exists
        ? `credentials file ${path} already exists`
        : `cannot write credentials file ${path}: ${(cause as Error).message}`,
      { cause, hint: 'give --credentials-out a new file' },
    );
  }
}
