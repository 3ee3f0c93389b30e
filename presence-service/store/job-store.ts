import type { RawArgs } from '../../src/protocol/commands.js';
import type { FanOutSummary, MeterResult } from '../groups/fan-out.js';
import type { Database } from './database.js';

// PROTOCOL §7: "the full per-meter results stay queryable in the presence service". A group
// command is a job; its members are written when it starts ('pending') and each meter's row is
// updated the moment it answers, so a running job can be watched and a crash leaves a truthful
// record. Finished jobs beyond `retainJobs` are deleted with their results (STYLE §9 bounded).

/** Which door a group command came through (PROTOCOL §7: chat or ad-hoc; our HTTP API). */
export const JOB_DOORS = ['chat', 'http', 'adhoc'] as const;
export type JobDoor = (typeof JOB_DOORS)[number];

export type JobStatus = 'running' | 'done' | 'interrupted';

/** A member's outcome: what the meter did (command-client.ts), not yet, or never (a restart). */
export type ResultOutcome = MeterResult['outcome']['kind'] | 'pending' | 'interrupted';

export interface NewJob {
  group: string;
  command: string;
  args: RawArgs;
  requestedBy: string;
  via: JobDoor;
  members: readonly string[];
  /** ISO 8601 UTC. */
  createdAt: string;
}

export interface JobRecord {
  id: number;
  group: string;
  command: string;
  args: RawArgs;
  requestedBy: string;
  via: JobDoor;
  /** How many meters the command was sent to. */
  members: number;
  status: JobStatus;
  createdAt: string;
  finishedAt: string | null;
  /** Null while running, and for a job the service could not finish. */
  summary: FanOutSummary | null;
}

export interface JobResultRecord {
  meterId: string;
  outcome: ResultOutcome;
  condition: string | null;
  detail: string | null;
  /** The result form's values (ok only). */
  fields: Record<string, string[]> | null;
  durationMs: number | null;
  finishedAt: string | null;
}

export interface JobStore {
  /** Records a new running job and its members as pending; returns its id. */
  create(job: NewJob): number;
  recordResult(jobId: number, result: MeterResult, at: string): void;
  finish(jobId: number, summary: FanOutSummary, at: string): void;
  /** Marks every running job (and its pending members) interrupted; returns how many. */
  interruptRunning(at: string): number;
  get(jobId: number): JobRecord | undefined;
  results(
    jobId: number,
    page: { outcome?: ResultOutcome; limit: number; offset: number },
  ): { total: number; results: JobResultRecord[] };
}

interface JobRow {
  id: number;
  group: string;
  command: string;
  argsJson: string;
  requestedBy: string;
  via: JobDoor;
  members: number;
  status: JobStatus;
  createdAt: string;
  finishedAt: string | null;
  summaryJson: string | null;
}

type ResultRow = Omit<JobResultRecord, 'fields'> & { fieldsJson: string | null };

const JOB_COLUMNS = `id, group_name AS "group", command, args_json AS argsJson,
  requested_by AS requestedBy, via, member_count AS members, status, created_at AS createdAt,
  finished_at AS finishedAt, summary_json AS summaryJson`;

const RESULT_COLUMNS = `meter_id AS meterId, outcome, condition, detail, fields_json AS fieldsJson,
  duration_ms AS durationMs, finished_at AS finishedAt`;

/** A meter's note or error text is for people; a runaway one must not fill the disk. */
const MAX_DETAIL_CHARS = 500;

export function createJobStore({
  db,
  retainJobs = 1000,
}: {
  db: Database;
  /** Finished jobs kept; the oldest beyond this are deleted when a new one starts. */
  retainJobs?: number;
}): JobStore {
  const insertJob = db.prepare(`
    INSERT INTO group_jobs
      (group_name, command, args_json, requested_by, via, member_count, status, created_at)
    VALUES (@group, @command, @argsJson, @requestedBy, @via, @members, 'running', @createdAt)`);
  const insertPending = db.prepare(
    "INSERT INTO group_job_results (job_id, meter_id, outcome) VALUES (?, ?, 'pending')",
  );
  // Only finished jobs are pruned; the cascade deletes their results.
  const pruneJobs = db.prepare(`
    DELETE FROM group_jobs WHERE status != 'running' AND id <= (
      SELECT id FROM group_jobs ORDER BY id DESC LIMIT 1 OFFSET @keep)`);
  const updateResult = db.prepare(`
    UPDATE group_job_results SET outcome = @outcome, condition = @condition, detail = @detail,
      fields_json = @fieldsJson, duration_ms = @durationMs, finished_at = @finishedAt
    WHERE job_id = @jobId AND meter_id = @meterId`);
  const updateFinished = db.prepare(`
    UPDATE group_jobs SET status = 'done', finished_at = ?, summary_json = ?
    WHERE id = ? AND status = 'running'`);
  const interruptResults = db.prepare(`
    UPDATE group_job_results SET outcome = 'interrupted', finished_at = @at
    WHERE outcome = 'pending' AND job_id IN (SELECT id FROM group_jobs WHERE status = 'running')`);
  const interruptJobs = db.prepare(
    "UPDATE group_jobs SET status = 'interrupted', finished_at = @at WHERE status = 'running'",
  );
  const selectJob = db.prepare(`SELECT ${JOB_COLUMNS} FROM group_jobs WHERE id = ?`);
  const resultQueries = {
    all: {
      count: db.prepare('SELECT count(*) FROM group_job_results WHERE job_id = @jobId').pluck(),
      page: db.prepare(`SELECT ${RESULT_COLUMNS} FROM group_job_results WHERE job_id = @jobId
        ORDER BY meter_id LIMIT @limit OFFSET @offset`),
    },
    outcome: {
      count: db
        .prepare(
          'SELECT count(*) FROM group_job_results WHERE job_id = @jobId AND outcome = @outcome',
        )
        .pluck(),
      page: db.prepare(`SELECT ${RESULT_COLUMNS} FROM group_job_results
        WHERE job_id = @jobId AND outcome = @outcome ORDER BY meter_id LIMIT @limit OFFSET @offset`),
    },
  };

  const createTx = db.transaction((job: NewJob): number => {
    const id = Number(
      insertJob.run({
        group: job.group,
        command: job.command,
        argsJson: JSON.stringify(job.args),
        requestedBy: job.requestedBy,
        via: job.via,
        members: job.members.length,
        createdAt: job.createdAt,
      }).lastInsertRowid,
    );
    for (const meterId of job.members) insertPending.run(id, meterId);
    pruneJobs.run({ keep: retainJobs });
    return id;
  });

  const interruptTx = db.transaction((at: string): number => {
    interruptResults.run({ at });
    return interruptJobs.run({ at }).changes;
  });

  return {
    create(job) {
      return createTx(job);
    },

    recordResult(jobId, { meterId, outcome, durationMs }, at) {
      const row = {
        jobId,
        meterId,
        outcome: outcome.kind,
        condition: null as string | null,
        detail: null as string | null,
        fieldsJson: null as string | null,
        durationMs,
        finishedAt: at,
      };
      switch (outcome.kind) {
        case 'ok':
          row.detail = clip(outcome.note);
          row.fieldsJson = JSON.stringify(outcome.fields);
          break;
        case 'error':
          row.condition = outcome.condition;
          row.detail = clip(outcome.text);
          break;
        case 'offline':
          row.condition = outcome.condition;
          row.detail = 'the server answered for the meter: no session';
          break;
        case 'timeout':
          row.detail = 'no answer in time';
          break;
      }
      updateResult.run(row);
    },

    finish(jobId, summary, at) {
      updateFinished.run(at, JSON.stringify(summary), jobId);
    },

    interruptRunning(at) {
      return interruptTx(at);
    },

    get(jobId) {
      const row = selectJob.get(jobId) as JobRow | undefined;
      if (!row) return undefined;
      const { argsJson, summaryJson, ...rest } = row;
      return {
        ...rest,
        args: JSON.parse(argsJson) as RawArgs,
        summary: summaryJson === null ? null : (JSON.parse(summaryJson) as FanOutSummary),
      };
    },

    results(jobId, { outcome, limit, offset }) {
      const queries = outcome === undefined ? resultQueries.all : resultQueries.outcome;
      const params = { jobId, outcome, limit, offset };
      const total = queries.count.get(params) as number;
      const rows = queries.page.all(params) as ResultRow[];
      return {
        total,
        results: rows.map(({ fieldsJson, ...rest }) => ({
          ...rest,
          fields: fieldsJson === null ? null : (JSON.parse(fieldsJson) as Record<string, string[]>),
        })),
      };
    },
  };
}

function clip(text: string): string {
  return text.length > MAX_DETAIL_CHARS ? `${text.slice(0, MAX_DETAIL_CHARS)}…` : text;
}
