import type { Database } from './database.js';

// Polling schedules' memory (docs/liveness.md): one poll_runs row per run, written when the run
// starts (so a crash leaves a truthful "started, never finished") and completed with the counts
// of outcomes at its end; and the last XEP-0012 answer per meter (last_activity). Tables from
// migration 5.

export type PollKind = 'status' | 'ping' | 'last-activity' | 'email';

/** What one poll came to; a run counts each. */
export type PollResult = 'ok' | 'changed' | 'offline' | 'timeout' | 'error' | 'skipped';

export const POLL_RESULTS: readonly PollResult[] = [
  'ok',
  'changed',
  'offline',
  'timeout',
  'error',
  'skipped',
];

export type PollCounts = Record<PollResult, number>;

export function emptyCounts(): PollCounts {
  return { ok: 0, changed: 0, offline: 0, timeout: 0, error: 0, skipped: 0 };
}

export interface PollRunRecord {
  id: number;
  schedule: string;
  kind: PollKind;
  /** ISO 8601 UTC. */
  startedAt: string;
  /** Null while the run goes on. */
  finishedAt: string | null;
  /** Meters the run was to poll. */
  meters: number;
  /**
   * Null while running, and for a run the service never finished (it stopped or crashed
   * mid-run; closeUnfinished() sets finishedAt on those).
   */
  counts: PollCounts | null;
}

export interface LastActivityRecord {
  meterId: string;
  /** XEP-0012 seconds, as the server answered. */
  idleS: number;
  /** askedAt minus idleS: when the meter was last active, ISO 8601 UTC. */
  lastActiveAt: string;
  statusText: string | null;
  askedAt: string;
}

export interface PollStore {
  /** Records a run as started; returns its id. */
  startRun(run: { schedule: string; kind: PollKind; startedAt: string; meters: number }): number;
  finishRun(id: number, finishedAt: string, counts: PollCounts): void;
  /** Marks runs a previous process left unfinished as ended at `at`; returns how many. */
  closeUnfinished(at: string): number;
  /** Newest first; every schedule's when `schedule` is undefined. */
  recentRuns(schedule: string | undefined, limit: number): PollRunRecord[];
  lastRun(schedule: string): PollRunRecord | undefined;
  saveLastActivity(record: LastActivityRecord): void;
  lastActivity(meterId: string): LastActivityRecord | undefined;
}

interface RunRow extends Omit<PollRunRecord, 'counts'> {
  countsJson: string;
}

const RUN_COLUMNS = `id, schedule, kind, started_at AS startedAt, finished_at AS finishedAt,
  meters, counts_json AS countsJson`;

export function createPollStore({ db }: { db: Database }): PollStore {
  const insertRun = db.prepare(
    `INSERT INTO poll_runs (schedule, kind, started_at, meters)
     VALUES (@schedule, @kind, @startedAt, @meters)`,
  );
  const updateRun = db.prepare(
    'UPDATE poll_runs SET finished_at = ?, counts_json = ? WHERE id = ?',
  );
  const closeRuns = db.prepare('UPDATE poll_runs SET finished_at = ? WHERE finished_at IS NULL');
  const selectRecent = db.prepare(`SELECT ${RUN_COLUMNS} FROM poll_runs ORDER BY id DESC LIMIT ?`);
  const selectRecentOf = db.prepare(
    `SELECT ${RUN_COLUMNS} FROM poll_runs WHERE schedule = ? ORDER BY id DESC LIMIT ?`,
  );
  const upsertLastActivity = db.prepare(`
    INSERT INTO last_activity (meter_id, idle_s, last_active_at, status_text, asked_at)
    VALUES (@meterId, @idleS, @lastActiveAt, @statusText, @askedAt)
    ON CONFLICT (meter_id) DO UPDATE SET
      idle_s = excluded.idle_s,
      last_active_at = excluded.last_active_at,
      status_text = excluded.status_text,
      asked_at = excluded.asked_at`);
  const selectLastActivity = db.prepare(`
    SELECT meter_id AS meterId, idle_s AS idleS, last_active_at AS lastActiveAt,
      status_text AS statusText, asked_at AS askedAt
    FROM last_activity WHERE meter_id = ?`);

  return {
    startRun(run) {
      return Number(insertRun.run(run).lastInsertRowid);
    },
    finishRun(id, finishedAt, counts) {
      updateRun.run(finishedAt, JSON.stringify(counts), id);
    },
    closeUnfinished(at) {
      return closeRuns.run(at).changes;
    },
    recentRuns(schedule, limit) {
      const rows = (
        schedule === undefined ? selectRecent.all(limit) : selectRecentOf.all(schedule, limit)
      ) as RunRow[];
      return rows.map(toRecord);
    },
    lastRun(schedule) {
      const row = selectRecentOf.get(schedule, 1) as RunRow | undefined;
      return row ? toRecord(row) : undefined;
    },
    saveLastActivity(record) {
      upsertLastActivity.run(record);
    },
    lastActivity(meterId) {
      return selectLastActivity.get(meterId) as LastActivityRecord | undefined;
    },
  };
}

function toRecord({ countsJson, ...row }: RunRow): PollRunRecord {
  // The column's default '{}' stands for "no counts yet"; finishRun writes all six.
  const parsed = JSON.parse(countsJson) as Partial<PollCounts>;
  const counts = POLL_RESULTS.every((r) => typeof parsed[r] === 'number')
    ? (parsed as PollCounts)
    : null;
  return { ...row, counts };
}
