import type { Logger } from '../../src/log.js';
import type { DataKind, DataMessage } from '../../src/protocol/data.js';
import type { DataStore, RecordResult } from './data-store.js';
import type { OutboxBacklog } from './outbox-backlog.js';

// Turns a meter's data message into stored rows (PROTOCOL §6): duplicates (an outbox replay, a
// resent XEP-0198 queue) are dropped by seq, a seq reused for something else is a protocol error,
// and a jump in the data seq is logged as a gap. Missing items are never invented; a late one
// that fills a gap is stored like any other.

export interface DataRecorder {
  record(meterId: string, message: DataMessage, receivedAt: Date, stanza: string): RecordResult;
}

export function createDataRecorder(deps: {
  store: DataStore;
  /** Where protocol errors go (the presence store's, so GET /api/meters/:id shows them). */
  protocolError: (input: {
    meterId: string;
    receivedAt: string;
    error: string;
    stanza: string;
  }) => void;
  logger: Logger;
  /** Keeps each meter's latest reported outbox backlog (docs/protocol.md "Data"); optional. */
  backlog?: Pick<OutboxBacklog, 'report'>;
  /** Told of every item's fate (metrics); optional. */
  onRecorded?: (kind: DataKind, status: RecordResult['status']) => void;
}): DataRecorder {
  const { store, protocolError, logger } = deps;
  /** meterId → highest data seq stored; read from the store the first time a meter sends. */
  const highest = new Map<string, number>();

  return {
    record(meterId, { item, delay }, receivedAt, stanza) {
      const last = highest.get(meterId) ?? store.maxSeq(meterId);
      const result = store.record(meterId, item, {
        receivedAt: receivedAt.toISOString(),
        delayed: delay !== undefined,
      });
      switch (result.status) {
        case 'stored':
          if (item.seq > last) {
            highest.set(meterId, item.seq);
            const missing = item.seq - last - 1;
            if (last > 0 && missing > 0) {
              logger.warn({ meterId, after: last, seq: item.seq, missing }, 'gap in data seq');
            }
          } else {
            highest.set(meterId, last);
            logger.info({ meterId, seq: item.seq, highest: last }, 'late data item filled a gap');
          }
          if (item.kind === 'reading' && item.dropped) {
            logger.warn(
              { meterId, seq: item.seq, dropped: item.dropped },
              "the meter's full outbox dropped readings",
            );
          }
          if (item.kind === 'reading' && item.backlog !== undefined) {
            deps.backlog?.report(meterId, item.seq, item.backlog);
          }
          break;
        case 'duplicate':
          highest.set(meterId, last);
          logger.debug({ meterId, seq: item.seq }, 'duplicate data item dropped');
          break;
        case 'conflict': {
          highest.set(meterId, last);
          const error = `data seq ${item.seq} already holds a ${result.existing.kind} of ${result.existing.ts}; this ${item.kind} of ${item.ts} was not stored`;
          logger.warn({ meterId, seq: item.seq }, error);
          protocolError({ meterId, receivedAt: receivedAt.toISOString(), error, stanza });
          break;
        }
      }
      deps.onRecorded?.(item.kind, result.status);
      return result;
    },
  };
}
