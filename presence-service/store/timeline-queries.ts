import { METER_STATES, type MeterState } from '../../src/protocol/index.js';
import type { Database } from './database.js';

// State over time, read from the append-only history (PROTOCOL §1): the fleet's counts per state
// at regular instants, one meter's states as segments of a window, and its availability per UTC
// day (docs/dashboard.md defines it). Every answer starts from the state each meter was in at
// the window's start (its last change at or before it) and replays the changes inside the window
// in order, so the cost is one index seek per meter plus the changes in the window, never the
// whole history. Times are `received_at` (the service's clock, toISOString() UTC, so text order
// is time order). A registered meter with no change before an instant was never seen then, which
// PROTOCOL §1 counts as decoupled.

export type StateCounts = Record<MeterState, number>;

export interface FleetTimeline {
  from: string;
  to: string;
  bucketMs: number;
  /** The instants, oldest first: every bucket boundary from `from`, then `to` (now). */
  at: string[];
  /** Meters per state at each instant of `at`, one array per state. */
  counts: Record<MeterState, number[]>;
  /** Registered meters (the same at every instant: today's registry). */
  meters: number;
  /** Changes replayed inside the window. */
  changes: number;
}

export interface StateSegment {
  state: MeterState;
  reasonCode: string | null;
  reasonText: string | null;
  start: string;
  end: string;
}

export interface MeterTimeline {
  meterId: string;
  from: string;
  to: string;
  /** Where the segments begin: `from`, or later if the meter was registered inside the window. */
  coveredFrom: string;
  segments: StateSegment[];
  /** More than MAX_SEGMENTS changes: the newest segments are left out (`to` is not reached). */
  truncated: boolean;
}

export interface DayAvailability {
  /** The UTC day, YYYY-MM-DD. */
  day: string;
  /** Seconds of the day in which the meter was registered (today: up to now). */
  observedS: number;
  /** Of those, seconds in available, active or restricted. */
  upS: number;
  /** upS / observedS, or null when nothing of the day was observed. */
  share: number | null;
}

export interface TimelineQueries {
  fleet(window: { from: Date; to: Date; bucketMs: number }): FleetTimeline;
  /** Undefined when the meter is neither registered nor has any history. */
  meter(meterId: string, window: { from: Date; to: Date }): MeterTimeline | undefined;
  availability(meterId: string, window: { days: number; now: Date }): DayAvailability[] | undefined;
}

/** Segments one meter timeline returns at most; a flapping meter must not make a huge answer. */
export const MAX_SEGMENTS = 5000;

/** The states that count as available: connected and able to do its job, if limited. */
export const UP_STATES: ReadonlySet<MeterState> = new Set(['available', 'active', 'restricted']);

interface ChangeRow {
  meterId: string;
  state: MeterState;
  reasonCode: string | null;
  reasonText: string | null;
  receivedAt: string;
}

const DAY_MS = 86_400_000;

export function createTimelineQueries({ db }: { db: Database }): TimelineQueries {
  // One seek per registered meter into state_history_by_meter (meter_id, received_at); the
  // rowid breaks ties between changes recorded in the same millisecond.
  const selectStatesAt = db.prepare(`
    SELECT m.id AS meterId, (
      SELECT h.state FROM state_history h
      WHERE h.meter_id = m.id AND h.received_at <= @at
      ORDER BY h.received_at DESC, h.id DESC LIMIT 1
    ) AS state
    FROM meters m`);
  const selectFleetChanges = db.prepare(`
    SELECT h.meter_id AS meterId, h.state, h.received_at AS receivedAt
    FROM meters m JOIN state_history h
      ON h.meter_id = m.id AND h.received_at > @from AND h.received_at <= @to
    ORDER BY h.received_at, h.id`);
  const selectMeterBefore = db.prepare(`
    SELECT state, reason_code AS reasonCode, reason_text AS reasonText, received_at AS receivedAt
    FROM state_history WHERE meter_id = @meterId AND received_at <= @at
    ORDER BY received_at DESC, id DESC LIMIT 1`);
  const selectMeterChanges = db.prepare(`
    SELECT state, reason_code AS reasonCode, reason_text AS reasonText, received_at AS receivedAt
    FROM state_history WHERE meter_id = @meterId AND received_at > @from AND received_at <= @to
    ORDER BY received_at, id LIMIT @limit`);
  const selectFirstChange = db
    .prepare(
      'SELECT received_at FROM state_history WHERE meter_id = ? ORDER BY received_at, id LIMIT 1',
    )
    .pluck();
  const selectCreatedAt = db.prepare('SELECT created_at FROM meters WHERE id = ?').pluck();

  /** When the meter's record begins: its registration, or its first change if it was removed. */
  function recordStart(meterId: string): string | undefined {
    const createdAt = selectCreatedAt.get(meterId) as string | undefined;
    const first = selectFirstChange.get(meterId) as string | undefined;
    if (createdAt === undefined) return first;
    // A meter re-added after removal keeps its old history: the earlier of the two.
    return first !== undefined && first < createdAt ? first : createdAt;
  }

  /** Calls `visit` for each segment of [from, to] the meter's record covers, in order. */
  function walkSegments(
    meterId: string,
    fromIso: string,
    toIso: string,
    limit: number,
    visit: (segment: StateSegment) => void,
  ): { coveredFrom: string; truncated: boolean } | undefined {
    const start = recordStart(meterId);
    if (start === undefined || start > toIso) return undefined;
    const coveredFrom = start > fromIso ? start : fromIso;
    const before = selectMeterBefore.get({ meterId, at: coveredFrom }) as ChangeRow | undefined;
    let current: Omit<StateSegment, 'end'> = before
      ? { ...pick(before), start: coveredFrom }
      : { state: 'decoupled', reasonCode: null, reasonText: null, start: coveredFrom };
    const rows = selectMeterChanges.all({
      meterId,
      from: coveredFrom,
      to: toIso,
      limit: limit + 1,
    }) as ChangeRow[];
    const truncated = rows.length > limit;
    for (const row of rows.slice(0, limit)) {
      if (row.receivedAt > current.start) visit({ ...current, end: row.receivedAt });
      current = { ...pick(row), start: row.receivedAt };
    }
    if (!truncated) visit({ ...current, end: toIso });
    return { coveredFrom, truncated };
  }

  return {
    fleet({ from, to, bucketMs }) {
      const fromIso = from.toISOString();
      const toIso = to.toISOString();
      const stateOf = new Map<string, MeterState>();
      const now = emptyCounts();
      for (const row of selectStatesAt.iterate({ at: fromIso }) as Iterable<{
        meterId: string;
        state: MeterState | null;
      }>) {
        const state = row.state ?? 'decoupled';
        stateOf.set(row.meterId, state);
        now[state] += 1;
      }

      const at: string[] = [];
      const counts = Object.fromEntries(METER_STATES.map((s) => [s, [] as number[]])) as Record<
        MeterState,
        number[]
      >;
      const emit = (instantMs: number) => {
        at.push(new Date(instantMs).toISOString());
        for (const s of METER_STATES) counts[s].push(now[s]);
      };
      let next = from.getTime();
      const end = to.getTime();
      let changes = 0;
      for (const change of selectFleetChanges.iterate({ from: fromIso, to: toIso }) as Iterable<{
        meterId: string;
        state: MeterState;
        receivedAt: string;
      }>) {
        const changeMs = Date.parse(change.receivedAt);
        // Each instant shows the states after every change at or before it.
        while (next < changeMs && next < end) {
          emit(next);
          next += bucketMs;
        }
        const previous = stateOf.get(change.meterId) ?? 'decoupled';
        now[previous] -= 1;
        now[change.state] += 1;
        stateOf.set(change.meterId, change.state);
        changes += 1;
      }
      while (next < end) {
        emit(next);
        next += bucketMs;
      }
      emit(end);
      return { from: fromIso, to: toIso, bucketMs, at, counts, meters: stateOf.size, changes };
    },

    meter(meterId, { from, to }) {
      const fromIso = from.toISOString();
      const toIso = to.toISOString();
      const segments: StateSegment[] = [];
      const walked = walkSegments(meterId, fromIso, toIso, MAX_SEGMENTS, (s) => segments.push(s));
      if (!walked) {
        // Known but registered after the window: an empty timeline, not an unknown meter.
        if (recordStart(meterId) === undefined) return undefined;
        return {
          meterId,
          from: fromIso,
          to: toIso,
          coveredFrom: toIso,
          segments,
          truncated: false,
        };
      }
      return { meterId, from: fromIso, to: toIso, ...walked, segments };
    },

    availability(meterId, { days, now }) {
      if (recordStart(meterId) === undefined) return undefined;
      const today = Math.floor(now.getTime() / DAY_MS) * DAY_MS;
      const firstDay = today - (days - 1) * DAY_MS;
      const result: DayAvailability[] = Array.from({ length: days }, (_, i) => ({
        day: new Date(firstDay + i * DAY_MS).toISOString().slice(0, 10),
        observedS: 0,
        upS: 0,
        share: null,
      }));
      const observedMs = new Array<number>(days).fill(0);
      const upMs = new Array<number>(days).fill(0);
      walkSegments(
        meterId,
        new Date(firstDay).toISOString(),
        now.toISOString(),
        Number.MAX_SAFE_INTEGER,
        (segment) => {
          // Split the segment at UTC midnights.
          let start = Date.parse(segment.start);
          const end = Date.parse(segment.end);
          while (start < end) {
            const index = Math.floor((start - firstDay) / DAY_MS);
            const dayEnd = firstDay + (index + 1) * DAY_MS;
            const piece = Math.min(end, dayEnd) - start;
            observedMs[index] = (observedMs[index] ?? 0) + piece;
            if (UP_STATES.has(segment.state)) upMs[index] = (upMs[index] ?? 0) + piece;
            start += piece;
          }
        },
      );
      for (const [i, day] of result.entries()) {
        const observed = observedMs[i] ?? 0;
        const up = upMs[i] ?? 0;
        day.observedS = Math.round(observed / 1000);
        day.upS = Math.round(up / 1000);
        day.share = observed > 0 ? Math.round((up / observed) * 10_000) / 10_000 : null;
      }
      return result;
    },
  };
}

function emptyCounts(): StateCounts {
  return Object.fromEntries(METER_STATES.map((s) => [s, 0])) as StateCounts;
}

function pick(row: ChangeRow): Pick<StateSegment, 'state' | 'reasonCode' | 'reasonText'> {
  return { state: row.state, reasonCode: row.reasonCode, reasonText: row.reasonText };
}
