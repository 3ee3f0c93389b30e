import type { AuditItem, DataItem, DataKind, EventItem } from '../../src/protocol/data.js';
import type { Database } from '../store/database.js';

// What the meters reported (PROTOCOL §6 and our audit extension): one row per reading, event or
// audit entry, each with the meter's data seq. A seq is stored once per meter, whatever its kind:
// a repeat with the same kind and ts is a duplicate (an outbox replay) and is dropped; a repeat
// that differs is a conflict (the meter reused a seq) and is refused. Statements are prepared
// once; a record is one transaction (STYLE §9).

export interface ArrivalMeta {
  /** ISO 8601 UTC with milliseconds, when the service received it. */
  receivedAt: string;
  /** It came with XEP-0203 <delay/>: sent late from the meter's outbox. */
  delayed: boolean;
}

export type RecordResult =
  | { status: 'stored' }
  | { status: 'duplicate' }
  | { status: 'conflict'; existing: { kind: DataKind; ts: string } };

interface ItemView {
  seq: number;
  /** The meter's clock, UTC. */
  ts: string;
  receivedAt: string;
  delayed: boolean;
}

export interface ReadingView extends ItemView {
  /** Readings the meter dropped from its full outbox just before this one. */
  dropped: number;
  values: Array<{ id: string; value: string; unit: string }>;
}

export interface EventView extends ItemView {
  type: EventItem['type'];
  phase: string | null;
  magnitude: number | null;
  durationMs: number | null;
  detail: string | null;
}

export interface AuditView extends ItemView {
  from: string;
  via: AuditItem['via'];
  command: string;
  args: Record<string, string[]>;
  outcome: AuditItem['outcome'];
  condition: string | null;
  detail: string;
}

/** `since`/`until` bound the meter's ts (inclusive); without `since` the newest come. */
export interface DataRange {
  since?: string;
  until?: string;
  limit: number;
}

/** A group member's newest reading (by the meter's ts) and when the one before it was taken. */
export interface LatestReading {
  meterId: string;
  /** Null when the meter has no reading. */
  ts: string | null;
  previousTs: string | null;
  values: Array<{ id: string; value: string; unit: string }>;
}

export interface DataStore {
  record(meterId: string, item: DataItem, meta: ArrivalMeta): RecordResult;
  /** The highest data seq stored for the meter; 0 if none. */
  maxSeq(meterId: string): number;
  hasData(meterId: string): boolean;
  readings(meterId: string, range: DataRange): ReadingView[];
  events(meterId: string, range: DataRange): EventView[];
  audit(meterId: string, range: DataRange): AuditView[];
  /** Every member of the group with its newest reading; members sorted by id. */
  latestReadings(group: string): LatestReading[];
}

const TABLES = { reading: 'readings', event: 'meter_events', audit: 'audit_entries' } as const;

const COMMON = `seq, ts, received_at AS receivedAt, delayed`;
const COLUMNS = {
  reading: `${COMMON}, dropped, values_json AS valuesJson`,
  event: `${COMMON}, type, phase, magnitude, duration_ms AS durationMs, detail`,
  audit: `${COMMON}, from_jid AS "from", via, command, args_json AS argsJson, outcome, condition,
    detail`,
} as const;

export function createDataStore({ db }: { db: Database }): DataStore {
  const insert = {
    reading: db.prepare(`
      INSERT INTO readings (meter_id, seq, ts, received_at, delayed, dropped, values_json)
      VALUES (@meterId, @seq, @ts, @receivedAt, @delayed, @dropped, @valuesJson)
      ON CONFLICT (meter_id, seq) DO NOTHING`),
    event: db.prepare(`
      INSERT INTO meter_events
        (meter_id, seq, ts, received_at, delayed, type, phase, magnitude, duration_ms, detail)
      VALUES (@meterId, @seq, @ts, @receivedAt, @delayed, @type, @phase, @magnitude, @durationMs,
        @detail)
      ON CONFLICT (meter_id, seq) DO NOTHING`),
    audit: db.prepare(`
      INSERT INTO audit_entries (meter_id, seq, ts, received_at, delayed, from_jid, via, command,
        args_json, outcome, condition, detail)
      VALUES (@meterId, @seq, @ts, @receivedAt, @delayed, @from, @via, @command, @argsJson,
        @outcome, @condition, @detail)
      ON CONFLICT (meter_id, seq) DO NOTHING`),
  };
  const findSeq = db.prepare(`
    SELECT 'reading' AS kind, ts FROM readings WHERE meter_id = @meterId AND seq = @seq
    UNION ALL SELECT 'event', ts FROM meter_events WHERE meter_id = @meterId AND seq = @seq
    UNION ALL SELECT 'audit', ts FROM audit_entries WHERE meter_id = @meterId AND seq = @seq`);
  const selectMaxSeq = db
    .prepare(`
      SELECT max(
        coalesce((SELECT max(seq) FROM readings WHERE meter_id = @meterId), 0),
        coalesce((SELECT max(seq) FROM meter_events WHERE meter_id = @meterId), 0),
        coalesce((SELECT max(seq) FROM audit_entries WHERE meter_id = @meterId), 0))`)
    .pluck();
  const selectAny = db
    .prepare(`
      SELECT EXISTS (SELECT 1 FROM readings WHERE meter_id = @meterId)
        OR EXISTS (SELECT 1 FROM meter_events WHERE meter_id = @meterId)
        OR EXISTS (SELECT 1 FROM audit_entries WHERE meter_id = @meterId)`)
    .pluck();

  // Two index seeks per member on readings_by_time (meter_id, ts, seq), newest first: the cost
  // grows with the group, not with the history.
  const selectLatest = db.prepare(`
    SELECT g.meter_id AS meterId, r.ts AS ts, r.values_json AS valuesJson,
      (SELECT p.ts FROM readings p WHERE p.meter_id = g.meter_id AND p.ts < r.ts
        ORDER BY p.ts DESC LIMIT 1) AS previousTs
    FROM meter_groups g
    LEFT JOIN readings r ON r.id = (SELECT l.id FROM readings l WHERE l.meter_id = g.meter_id
      ORDER BY l.ts DESC, l.seq DESC LIMIT 1)
    WHERE g.group_name = ?
    ORDER BY g.meter_id`);

  // Four shapes of range per kind, prepared on first use.
  const rangeQueries = new Map<string, ReturnType<Database['prepare']>>();
  const rangeQuery = (kind: DataKind, range: DataRange) => {
    const key = `${kind}:${range.since ? 's' : ''}${range.until ? 'u' : ''}`;
    let statement = rangeQueries.get(key);
    if (!statement) {
      const where = ['meter_id = @meterId'];
      if (range.since) where.push('ts >= @since');
      if (range.until) where.push('ts <= @until');
      const order = range.since ? 'ASC' : 'DESC';
      statement = db.prepare(
        `SELECT ${COLUMNS[kind]} FROM ${TABLES[kind]} WHERE ${where.join(' AND ')}
         ORDER BY ts ${order}, seq ${order} LIMIT @limit`,
      );
      rangeQueries.set(key, statement);
    }
    return statement;
  };
  const select = <T>(kind: DataKind, meterId: string, range: DataRange): T[] => {
    const rows = rangeQuery(kind, range).all({
      meterId,
      since: range.since,
      until: range.until,
      limit: range.limit,
    }) as T[];
    // Read backwards for the newest, returned oldest first like every list in the API.
    return range.since ? rows : rows.reverse();
  };

  const recordTx = db.transaction(
    (meterId: string, item: DataItem, meta: ArrivalMeta): RecordResult => {
      const existing = findSeq.get({ meterId, seq: item.seq }) as
        | { kind: DataKind; ts: string }
        | undefined;
      const ts = new Date(item.ts).toISOString();
      if (existing) {
        return existing.kind === item.kind && existing.ts === ts
          ? { status: 'duplicate' }
          : { status: 'conflict', existing };
      }
      const common = {
        meterId,
        seq: item.seq,
        ts,
        receivedAt: meta.receivedAt,
        delayed: meta.delayed ? 1 : 0,
      };
      switch (item.kind) {
        case 'reading':
          insert.reading.run({
            ...common,
            dropped: item.dropped ?? 0,
            valuesJson: JSON.stringify(item.values.map((v) => [v.id, v.value, v.unit])),
          });
          break;
        case 'event':
          insert.event.run({
            ...common,
            type: item.type,
            phase: item.phase ?? null,
            magnitude: item.magnitude ?? null,
            durationMs: item.durationMs ?? null,
            detail: item.detail ?? null,
          });
          break;
        case 'audit':
          insert.audit.run({
            ...common,
            from: item.from,
            via: item.via,
            command: item.command,
            argsJson: JSON.stringify(item.args),
            outcome: item.outcome,
            condition: item.condition ?? null,
            detail: item.detail,
          });
          break;
      }
      return { status: 'stored' };
    },
  );

  return {
    record: (meterId, item, meta) => recordTx(meterId, item, meta),
    maxSeq: (meterId) => selectMaxSeq.get({ meterId }) as number,
    hasData: (meterId) => selectAny.get({ meterId }) === 1,

    readings(meterId, range) {
      return select<ItemRow & { dropped: number; valuesJson: string }>(
        'reading',
        meterId,
        range,
      ).map(({ valuesJson, ...row }) => ({
        ...itemView(row),
        dropped: row.dropped,
        values: (JSON.parse(valuesJson) as Array<[string, string, string]>).map(
          ([id, value, unit]) => ({ id, value, unit }),
        ),
      }));
    },

    events(meterId, range) {
      return select<ItemRow & Omit<EventView, keyof ItemView>>('event', meterId, range).map(
        (row) => ({ ...row, ...itemView(row) }),
      );
    },

    latestReadings(group) {
      const rows = selectLatest.all(group) as Array<{
        meterId: string;
        ts: string | null;
        previousTs: string | null;
        valuesJson: string | null;
      }>;
      return rows.map(({ valuesJson, ...row }) => ({
        ...row,
        values: valuesJson
          ? (JSON.parse(valuesJson) as Array<[string, string, string]>).map(
              ([id, value, unit]) => ({
                id,
                value,
                unit,
              }),
            )
          : [],
      }));
    },

    audit(meterId, range) {
      return select<ItemRow & Omit<AuditView, keyof ItemView | 'args'> & { argsJson: string }>(
        'audit',
        meterId,
        range,
      ).map(({ argsJson, ...row }) => ({
        ...row,
        ...itemView(row),
        args: JSON.parse(argsJson) as Record<string, string[]>,
      }));
    },
  };
}

interface ItemRow {
  seq: number;
  ts: string;
  receivedAt: string;
  delayed: number;
}

function itemView(row: ItemRow): ItemView {
  return { seq: row.seq, ts: row.ts, receivedAt: row.receivedAt, delayed: row.delayed === 1 };
}
