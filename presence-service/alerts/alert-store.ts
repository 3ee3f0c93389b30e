import type { MeterState } from '../../src/protocol/states.js';
import type { Database } from '../store/database.js';
import type { AlertDelivery, AlertKind } from './alert-policy.js';

// Alerts on disk (migration 5, table `alerts`): every alert raised, whether it was sent or held
// back, and who acknowledged it. Statements are prepared once.
//
// "Open" means an operator still has to look at it: not acknowledged, and either sent or held
// back by the rate limit (the summary message sent them here). Duplicates and alerts folded into
// a flapping alert are covered by another alert, so they are never open.

export interface AlertRecord {
  id: number;
  meterId: string;
  kind: AlertKind;
  raisedAt: string;
  /** The state change that raised it (state_history.id). */
  historyId: number | null;
  state: MeterState | null;
  reasonCode: string | null;
  text: string;
  delivery: AlertDelivery;
  ackedAt: string | null;
  /** A bare JID (chat) or what the HTTP caller gave. */
  ackedBy: string | null;
}

export type NewAlert = Omit<AlertRecord, 'id' | 'ackedAt' | 'ackedBy'>;

export type AckResult =
  | { outcome: 'acked'; alert: AlertRecord }
  | { outcome: 'already-acked'; alert: AlertRecord }
  | { outcome: 'unknown' };

export interface AlertListFilter {
  meterId?: string;
  /** Raised at or after this instant (ISO 8601 UTC, as stored). */
  since?: string;
  /** Only open alerts. */
  open?: boolean;
  limit: number;
}

export interface AlertStore {
  /** Returns the new alert's id. */
  insert(alert: NewAlert): number;
  get(id: number): AlertRecord | undefined;
  ack(id: number, by: string, at: string): AckResult;
  /** Acknowledges every open alert; returns how many. */
  ackAll(by: string, at: string): number;
  /** Open alerts, newest first. */
  open(limit: number): AlertRecord[];
  countOpen(): number;
  /** Newest first. */
  list(filter: AlertListFilter): AlertRecord[];
}

const COLUMNS = `id, meter_id AS meterId, kind, raised_at AS raisedAt, history_id AS historyId,
  state, reason_code AS reasonCode, text, delivery, acked_at AS ackedAt, acked_by AS ackedBy`;

const OPEN = `acked_at IS NULL AND delivery IN ('sent', 'rate-limited')`;

export function createAlertStore({ db }: { db: Database }): AlertStore {
  const insert = db.prepare(`
    INSERT INTO alerts (meter_id, kind, raised_at, history_id, state, reason_code, text, delivery)
    VALUES (@meterId, @kind, @raisedAt, @historyId, @state, @reasonCode, @text, @delivery)`);
  const selectOne = db.prepare(`SELECT ${COLUMNS} FROM alerts WHERE id = ?`);
  const ackOne = db.prepare(
    'UPDATE alerts SET acked_at = @at, acked_by = @by WHERE id = @id AND acked_at IS NULL',
  );
  const ackOpen = db.prepare(`UPDATE alerts SET acked_at = @at, acked_by = @by WHERE ${OPEN}`);
  const countOpen = db.prepare(`SELECT count(*) AS n FROM alerts WHERE ${OPEN}`);
  // One statement per combination of filters, so each can use its index (alerts_by_meter).
  const lists = new Map<string, ReturnType<Database['prepare']>>();
  for (const meter of [false, true]) {
    for (const since of [false, true]) {
      for (const open of [false, true]) {
        const where = [
          meter ? 'meter_id = @meterId' : '',
          since ? 'raised_at >= @since' : '',
          open ? OPEN : '',
        ].filter((clause) => clause !== '');
        const sql = `SELECT ${COLUMNS} FROM alerts
          ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT @limit`;
        lists.set(listKey(meter, since, open), db.prepare(sql));
      }
    }
  }

  const get = (id: number) => selectOne.get(id) as AlertRecord | undefined;
  const ackTx = db.transaction((id: number, by: string, at: string): AckResult => {
    const changed = ackOne.run({ id, by, at }).changes > 0;
    const alert = get(id);
    if (!alert) return { outcome: 'unknown' };
    return { outcome: changed ? 'acked' : 'already-acked', alert };
  });
  const list = (filter: AlertListFilter) => {
    const { meterId, since, open, limit } = filter;
    const statement = lists.get(listKey(meterId !== undefined, since !== undefined, !!open));
    // better-sqlite3 refuses undefined values: bind only the filters this statement names.
    const params = { limit, ...(meterId !== undefined && { meterId }), ...(since && { since }) };
    return statement?.all(params) as AlertRecord[];
  };

  return {
    insert: (alert) => Number(insert.run(alert).lastInsertRowid),
    get,
    ack: (id, by, at) => ackTx(id, by, at),
    ackAll: (by, at) => ackOpen.run({ by, at }).changes,
    open: (limit) => list({ open: true, limit }),
    countOpen: () => (countOpen.get() as { n: number }).n,
    list,
  };
}

const listKey = (meter: boolean, since: boolean, open: boolean) =>
  `${Number(meter)}${Number(since)}${Number(open)}`;
