import { closeSync, fsyncSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { mkdtemp, readdir, rmdir, stat, statfs } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { AUDIT_FILE, DEFAULT_AUDIT_SETTINGS } from '../security/audit-trail.js';
import { type Check, type CheckOutcome, fail, ok, required } from './check.js';

// Check 9: the data dir can hold the outbox (STYLE §9: readings are on disk before they are
// sent). It exists or can be created, a file can be written and fsynced there, and the file
// system has room for the outbox at its bound plus what else the agent keeps there.

const KIB = 1024;
const MIB = 1024 * KIB;

/**
 * The most the agent's files in dataDir take (telemetry/outbox.ts, security/audit-trail.ts):
 * the outbox file stays under 2 × its bound + 64 KiB and a compaction writes up to one bound
 * beside it; the audit trail keeps `keep` rotated files besides the live one; the presence seq,
 * modes and control socket are small (64 KiB is plenty).
 */
export function worstCaseBytes(outboxMaxBytes: number): number {
  const outbox = 3 * outboxMaxBytes + 64 * KIB;
  const audit = (DEFAULT_AUDIT_SETTINGS.keep + 1) * DEFAULT_AUDIT_SETTINGS.maxBytes;
  return outbox + audit + 64 * KIB;
}

/** Free space against what the agent may still need: the worst case less what it holds now. */
export function judgeFreeSpace(facts: {
  dir: string;
  freeBytes: number;
  outboxMaxBytes: number;
  usedBytes: number;
}): CheckOutcome {
  const needed = Math.max(0, worstCaseBytes(facts.outboxMaxBytes) - facts.usedBytes);
  const free = `${mib(facts.freeBytes)} free in ${facts.dir}`;
  const need = `the outbox (telemetry.outboxMaxBytes ${mib(facts.outboxMaxBytes)}) and the audit trail may still need ${mib(needed)}`;
  if (facts.freeBytes < needed) {
    return fail(
      `only ${free}: ${need}`,
      'free space on that file system, move dataDir to a bigger one, or lower telemetry.outboxMaxBytes',
    );
  }
  return ok(`${free}, writable (probe file written, fsynced, deleted); ${need}`);
}

export const diskCheck: Check = {
  name: 'disk',
  needs: ['config'],
  async run(ctx) {
    const config = required(ctx.config, 'the config');
    const dataDir = resolve(config.dataDir);
    const place = await locate(dataDir);
    if ('outcome' in place) return place.outcome;
    try {
      await probeWrite(place.existing, place.exists);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      const where = place.exists ? dataDir : `${place.existing} (to create ${dataDir})`;
      return fail(
        `cannot write in ${where}: ${code}`,
        `make dataDir writable for the user the agent runs as (uid ${process.getuid?.() ?? '?'} here): ` +
          'chown/chmod it, or set dataDir to a writable place; a read-only file system needs remounting',
      );
    }
    const fs = await statfs(place.existing);
    const usedBytes = place.exists ? await agentFilesBytes(dataDir) : 0;
    const judged = judgeFreeSpace({
      dir: place.existing,
      freeBytes: Number(fs.bavail) * Number(fs.bsize),
      outboxMaxBytes: config.telemetry.outboxMaxBytes,
      usedBytes,
    });
    if (judged.status === 'ok' && !place.exists) {
      return ok(`${dataDir} does not exist yet; the agent can create it. ${judged.detail}`);
    }
    return judged;
  },
};

type Place = { existing: string; exists: boolean } | { outcome: CheckOutcome };

/** dataDir itself when it exists, else the nearest ancestor the agent would create it in. */
async function locate(dataDir: string): Promise<Place> {
  let path = dataDir;
  for (;;) {
    try {
      const info = await stat(path);
      if (info.isDirectory()) return { existing: path, exists: path === dataDir };
      return {
        outcome: fail(
          path === dataDir
            ? `dataDir ${dataDir} is a file, not a directory`
            : `dataDir ${dataDir} cannot be created: ${path} is a file, not a directory`,
          'set dataDir to a directory path (the agent creates it if it is missing)',
        ),
      };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // ENOTDIR: a part of the path is a file; going up finds it and says so.
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || dirname(path) === path) {
        return {
          outcome: fail(
            `dataDir ${dataDir} cannot be used: ${path}: ${code ?? (error as Error).message}`,
            'set dataDir to a directory this user may create and write',
          ),
        };
      }
      path = dirname(path);
    }
  }
}

/** Writes, fsyncs and deletes a probe file: what the outbox does before it sends a reading. */
async function probeWrite(dir: string, isDataDir: boolean): Promise<void> {
  // Where dataDir does not exist yet, a temporary dir stands in for it (and is removed).
  const target = isDataDir ? dir : await mkdtemp(join(dir, '.meter-agent-doctor-'));
  const file = join(target, `.doctor-probe-${process.pid}`);
  try {
    const fd = openSync(file, 'wx', 0o600);
    try {
      writeSync(fd, 'meter-agent doctor: disk probe\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    unlinkSync(file);
  } finally {
    if (!isDataDir) await rmdir(target).catch(() => {});
  }
}

/** Bytes the outbox and audit files take now (already on disk, so not needed again). */
async function agentFilesBytes(dataDir: string): Promise<number> {
  const names = (await readdir(dataDir).catch(() => [] as string[])).filter(
    (name) => name.startsWith('outbox.jsonl') || name.startsWith(AUDIT_FILE),
  );
  let total = 0;
  for (const name of names)
    total += (await stat(join(dataDir, name)).catch(() => ({ size: 0 }))).size;
  return total;
}

const mib = (bytes: number) =>
  bytes >= 10 * 1024 * MIB
    ? `${(bytes / (1024 * MIB)).toFixed(0)} GiB`
    : `${(bytes / MIB).toFixed(bytes < 10 * MIB ? 1 : 0)} MiB`;
