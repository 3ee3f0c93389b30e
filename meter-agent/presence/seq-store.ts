import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';

// PROTOCOL §1 seq: counts state changes, starts at 1 and survives agent restarts. A seq that went
// backwards would make the service take new states for old ones, so each value is on disk
// before the presence that carries it is sent (STYLE §9): `next()` reserves a seq at once and
// `durable(seq)` resolves when it is on disk.
//
// How it is kept cheap (issue 6, BENCHMARKS.md): a write-fsync-rename-fsync per change took a
// third of each fleet process's busy time in the bench profile. Now the file has two fixed
// slots, written in place in turn, each with its checksum, and one fdatasync makes a write
// durable (the size never changes, so no metadata has to reach the disk). A write always goes to
// the slot that does not hold the last durable seq, so a write torn by a power cut spoils only
// itself: the other slot still holds the last seq that may have been sent, and the checksum
// tells which slot is whole. Writes run off the event loop, one at a time per meter, and
// one write covers every seq reserved before it started (a burst costs one or two writes).

export interface SeqStore {
  /** The last seq reserved, 0 if none yet. */
  readonly current: number;
  /** Reserves the next seq; its write to disk starts in the background. */
  next(): number;
  /** Resolves once `seq` (or a later one) is on disk; rejects if that write failed. */
  durable(seq: number): Promise<void>;
  /** Waits for the write in flight and closes the file. */
  close(): Promise<void>;
}

const FILE = 'presence-seq';
/** The JSON file of earlier versions ({"seq": N}, replaced by rename): read once, then removed. */
const LEGACY_FILE = 'presence-seq.json';
const SLOT_BYTES = 32;

/** `seq <n> <crc32 of "seq <n>">`, space-padded to the slot, ending in a newline. */
export function encodeSlot(seq: number): Buffer {
  const body = `seq ${seq}`;
  const text = `${body} ${crc32(body).toString(16).padStart(8, '0')}`;
  return Buffer.from(`${text.padEnd(SLOT_BYTES - 1)}\n`, 'latin1');
}

/** The seq of a whole slot, or undefined for an empty, torn or foreign one. */
export function decodeSlot(slot: Buffer): number | undefined {
  const match = /^seq (\d{1,16}) ([0-9a-f]{8}) *\n$/.exec(slot.toString('latin1'));
  if (!match) return undefined;
  const seq = Number(match[1]);
  const ok =
    Number.isSafeInteger(seq) && crc32(`seq ${match[1]}`) === Number.parseInt(match[2] ?? '', 16);
  return ok ? seq : undefined;
}

interface Waiter {
  seq: number;
  resolve(): void;
  reject(error: Error): void;
}

export function openSeqStore(dataDir: string): SeqStore {
  const file = join(dataDir, FILE);
  const onDisk = readSeq(file, join(dataDir, LEGACY_FILE));
  let current = onDisk.seq;
  let persisted = current;
  /** The slot that holds `persisted`: never written until the other one holds a later seq. */
  let persistedSlot = onDisk.slot;
  /** The highest seq whose write failed: no retry until a newer seq asks for one. */
  let failedUpTo = current;
  let handle: Promise<FileHandle> | undefined;
  let writing: Promise<void> | undefined;
  let waiters: Waiter[] = [];

  const settle = (upTo: number, error?: Error) => {
    const done = waiters.filter((w) => w.seq <= upTo);
    waiters = waiters.filter((w) => w.seq > upTo);
    for (const w of done) {
      if (error) w.reject(error);
      else w.resolve();
    }
  };

  const write = async (seq: number, slot: number) => {
    handle ??= open(file, 'r+');
    const fh = await handle;
    await fh.write(encodeSlot(seq), 0, SLOT_BYTES, slot * SLOT_BYTES);
    await fh.datasync();
  };

  const pump = () => {
    if (writing || current <= Math.max(persisted, failedUpTo)) return;
    const target = current;
    const slot = 1 - persistedSlot;
    writing = write(target, slot).then(
      () => {
        persisted = target;
        persistedSlot = slot;
        writing = undefined;
        settle(target);
        pump();
      },
      (error: Error) => {
        failedUpTo = target;
        writing = undefined;
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
    async close() {
      await writing;
      const fh = await handle?.catch(() => undefined);
      handle = undefined;
      await fh?.close();
    },
  };
}

/** The seq on disk and its slot; creates the file (from the legacy JSON if there is one). */
function readSeq(file: string, legacyFile: string): { seq: number; slot: number } {
  let bytes: Buffer | undefined;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (bytes) {
    const [first, second] = [0, 1].map((slot) =>
      decodeSlot(bytes.subarray(slot * SLOT_BYTES, (slot + 1) * SLOT_BYTES)),
    );
    if (first === undefined && second === undefined) {
      throw new Error(`${file} holds no valid seq; restore it or remove it to start again from 1`);
    }
    return (second ?? -1) > (first ?? -1)
      ? { seq: second as number, slot: 1 }
      : { seq: first as number, slot: 0 };
  }
  const seq = readLegacySeq(legacyFile);
  createAtomically(file, Buffer.concat([encodeSlot(seq), encodeSlot(seq)]));
  rmSync(legacyFile, { force: true });
  return { seq, slot: 0 };
}

function readLegacySeq(file: string): number {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  const seq = (JSON.parse(text) as { seq?: unknown }).seq;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
    throw new Error(`${file} holds no valid seq; restore it or remove it to start again from 1`);
  }
  return seq;
}

/** Once per data directory: written, fsynced, renamed, and the rename fsynced too. */
function createAtomically(file: string, content: Buffer): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const dir = openSync(dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
