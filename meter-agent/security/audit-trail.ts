import {
  closeSync,
  fchmodSync,
  fstatSync,
  fsyncSync,
  openSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../src/log.js';
import type { AuditEntry, AuditSink } from './audit-entry.js';

// PROTOCOL §2: the agent's local audit trail. One JSON object per line, appended to
// <dataDir>/audit.log (mode 0600), on disk (fsync) before the command is answered (STYLE §9).
// Bounded: past `maxBytes` the file is rotated to audit.log.1 … audit.log.<keep>, the oldest
// dropped. An agent restart appends to the same file. It never throws into the caller: an I/O
// error is logged and the next entry tries again with a fresh file handle.

export const AUDIT_FILE = 'audit.log';

export interface AuditTrailSettings {
  maxBytes: number;
  keep: number;
}

export const DEFAULT_AUDIT_SETTINGS: AuditTrailSettings = { maxBytes: 1024 * 1024, keep: 5 };

export interface AuditTrail extends AuditSink {
  close(): void;
}

export function openAuditTrail(deps: {
  dataDir: string;
  logger: Logger;
  settings?: AuditTrailSettings;
}): AuditTrail {
  const { logger } = deps;
  const { maxBytes, keep } = deps.settings ?? DEFAULT_AUDIT_SETTINGS;
  const file = join(deps.dataDir, AUDIT_FILE);
  let fd: number | undefined;
  let size = 0;
  let closed = false;

  const open = () => {
    fd = openSync(file, 'a', 0o600);
    // An existing file keeps its mode on open: make sure it is private.
    fchmodSync(fd, 0o600);
    size = fstatSync(fd).size;
  };

  const closeFile = () => {
    if (fd === undefined) return;
    const handle = fd;
    fd = undefined;
    try {
      closeSync(handle);
    } catch {
      // already gone; nothing to keep
    }
  };

  const rotate = () => {
    closeFile();
    rmSync(`${file}.${keep}`, { force: true });
    for (let n = keep - 1; n >= 1; n -= 1) {
      try {
        renameSync(`${file}.${n}`, `${file}.${n + 1}`);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    renameSync(file, `${file}.1`);
  };

  const append = (line: string) => {
    const bytes = Buffer.byteLength(line);
    if (fd === undefined) open();
    if (size > 0 && size + bytes > maxBytes) {
      rotate();
      open();
    }
    const handle = fd as number;
    writeSync(handle, line);
    fsyncSync(handle);
    size += bytes;
  };

  try {
    open();
  } catch (error) {
    logger.warn({ file, err: (error as Error).message }, 'audit file not writable; will retry');
  }

  return {
    record(entry: AuditEntry) {
      logger.info({ audit: entry }, 'audit');
      if (closed) return;
      try {
        append(`${JSON.stringify(entry)}\n`);
      } catch (error) {
        logger.warn({ file, err: (error as Error).message }, 'audit entry not written to the file');
        closeFile();
      }
    },
    close() {
      closed = true;
      closeFile();
    },
  };
}
