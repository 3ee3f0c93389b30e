import { METER_STATES, type MeterState } from '../../src/protocol/index.js';
import type { Database } from './database.js';

// The presence service's memory of what every meter said: an append-only history of state
// changes (PROTOCOL §1) and the current state per meter, plus protocol errors (PROTOCOL §1:
// "record it, never crash"). record() sits on the hot presence path, so every statement is
// prepared once, here, and a change is one transaction.
//
// Measured on a file database (WAL, synchronous=NORMAL, ext4 on a 2-core VM, Node 20): about
// 17,000-21,000 record() calls per second, i.e. ~50 µs each (test/unit/store-presence.test.ts).

/** How the service learned of a change: a pushed presence, a probe answer, a status query
 * (PROTOCOL §3), the server reporting the session gone, a ping (silent-death detection or a
 * ping poll), or an e-mail poll (docs/liveness.md). */
export type ChangeSource = 'push' | 'probe' | 'query' | 'server' | 'ping' | 'email';

export interface CurrentState {
  meterId: string;
  state: MeterState;
  reasonCode: string | null;
  reasonText: string | null;
  /** The last `seq` the meter itself reported; a server-reported drop keeps it (PROTOCOL §1 seq). */
  seq: number | null;
  since: string | null;
  /** The last `kind` the meter itself reported; a server-reported drop keeps it. */
  kind: string | null;
  source: ChangeSource;
  receivedAt: string;
  /** Last sign of life of any kind (a change, a duplicate, a heartbeat). */
  lastSeenAt: string;
  historyId: number;
}

export interface StateChangeInput {
  meterId: string;
  prevState: MeterState | null;
  state: MeterState;
  reasonCode: string | null;
  reasonText: string | null;
  /** Null for server-reported drops, which carry no extension (PROTOCOL §1 decoupled). */
  seq: number | null;
  since: string | null;
  kind: string | null;
  /** ISO 8601 with milliseconds, UTC (`Date.prototype.toISOString`), so strings sort by time. */
  receivedAt: string;
  source: ChangeSource;
  /** Number of `seq` values missed before this change; 0 if none (PROTOCOL §1 seq). */
  gap: number;
}

export interface RecordedChange extends StateChangeInput {
  /** Global and monotonic: the SSE event id. */
  id: number;
}

export interface ProtocolErrorRecord {
  id: number;
  receivedAt: string;
  error: string;
  stanza: string;
}

export interface PresenceStore {
  current(meterId: string): CurrentState | undefined;
  allCurrent(): Map<string, CurrentState>;
  /** meterId → the last `seq` the meter itself announced (PROTOCOL §1 seq), for gap detection. */
  record(change: StateChangeInput): RecordedChange;
  touch(meterId: string, at: string): void;
  history(
    meterId: string,
    range: { since?: string; until?: string; limit: number },
  ): RecordedChange[];
  changesAfter(historyId: number, limit: number): RecordedChange[];
  recordProtocolError(input: {
    meterId: string;
    receivedAt: string;
    error: string;
    stanza: string;
  }): void;
  protocolErrors(meterId: string, limit: number): ProtocolErrorRecord[];
  counts(): Record<MeterState, number>;
}

/** Stanzas are kept for diagnosis, not archived: a misbehaving meter must not fill the disk. */
export const MAX_STANZA_BYTES = 4096;
/** Protocol errors kept per meter; older ones are pruned on insert (STYLE §9 bounded). */
export const MAX_PROTOCOL_ERRORS_PER_METER = 1000;

const CURRENT_COLUMNS = `meter_id AS meterId, state, reason_code AS reasonCode,
  reason_text AS reasonText, seq, since, kind, source, received_at AS receivedAt,
  last_seen_at AS lastSeenAt, history_id AS historyId`;

const HISTORY_COLUMNS = `id, meter_id AS meterId, prev_state AS prevState, state,
  reason_code AS reasonCode, reason_text AS reasonText, seq, since, kind, received_at AS receivedAt,
  source, gap`;

export function createPresenceStore({ db }: { db: Database }): PresenceStore {
  const selectCurrent = db.prepare(
    `SELECT ${CURRENT_COLUMNS} FROM current_state WHERE meter_id = ?`,
  );
  const selectAllCurrent = db.prepare(`SELECT ${CURRENT_COLUMNS} FROM current_state`);
  const insertHistory = db.prepare(`
    INSERT INTO state_history
      (meter_id, prev_state, state, reason_code, reason_text, seq, since, kind, received_at, source, gap)
    VALUES
      (@meterId, @prevState, @state, @reasonCode, @reasonText, @seq, @since, @kind, @receivedAt,
       @source, @gap)`);
  // A server-reported drop has no extension, so it carries no seq or kind: keep the meter's last
  // reported ones, which the presence path needs to detect gaps after the meter comes back.
  const upsertCurrent = db.prepare(`
    INSERT INTO current_state
      (meter_id, state, reason_code, reason_text, seq, since, kind, source, received_at,
       last_seen_at, history_id)
    VALUES
      (@meterId, @state, @reasonCode, @reasonText, @seq, @since, @kind, @source, @receivedAt,
       @receivedAt, @historyId)
    ON CONFLICT (meter_id) DO UPDATE SET
      state = excluded.state,
      reason_code = excluded.reason_code,
      reason_text = excluded.reason_text,
      seq = coalesce(excluded.seq, current_state.seq),
      since = excluded.since,
      kind = coalesce(excluded.kind, current_state.kind),
      source = excluded.source,
      received_at = excluded.received_at,
      last_seen_at = max(current_state.last_seen_at, excluded.last_seen_at),
      history_id = excluded.history_id`);
  const updateLastSeen = db.prepare(
    'UPDATE current_state SET last_seen_at = max(last_seen_at, ?) WHERE meter_id = ?',
  );
  const selectChangesAfter = db.prepare(
    `SELECT ${HISTORY_COLUMNS} FROM state_history WHERE id > ? ORDER BY id LIMIT ?`,
  );
  const historyQueries = {
    // Without `since` the newest `limit` changes are wanted (read backwards, returned in order).
    none: db.prepare(
      `SELECT ${HISTORY_COLUMNS} FROM state_history WHERE meter_id = @meterId
       ORDER BY id DESC LIMIT @limit`,
    ),
    since: db.prepare(
      `SELECT ${HISTORY_COLUMNS} FROM state_history
       WHERE meter_id = @meterId AND received_at >= @since ORDER BY id LIMIT @limit`,
    ),
    until: db.prepare(
      `SELECT ${HISTORY_COLUMNS} FROM state_history
       WHERE meter_id = @meterId AND received_at <= @until ORDER BY id DESC LIMIT @limit`,
    ),
    both: db.prepare(
      `SELECT ${HISTORY_COLUMNS} FROM state_history
       WHERE meter_id = @meterId AND received_at >= @since AND received_at <= @until
       ORDER BY id LIMIT @limit`,
    ),
  };
  const insertProtocolError = db.prepare(
    'INSERT INTO protocol_errors (meter_id, received_at, error, stanza) VALUES (?, ?, ?, ?)',
  );
  const pruneProtocolErrors = db.prepare(`
    DELETE FROM protocol_errors WHERE meter_id = @meterId AND id <= (
      SELECT id FROM protocol_errors WHERE meter_id = @meterId
      ORDER BY id DESC LIMIT 1 OFFSET @keep)`);
  const selectProtocolErrors = db.prepare(`
    SELECT id, received_at AS receivedAt, error, stanza FROM protocol_errors
    WHERE meter_id = ? ORDER BY id DESC LIMIT ?`);
  // Only registered meters count; a meter never seen is decoupled (PROTOCOL §1: not coupled).
  const selectCounts = db.prepare(`
    SELECT coalesce(c.state, 'decoupled') AS state, count(*) AS n
    FROM meters m LEFT JOIN current_state c ON c.meter_id = m.id
    GROUP BY 1`);

  const recordTx = db.transaction((change: StateChangeInput): RecordedChange => {
    const id = Number(insertHistory.run(change).lastInsertRowid);
    upsertCurrent.run({ ...change, historyId: id });
    return { ...change, id };
  });

  const protocolErrorTx = db.transaction(
    (meterId: string, receivedAt: string, error: string, stanza: string) => {
      insertProtocolError.run(meterId, receivedAt, error, truncateUtf8(stanza, MAX_STANZA_BYTES));
      pruneProtocolErrors.run({ meterId, keep: MAX_PROTOCOL_ERRORS_PER_METER });
    },
  );

  return {
    current(meterId) {
      return selectCurrent.get(meterId) as CurrentState | undefined;
    },

    allCurrent() {
      const map = new Map<string, CurrentState>();
      for (const row of selectAllCurrent.iterate() as IterableIterator<CurrentState>) {
        map.set(row.meterId, row);
      }
      return map;
    },

    record(change) {
      return recordTx(change);
    },

    touch(meterId, at) {
      // A meter never seen has no row; a heartbeat alone does not tell us its state, so there is
      // nothing to touch until its first presence or status answer is recorded.
      updateLastSeen.run(at, meterId);
    },

    history(meterId, { since, until, limit }) {
      const key = since && until ? 'both' : since ? 'since' : until ? 'until' : 'none';
      const rows = historyQueries[key].all({ meterId, since, until, limit }) as RecordedChange[];
      return since ? rows : rows.reverse();
    },

    changesAfter(historyId, limit) {
      return selectChangesAfter.all(historyId, limit) as RecordedChange[];
    },

    recordProtocolError({ meterId, receivedAt, error, stanza }) {
      protocolErrorTx(meterId, receivedAt, error, stanza);
    },

    protocolErrors(meterId, limit) {
      return selectProtocolErrors.all(meterId, limit) as ProtocolErrorRecord[];
    },

    counts() {
      const counts = Object.fromEntries(METER_STATES.map((s) => [s, 0])) as Record<
        MeterState,
        number
      >;
      for (const row of selectCounts.all() as Array<{ state: MeterState; n: number }>) {
        counts[row.state] = row.n;
      }
      return counts;
    },
  };
}

/** Cuts a string to at most `maxBytes` of UTF-8 without leaving half a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  // Step back over continuation bytes (10xxxxxx) so the cut falls on a character boundary.
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}
