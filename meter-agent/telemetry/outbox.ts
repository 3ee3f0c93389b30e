import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../src/log.js';
import { type DataItem, validateDataItem } from '../../src/protocol/data.js';
import { appendToFile, replaceFile, replaceFileSync, truncateFile } from './durable-file.js';
import {
  ackLine,
  applyDrop,
  applyPut,
  applyRemove,
  applySkip,
  dropLine,
  type OutboxEntry,
  putLine,
  replayOutbox,
  skipLine,
  snapshotLines,
} from './outbox-file.js';

// The meter's durable outbox for data (PROTOCOL §6, STYLE §9): every reading, event and audit
// entry is on disk (fsynced) before it may be sent, and leaves only when the server has
// acknowledged it (XEP-0198; see data-sender.ts). It also owns the data `seq`: the seq is written
// in the same fsynced line as its item, so it survives restarts without a second file and is
// never reused, and an item lost in a crash before its write never leaves a gap behind.
//
// Why a JSON-lines file and not SQLite: fleet mode runs thousands of agents in one process, and a
// file opened per write costs no descriptor or page cache per meter while idle; the operations
// are exactly append, acknowledge and rewrite; and a person can read it. Puts that arrive while a
// write is running are committed together with one fsync (group commit).
//
// Bounded (STYLE §9): when the live items would exceed `maxBytes`, the oldest readings are
// dropped first; events and audit entries never are (they are rare, and they are what an operator
// needs afterwards). Dropped readings are counted and reported to the service in the `dropped`
// attribute of the next reading. The file itself stays under about 2 × maxBytes + 64 KiB: it is
// rewritten once acknowledged and dropped lines outweigh the live ones.

const FILE_NAME = 'outbox.jsonl';
/** Room kept for a `"dropped":N` attribute when sizing a reading. */
const DROPPED_RESERVE = 24;
/** Below this size the file is never rewritten, however many dead lines it holds. */
const COMPACT_SLACK_BYTES = 64 * 1024;

/** An item before the outbox gives it its seq (and, for a reading, its drop count). */
export type DataDraft =
  | Omit<Extract<DataItem, { kind: 'reading' }>, 'seq' | 'dropped'>
  | Omit<Extract<DataItem, { kind: 'event' }>, 'seq'>
  | Omit<Extract<DataItem, { kind: 'audit' }>, 'seq'>;

export interface OutboxStats {
  items: number;
  /** Bytes of the live items, what `maxBytes` bounds. */
  bytes: number;
  /** Bytes of the file, live and dead lines. */
  fileBytes: number;
  lastSeq: number;
  /** Dropped readings not yet reported to the service. */
  pendingDropped: number;
  droppedTotal: number;
}

export interface Outbox {
  /**
   * Gives the draft the next data seq and resolves once it is fsynced. Resolves undefined for a
   * reading that found no room (the outbox is full of events and audit entries); it is counted.
   */
  put(draft: DataDraft): Promise<DataItem | undefined>;
  /** The server has the item: forget it. False if it is not (or no longer) here. */
  remove(seq: number): boolean;
  /** Items on disk and not yet acknowledged, oldest first. */
  pending(): DataItem[];
  has(seq: number): boolean;
  readonly stats: OutboxStats;
  /** Waits for the writes in progress; puts after close are refused. */
  close(): Promise<void>;
}

export interface OutboxOptions {
  dir: string;
  /** Bound on the live items' bytes. */
  maxBytes: number;
  logger: Logger;
}

interface Waiter {
  item: DataItem;
  entry: OutboxEntry;
  resolve(item: DataItem): void;
  reject(error: Error): void;
}

export function openOutbox({ dir, maxBytes, logger }: OutboxOptions): Outbox {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, FILE_NAME);
  rmSync(`${file}.tmp`, { force: true }); // a compaction that a crash interrupted
  const existed = existsSync(file);
  const text = existed ? readFileSync(file, 'utf8') : '';
  const { state, badLines } = replayOutbox(text);
  let fileBytes = Buffer.byteLength(text);
  if (badLines > 0 || !existed) {
    if (badLines > 0) logger.warn({ file, badLines }, 'outbox had unreadable lines; rewriting it');
    fileBytes = replaceFileSync(file, snapshotLines(state).join(''));
  }
  if (state.entries.size > 0) {
    logger.info(
      { items: state.entries.size, bytes: state.liveBytes, lastSeq: state.lastSeq },
      'outbox holds unacknowledged data from before',
    );
  }

  let lines: string[] = [];
  let acks: number[] = [];
  let needsSync = false;
  let waiters: Waiter[] = [];
  let writing: Promise<void> | undefined;
  let closed = false;

  const schedule = (): void => {
    if (writing) return;
    writing = drain().finally(() => {
      writing = undefined;
      // A put made by a caller resumed by this batch ran before this callback: take it now.
      if (lines.length > 0 || acks.length > 0) schedule();
    });
  };

  // One batch at a time: everything queued while a write runs goes into the next one.
  async function drain(): Promise<void> {
    while (lines.length > 0 || acks.length > 0) {
      const batch = acks.length > 0 ? [...lines, ackLine(acks)] : lines;
      const batchWaiters = waiters;
      const sync = needsSync;
      lines = [];
      acks = [];
      waiters = [];
      needsSync = false;
      const content = batch.join('');
      try {
        fileBytes += await appendToFile(file, content, sync);
        for (const w of batchWaiters) {
          w.entry.durable = true;
          w.resolve(w.item);
        }
      } catch (error) {
        // Not on disk, so it must not be sent: forget the batch's items and cut any torn tail.
        for (const w of batchWaiters) {
          applyRemove(state, w.item.seq);
          if (w.item.kind === 'reading') state.pendingDropped += w.item.dropped ?? 0;
          w.reject(error as Error);
        }
        logger.error(
          { err: (error as Error).message, lost: batchWaiters.length },
          'outbox write failed',
        );
        await truncateFile(file, fileBytes).catch(() => {});
      }
      if (lines.length === 0 && acks.length === 0 && worthCompacting()) await compact();
    }
  }

  const worthCompacting = () =>
    fileBytes > COMPACT_SLACK_BYTES && fileBytes > 2 * (state.liveBytes + COMPACT_SLACK_BYTES / 2);

  async function compact(): Promise<void> {
    try {
      fileBytes = await replaceFile(file, snapshotLines(state).join(''));
    } catch (error) {
      logger.warn({ err: (error as Error).message }, 'outbox compaction failed; will retry');
    }
  }

  const oldestReading = (): number | undefined => {
    for (const [seq, entry] of state.entries) if (entry.item.kind === 'reading') return seq;
    return undefined;
  };

  return {
    put(draft) {
      if (closed) return Promise.reject(new Error('the outbox is closed'));
      const base = { ...draft, seq: state.lastSeq + 1 } as DataItem;
      const valid = validateDataItem(base);
      if (!valid.ok) return Promise.reject(new Error(`invalid data item: ${valid.error}`));
      const need =
        Buffer.byteLength(putLine(base)) + (draft.kind === 'reading' ? DROPPED_RESERVE : 0);

      const dropped: number[] = [];
      while (state.liveBytes + need > maxBytes) {
        const victim = oldestReading();
        if (victim === undefined) break;
        applyDrop(state, victim);
        dropped.push(victim);
      }
      if (dropped.length > 0) {
        lines.push(dropLine(dropped));
        logger.warn(
          { dropped: dropped.length, droppedTotal: state.droppedTotal, maxBytes },
          'outbox full: dropped the oldest readings',
        );
      }
      if (state.liveBytes + need > maxBytes) {
        if (draft.kind === 'reading') {
          applySkip(state, 1);
          lines.push(skipLine(1));
          schedule();
          logger.warn({ maxBytes }, 'outbox full of events and audit entries: reading dropped');
          return Promise.resolve(undefined);
        }
        logger.warn({ kind: draft.kind, maxBytes }, 'outbox over its bound: kept the item anyway');
      }

      const item: DataItem =
        base.kind === 'reading' && state.pendingDropped > 0
          ? { ...base, dropped: state.pendingDropped }
          : base;
      const entry = applyPut(state, item, false);
      lines.push(putLine(item));
      needsSync = true;
      return new Promise<DataItem>((resolve, reject) => {
        waiters.push({ item, entry, resolve, reject });
        schedule();
      });
    },

    remove(seq) {
      const entry = state.entries.get(seq);
      if (!entry?.durable) return false;
      applyRemove(state, seq);
      acks.push(seq);
      schedule();
      return true;
    },

    pending() {
      const items: DataItem[] = [];
      for (const entry of state.entries.values()) if (entry.durable) items.push(entry.item);
      return items;
    },

    has(seq) {
      return state.entries.get(seq)?.durable === true;
    },

    get stats() {
      return {
        items: state.entries.size,
        bytes: state.liveBytes,
        fileBytes,
        lastSeq: state.lastSeq,
        pendingDropped: state.pendingDropped,
        droppedTotal: state.droppedTotal,
      };
    },

    async close() {
      closed = true;
      while (writing) await writing;
    },
  };
}
