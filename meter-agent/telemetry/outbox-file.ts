import { type DataItem, validateDataItem } from '../../src/protocol/data.js';

// The outbox's file format: JSON lines, appended in the order things happened, replayed on open.
//
//   {"meta":{"lastSeq":41,"pendingDropped":0,"droppedTotal":3}}   first line after a compaction
//   {"put":{"kind":"reading","ts":"…","seq":42,"values":[…]}}       an item, fsynced before it is sent
//   {"ack":[42]}                                                    the server has it (XEP-0198)
//   {"drop":[17]}                                                   dropped to make room (a reading)
//   {"skip":1}                                                      a reading that found no room
//
// Only `put` lines are fsynced. A lost `ack` line brings the item back after a crash and it is
// sent again (the service drops the duplicate by seq); a lost `drop` line brings a reading back.
// Neither loses data, so neither is worth an fsync. A torn last line (a crash mid-write) and any
// line that does not parse are skipped and counted; the caller then rewrites the file.

export interface OutboxEntry {
  item: DataItem;
  /** Bytes of its `put` line, newline included: what the size bound counts. */
  bytes: number;
  /** On disk (fsynced): only then may it be sent (STYLE §9). */
  durable: boolean;
}

export interface OutboxState {
  /** Live items by seq, in seq order (Map keeps insertion order and seqs only grow). */
  entries: Map<number, OutboxEntry>;
  liveBytes: number;
  /** The last data seq ever given out; the next item gets lastSeq + 1. */
  lastSeq: number;
  /** Readings dropped and not yet reported in a reading's `dropped` attribute. */
  pendingDropped: number;
  /** Readings dropped since this outbox was created (for logs and status). */
  droppedTotal: number;
}

export function emptyState(): OutboxState {
  return { entries: new Map(), liveBytes: 0, lastSeq: 0, pendingDropped: 0, droppedTotal: 0 };
}

export const putLine = (item: DataItem): string => `${JSON.stringify({ put: item })}\n`;
export const ackLine = (seqs: number[]): string => `${JSON.stringify({ ack: seqs })}\n`;
export const dropLine = (seqs: number[]): string => `${JSON.stringify({ drop: seqs })}\n`;
export const skipLine = (count: number): string => `${JSON.stringify({ skip: count })}\n`;

export function metaLine(state: OutboxState): string {
  const { lastSeq, pendingDropped, droppedTotal } = state;
  return `${JSON.stringify({ meta: { lastSeq, pendingDropped, droppedTotal } })}\n`;
}

/** What the whole file would hold if written afresh: the meta line and every live item. */
export function snapshotLines(state: OutboxState): string[] {
  return [metaLine(state), ...[...state.entries.values()].map((e) => putLine(e.item))];
}

// State transitions, shared by the live outbox and the replay, so both agree by construction.

export function applyPut(state: OutboxState, item: DataItem, durable: boolean): OutboxEntry {
  const entry = { item, bytes: Buffer.byteLength(putLine(item)), durable };
  state.entries.set(item.seq, entry);
  state.liveBytes += entry.bytes;
  state.lastSeq = Math.max(state.lastSeq, item.seq);
  if (item.kind === 'reading' && item.dropped) {
    state.pendingDropped = Math.max(0, state.pendingDropped - item.dropped);
  }
  return entry;
}

export function applyRemove(state: OutboxState, seq: number): OutboxEntry | undefined {
  const entry = state.entries.get(seq);
  if (!entry) return undefined;
  state.entries.delete(seq);
  state.liveBytes -= entry.bytes;
  return entry;
}

/** A dropped reading counts once, plus whatever drop count it was carrying (now unreported). */
export function applyDrop(state: OutboxState, seq: number): OutboxEntry | undefined {
  const entry = applyRemove(state, seq);
  if (!entry) return undefined;
  const carried = entry.item.kind === 'reading' ? (entry.item.dropped ?? 0) : 0;
  state.pendingDropped += 1 + carried;
  state.droppedTotal += 1;
  return entry;
}

export function applySkip(state: OutboxState, count: number): void {
  state.pendingDropped += count;
  state.droppedTotal += count;
}

export interface Replayed {
  state: OutboxState;
  /** Lines that did not parse or validate (a torn tail after a crash, or damage). */
  badLines: number;
  /** Acks and drops: lines a compaction would remove. */
  deadLines: number;
}

/** Rebuilds the outbox from its file. Never throws on content. */
export function replayOutbox(text: string): Replayed {
  const state = emptyState();
  let badLines = 0;
  let deadLines = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      badLines += 1;
      continue;
    }
    if (!applyRecord(state, record)) badLines += 1;
    else if (!('put' in record)) deadLines += 1;
  }
  return { state, badLines, deadLines };
}

function applyRecord(state: OutboxState, record: Record<string, unknown>): boolean {
  if ('put' in record) {
    const valid = validateDataItem(record.put);
    if (!valid.ok) return false;
    applyPut(state, valid.value, true);
    return true;
  }
  if ('ack' in record || 'drop' in record) {
    const seqs = record.ack ?? record.drop;
    if (!Array.isArray(seqs) || !seqs.every(Number.isSafeInteger)) return false;
    for (const seq of seqs as number[]) {
      if ('ack' in record) applyRemove(state, seq);
      else applyDrop(state, seq);
    }
    return true;
  }
  if ('skip' in record) {
    if (!Number.isSafeInteger(record.skip)) return false;
    applySkip(state, record.skip as number);
    return true;
  }
  if ('meta' in record) {
    const meta = record.meta as Partial<Record<keyof OutboxState, unknown>> | null;
    const numbers = [meta?.lastSeq, meta?.pendingDropped, meta?.droppedTotal];
    if (!numbers.every((n) => Number.isSafeInteger(n) && (n as number) >= 0)) return false;
    state.lastSeq = Math.max(state.lastSeq, meta?.lastSeq as number);
    state.pendingDropped = meta?.pendingDropped as number;
    state.droppedTotal = meta?.droppedTotal as number;
    return true;
  }
  return false;
}
