import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';

// PROTOCOL §1 seq: counts state changes, starts at 1 and survives agent restarts. A seq that went
// backwards would make the service take new states for old ones, so each value is on disk
// (written, fsynced, renamed) before the presence that carries it is sent (STYLE §9).

export interface SeqStore {
  /** The last seq used, 0 if none yet. */
  readonly current: number;
  /** Reserves and persists the next seq. */
  next(): number;
}

interface PersistedSeq {
  seq: number;
}

export function openSeqStore(dataDir: string): SeqStore {
  const file = join(dataDir, 'presence-seq.json');
  mkdirSync(dirname(file), { recursive: true });
  let current = readSeq(file);
  return {
    get current() {
      return current;
    },
    next() {
      const seq = current + 1;
      writeAtomically(file, JSON.stringify({ seq } satisfies PersistedSeq));
      current = seq;
      return seq;
    },
  };
}

function readSeq(file: string): number {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  const parsed = JSON.parse(text) as Partial<PersistedSeq>;
  if (!Number.isSafeInteger(parsed.seq) || (parsed.seq ?? -1) < 0) {
    throw new Error(`${file} holds no valid seq; restore it or remove it to start again from 1`);
  }
  return parsed.seq as number;
}

function writeAtomically(file: string, content: string): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  // The rename itself must reach the disk too, or a power cut could bring back the old seq.
  const dir = openSync(dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
