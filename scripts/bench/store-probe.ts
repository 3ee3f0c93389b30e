import BetterSqlite3 from 'better-sqlite3';

// Reads the service's current-state table directly (read-only; WAL lets readers run beside the
// writer). The scenarios that ask "is every meter recorded right, and recorded since t?" over
// 10,000 meters would otherwise page the HTTP API ten times per check while the service is
// under the very load being measured. The figures themselves come from the service's writes.

export interface StoreProbe {
  /** Meters whose current state is `state` and whose record was written at or after `since`. */
  recordedSince(state: string, sinceIso: string): number;
  /** Meters heard from (any record or sign of life) at or after `since`, by current state. */
  seenSince(sinceIso: string): Record<string, number>;
  /** Current state of each of `meterIds`. */
  statesOf(meterIds: readonly string[]): Map<string, { state: string; seq: number | null }>;
  close(): void;
}

export function openStoreProbe(databasePath: string): StoreProbe {
  const db = new BetterSqlite3(databasePath, { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  const recordedSince = db.prepare(
    'SELECT count(*) AS n FROM current_state WHERE state = ? AND received_at >= ?',
  );
  const seenSince = db.prepare(
    'SELECT state, count(*) AS n FROM current_state WHERE last_seen_at >= ? GROUP BY state',
  );
  const stateOf = db.prepare('SELECT state, seq FROM current_state WHERE meter_id = ?');
  return {
    recordedSince(state, sinceIso) {
      return (recordedSince.get(state, sinceIso) as { n: number }).n;
    },
    seenSince(sinceIso) {
      const rows = seenSince.all(sinceIso) as Array<{ state: string; n: number }>;
      return Object.fromEntries(rows.map((r) => [r.state, r.n]));
    },
    statesOf(meterIds) {
      const result = new Map<string, { state: string; seq: number | null }>();
      const read = db.transaction(() => {
        for (const id of meterIds) {
          const row = stateOf.get(id) as { state: string; seq: number | null } | undefined;
          if (row) result.set(id, row);
        }
      });
      read();
      return result;
    },
    close() {
      db.close();
    },
  };
}
