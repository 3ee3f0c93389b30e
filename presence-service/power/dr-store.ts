import type { Database } from '../store/database.js';
import type { DecisionKind } from './demand-response.js';

// Demand response on disk (migration 4): events, every decision with its reason and the meter's
// answer, and the limits operators set at run time. Statements are prepared once.

export type DecisionOutcome = 'pending' | 'ok' | 'error' | 'timeout' | 'offline' | 'interrupted';

export interface DrEventView {
  id: number;
  group: string;
  startedAt: string;
  endedAt: string | null;
  peakKw: number;
  limitKw: number;
}

export interface DrDecisionView {
  id: number;
  eventId: number | null;
  group: string;
  at: string;
  kind: DecisionKind;
  meterId: string | null;
  reason: string;
  outcome: DecisionOutcome | null;
  detail: string | null;
}

export interface LimitOverride {
  limitKw: number;
  configLimitKw: number;
  changedAt: string;
  changedBy: string;
}

export interface DrStore {
  startEvent(input: { group: string; at: string; limitKw: number; peakKw: number }): number;
  /** The event's peak so far; its limit_kw stays the one it started under. */
  updatePeak(id: number, peakKw: number): void;
  endEvent(id: number, at: string, peakKw: number): void;
  addDecision(input: Omit<DrDecisionView, 'id'>): number;
  setOutcome(id: number, outcome: DecisionOutcome, detail: string | null): void;
  /** At start: events a previous run left open are ended, its pending commands interrupted. */
  closeInterrupted(at: string): { events: number; decisions: number };
  events(input: { group?: string; limit: number }): DrEventView[];
  event(id: number): DrEventView | undefined;
  decisions(eventId: number): DrDecisionView[];
  limitOverrides(): Map<string, LimitOverride>;
  saveLimit(group: string, override: LimitOverride): void;
}

const EVENT_COLUMNS = `id, group_name AS "group", started_at AS startedAt, ended_at AS endedAt,
  peak_kw AS peakKw, limit_kw AS limitKw`;
const DECISION_COLUMNS = `id, event_id AS eventId, group_name AS "group", at, kind,
  meter_id AS meterId, reason, outcome, detail`;

export function createDrStore({ db }: { db: Database }): DrStore {
  const insertEvent = db.prepare(`
    INSERT INTO dr_events (group_name, started_at, peak_kw, limit_kw)
    VALUES (@group, @at, @peakKw, @limitKw)`);
  const updatePeak = db.prepare('UPDATE dr_events SET peak_kw = @peakKw WHERE id = @id');
  const endEvent = db.prepare(
    'UPDATE dr_events SET ended_at = @at, peak_kw = @peakKw WHERE id = @id',
  );
  const insertDecision = db.prepare(`
    INSERT INTO dr_decisions (event_id, group_name, at, kind, meter_id, reason, outcome, detail)
    VALUES (@eventId, @group, @at, @kind, @meterId, @reason, @outcome, @detail)`);
  const setOutcome = db.prepare(
    'UPDATE dr_decisions SET outcome = @outcome, detail = @detail WHERE id = @id',
  );
  const closeEvents = db.prepare('UPDATE dr_events SET ended_at = ? WHERE ended_at IS NULL');
  const interruptDecisions = db.prepare(
    `UPDATE dr_decisions SET outcome = 'interrupted', detail = 'the service stopped first'
     WHERE outcome = 'pending'`,
  );
  const selectEvents = db.prepare(
    `SELECT ${EVENT_COLUMNS} FROM dr_events ORDER BY id DESC LIMIT @limit`,
  );
  const selectGroupEvents = db.prepare(
    `SELECT ${EVENT_COLUMNS} FROM dr_events WHERE group_name = @group ORDER BY id DESC LIMIT @limit`,
  );
  const selectEvent = db.prepare(`SELECT ${EVENT_COLUMNS} FROM dr_events WHERE id = ?`);
  const selectDecisions = db.prepare(
    `SELECT ${DECISION_COLUMNS} FROM dr_decisions WHERE event_id = ? ORDER BY id`,
  );
  const selectLimits = db.prepare(`
    SELECT group_name AS "group", limit_kw AS limitKw, config_limit_kw AS configLimitKw,
      changed_at AS changedAt, changed_by AS changedBy FROM dr_limits`);
  const upsertLimit = db.prepare(`
    INSERT INTO dr_limits (group_name, limit_kw, config_limit_kw, changed_at, changed_by)
    VALUES (@group, @limitKw, @configLimitKw, @changedAt, @changedBy)
    ON CONFLICT (group_name) DO UPDATE SET limit_kw = excluded.limit_kw,
      config_limit_kw = excluded.config_limit_kw, changed_at = excluded.changed_at,
      changed_by = excluded.changed_by`);
  const closeTx = db.transaction((at: string) => ({
    events: closeEvents.run(at).changes,
    decisions: interruptDecisions.run().changes,
  }));

  return {
    startEvent: (input) => Number(insertEvent.run(input).lastInsertRowid),
    updatePeak: (id, peakKw) => void updatePeak.run({ id, peakKw }),
    endEvent: (id, at, peakKw) => void endEvent.run({ id, at, peakKw }),
    addDecision: (input) => Number(insertDecision.run(input).lastInsertRowid),
    setOutcome: (id, outcome, detail) => void setOutcome.run({ id, outcome, detail }),
    closeInterrupted: (at) => closeTx(at),
    events: ({ group, limit }) =>
      (group
        ? selectGroupEvents.all({ group, limit })
        : selectEvents.all({ limit })) as DrEventView[],
    event: (id) => selectEvent.get(id) as DrEventView | undefined,
    decisions: (eventId) => selectDecisions.all(eventId) as DrDecisionView[],
    limitOverrides() {
      const rows = selectLimits.all() as Array<LimitOverride & { group: string }>;
      return new Map(rows.map(({ group, ...override }) => [group, override]));
    },
    saveLimit: (group, override) => void upsertLimit.run({ group, ...override }),
  };
}
