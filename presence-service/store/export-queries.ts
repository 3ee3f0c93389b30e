import type { Database } from './database.js';
import type { ChangeSource } from './presence-store.js';

// Read side of the CSV exports (http/csv-routes.ts): a meter's state history and readings, and the
// fleet's history, for a window, page by page. Tables from migrations 1-5 (state_history,
// readings, meter_groups); nothing here writes.
//
// Why pages and not one iterator for the whole export: the service has ONE SQLite connection,
// and while a better-sqlite3 iterator is open that connection is busy: every other statement,
// the presence path's writes included, throws "This database connection is busy executing a
// query". An export streams to a client at the client's pace, so an iterator held across the
// stream's waits would stop the service. Each page is one statement, iterated to its end (and so
// closed) before the page is handed out; the next page starts after the last row of the previous
// one (keyset paging: an index seek, not an OFFSET that rescans).

/** Inclusive bounds, ISO 8601 UTC with milliseconds (toISOString), as the tables store times. */
export interface ExportWindow {
  since: string;
  until: string;
}

/** One row of state_history, as the export writes it. */
export interface HistoryExportRow {
  id: number;
  meterId: string;
  prevState: string | null;
  state: string;
  reasonCode: string | null;
  reasonText: string | null;
  seq: number | null;
  since: string | null;
  receivedAt: string;
  source: ChangeSource;
  gap: number;
}

/** One row of readings; `valuesJson` is `[[obis, value, unit], …]` (migration 3). */
export interface ReadingExportRow {
  seq: number;
  ts: string;
  receivedAt: string;
  delayed: number;
  dropped: number;
  valuesJson: string;
}

export interface ExportQueries {
  hasHistory(meterId: string): boolean;
  hasReadings(meterId: string): boolean;
  /** A group exists through its members (group-directory.ts). */
  groupExists(group: string): boolean;
  /** The meter's changes whose received_at is in the window, oldest first, in pages. */
  meterHistory(
    meterId: string,
    window: ExportWindow,
    pageSize: number,
  ): Generator<HistoryExportRow[]>;
  /**
   * Every meter's changes in the window (a group's members only, if given): meter by meter in id
   * order, each oldest first. Pages may be empty (a stretch of meters without changes), so the
   * caller can yield between them however sparse the window.
   */
  fleetHistory(
    window: ExportWindow,
    group: string | undefined,
    pageSize: number,
  ): Generator<HistoryExportRow[]>;
  /** The meter's readings whose ts (the meter's clock) is in the window, oldest first, in pages. */
  meterReadings(
    meterId: string,
    window: ExportWindow,
    pageSize: number,
  ): Generator<ReadingExportRow[]>;
}

const HISTORY_COLUMNS = `id, meter_id AS meterId, prev_state AS prevState, state,
  reason_code AS reasonCode, reason_text AS reasonText, seq, since, received_at AS receivedAt,
  source, gap`;

/** Meters visited per fleet page at most, so a window with few changes still yields often. */
const METERS_PER_PAGE = 256;

export function createExportQueries({ db }: { db: Database }): ExportQueries {
  const anyHistory = db
    .prepare('SELECT EXISTS (SELECT 1 FROM state_history WHERE meter_id = ?)')
    .pluck();
  const anyReading = db
    .prepare('SELECT EXISTS (SELECT 1 FROM readings WHERE meter_id = ?)')
    .pluck();
  const anyMember = db
    .prepare('SELECT EXISTS (SELECT 1 FROM meter_groups WHERE group_name = ?)')
    .pluck();
  // Row values follow the index state_history_by_meter (meter_id, received_at, rowid): starting
  // at (since, -1) is `received_at >= since`, and each next page starts after the last row.
  const historyPage = db.prepare(`
    SELECT ${HISTORY_COLUMNS} FROM state_history
    WHERE meter_id = @meterId AND (received_at, id) > (@afterAt, @afterId)
      AND received_at <= @until
    ORDER BY received_at, id LIMIT @limit`);
  // The next meter with any history after @after: a seek on the index, so listing the meters
  // costs one step per meter, not a scan of the history (SQLite has no loose index scan).
  const nextHistoryMeter = db
    .prepare('SELECT meter_id FROM state_history WHERE meter_id > ? ORDER BY meter_id LIMIT 1')
    .pluck();
  const nextGroupMember = db
    .prepare(
      `SELECT meter_id FROM meter_groups WHERE group_name = ? AND meter_id > ?
       ORDER BY meter_id LIMIT 1`,
    )
    .pluck();
  // readings_by_time (meter_id, ts, seq).
  const readingPage = db.prepare(`
    SELECT seq, ts, received_at AS receivedAt, delayed, dropped, values_json AS valuesJson
    FROM readings
    WHERE meter_id = @meterId AND (ts, seq) > (@afterTs, @afterSeq) AND ts <= @until
    ORDER BY ts, seq LIMIT @limit`);

  /** One page of a meter's history, read to its end so the statement is closed on return. */
  const readHistoryPage = (
    meterId: string,
    after: { at: string; id: number },
    until: string,
    limit: number,
  ): HistoryExportRow[] => {
    const rows: HistoryExportRow[] = [];
    const params = { meterId, afterAt: after.at, afterId: after.id, until, limit };
    for (const row of historyPage.iterate(params) as IterableIterator<HistoryExportRow>) {
      rows.push(row);
    }
    return rows;
  };

  function* meterHistory(
    meterId: string,
    window: ExportWindow,
    pageSize: number,
  ): Generator<HistoryExportRow[]> {
    let after = { at: window.since, id: -1 };
    for (;;) {
      const page = readHistoryPage(meterId, after, window.until, pageSize);
      if (page.length > 0) yield page;
      const last = page.at(-1);
      if (!last || page.length < pageSize) return;
      after = { at: last.receivedAt, id: last.id };
    }
  }

  function* fleetHistory(
    window: ExportWindow,
    group: string | undefined,
    pageSize: number,
  ): Generator<HistoryExportRow[]> {
    const nextMeter = (after: string): string | undefined =>
      (group === undefined ? nextHistoryMeter.get(after) : nextGroupMember.get(group, after)) as
        | string
        | undefined;
    let page: HistoryExportRow[] = [];
    let visited = 0;
    // '' sorts before every meter id.
    for (let meterId = nextMeter(''); meterId !== undefined; meterId = nextMeter(meterId)) {
      for (const rows of meterHistory(meterId, window, pageSize)) {
        page.push(...rows);
        if (page.length >= pageSize) {
          yield page;
          page = [];
          visited = 0;
        }
      }
      if (++visited >= METERS_PER_PAGE) {
        yield page;
        page = [];
        visited = 0;
      }
    }
    if (page.length > 0) yield page;
  }

  function* meterReadings(
    meterId: string,
    window: ExportWindow,
    pageSize: number,
  ): Generator<ReadingExportRow[]> {
    let after = { ts: window.since, seq: -1 };
    for (;;) {
      const page: ReadingExportRow[] = [];
      const params = {
        meterId,
        afterTs: after.ts,
        afterSeq: after.seq,
        until: window.until,
        limit: pageSize,
      };
      for (const row of readingPage.iterate(params) as IterableIterator<ReadingExportRow>) {
        page.push(row);
      }
      if (page.length > 0) yield page;
      const last = page.at(-1);
      if (!last || page.length < pageSize) return;
      after = { ts: last.ts, seq: last.seq };
    }
  }

  return {
    hasHistory: (meterId) => anyHistory.get(meterId) === 1,
    hasReadings: (meterId) => anyReading.get(meterId) === 1,
    groupExists: (group) => anyMember.get(group) === 1,
    meterHistory,
    fleetHistory,
    meterReadings,
  };
}
