import { mkdirSync, readFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';

// PROTOCOL §1 seq: counts state changes, starts at 1 and survives agent restarts. A seq that went
// backwards would make the service take new states for old ones, so each value is on disk
// (written, fsynced, renamed) before the presence that carries it is sent (STYLE §9): `next()`
// reserves a seq at once and `durable(seq)` resolves when it is on disk.
//
// The writes run off the event loop, one at a time, and a write covers every seq reserved
// before it started (a larger seq on disk covers the smaller ones): a burst of changes costs
// one or two writes, not one each. Measured in issue 6 (BENCHMARKS.md, `npm run bench --
// --cpu-prof`): the synchronous write-fsync-rename-fsync per change took a third of each fleet
// process's busy time and bounded the fleet's change rate.

export interface SeqStore {
  /** The last seq reserved, 0 if none yet. */
  readonly current: number;
  /** Reserves the next seq; its write to disk starts in the background. */
  next(): number;
  /** Resolves once `seq` (or a later one) is on disk; rejects if that write failed. */
  durable(seq: number): Promise<void>;
}

interface PersistedSeq {
  seq: number;
}

interface Waiter {
  seq: number;
  resolve(): void;
  reject(error: Error): void;
}

export function openSeqStore(dataDir: string): SeqStore {
  const file = join(dataDir, 'presence-seq.json');
  mkdirSync(dirname(file), { recursive: true });
  let current = readSeq(file);
  let persisted = current;
  /** The highest seq whose write failed: no retry until a newer seq asks for one. */
  let failedUpTo = current;
  let writing = false;
  let waiters: Waiter[] = [];

  const settle = (upTo: number, error?: Error) => {
    const done = waiters.filter((w) => w.seq <= upTo);
    waiters = waiters.filter((w) => w.seq > upTo);
    for (const w of done) {
      if (error) w.reject(error);
      else w.resolve();
    }
  };

  const pump = () => {
    if (writing || current <= Math.max(persisted, failedUpTo)) return;
    writing = true;
    const target = current;
    writeAtomically(file, JSON.stringify({ seq: target } satisfies PersistedSeq)).then(
      () => {
        persisted = target;
        writing = false;
        settle(target);
        pump();
      },
      (error: Error) => {
        failedUpTo = target;
        writing = false;
        settle(target, new Error(`could not write the presence seq to ${file}: ${error.message}`));
        pump();
      },
    );
  };

  return {
    get current() {
      return current;
    },
    next() {
      current += 1;
      pump();
      return current;
    },
    durable(seq) {
      if (seq <= persisted) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        waiters.push({ seq, resolve, reject });
        pump();
      });
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

async function writeAtomically(file: string, content: string): Promise<void> {
  const tmp = `${file}.tmp`;
  const handle = await open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
  // The rename itself must reach the disk too, or a power cut could bring back the old seq.
  const dir = await open(dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
