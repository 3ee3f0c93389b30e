import { ERROR_CODES, GridpresenceError } from '../../src/errors.js';
import { type MeterState, meterBareJid } from '../../src/protocol/index.js';
import type { Database } from './database.js';
import { type MeterInput, validateGroups, validateMeterInput } from './meter-input.js';
import type { CurrentState } from './presence-store.js';

// The meters this service is responsible for: who they are, which groups they belong to, and
// whether the service has subscribed to their presence yet (PROTOCOL §2). Passwords are never
// stored here: the account lives on the XMPP server.

export interface MeterRecord {
  id: string;
  jid: string;
  kind: string | null;
  email: string | null;
  groups: string[];
  createdAt: string;
  subscribedAt: string | null;
}

export type MeterWithState = MeterRecord & { current: CurrentState | null };

export interface MeterListFilter {
  state?: MeterState;
  group?: string;
  /** Substring of the id (or bare JID), kind or e-mail (case-insensitive). */
  q?: string;
  limit: number;
  offset: number;
}

export interface MeterRegistry {
  add(input: MeterInput): MeterRecord;
  addMany(inputs: MeterInput[]): { added: number; skipped: string[] };
  remove(id: string): boolean;
  get(id: string): MeterRecord | undefined;
  ids(): string[];
  count(): number;
  list(filter: MeterListFilter): { total: number; meters: MeterWithState[] };
  unsubscribed(): string[];
  markSubscribed(id: string, at: string): void;
  setGroups(id: string, groups: string[]): void;
}

interface MeterRow {
  id: string;
  jid: string;
  kind: string | null;
  email: string | null;
  createdAt: string;
  subscribedAt: string | null;
  groupsJson: string;
}

type ListRow = MeterRow & { [K in keyof CurrentState as `c_${K}`]: CurrentState[K] | null };

const METER_COLUMNS = `m.id, m.jid, m.kind, m.email, m.created_at AS createdAt,
  m.subscribed_at AS subscribedAt,
  (SELECT json_group_array(group_name) FROM
    (SELECT group_name FROM meter_groups g WHERE g.meter_id = m.id ORDER BY group_name)
  ) AS groupsJson`;

const CURRENT_COLUMNS = `c.meter_id AS c_meterId, c.state AS c_state, c.reason_code AS c_reasonCode,
  c.reason_text AS c_reasonText, c.seq AS c_seq, c.since AS c_since, c.kind AS c_kind,
  c.source AS c_source, c.received_at AS c_receivedAt, c.last_seen_at AS c_lastSeenAt,
  c.history_id AS c_historyId`;

export function createMeterRegistry({
  db,
  now = () => new Date(),
}: {
  db: Database;
  /** The clock for `createdAt` (STYLE §7: injectable for tests). */
  now?: () => Date;
}): MeterRegistry {
  const insertMeter = db.prepare(`
    INSERT INTO meters (id, jid, kind, email, created_at) VALUES (@id, @jid, @kind, @email, @createdAt)
    ON CONFLICT (id) DO NOTHING`);
  const insertGroup = db.prepare(
    'INSERT OR IGNORE INTO meter_groups (meter_id, group_name) VALUES (?, ?)',
  );
  const deleteGroups = db.prepare('DELETE FROM meter_groups WHERE meter_id = ?');
  const deleteMeter = db.prepare('DELETE FROM meters WHERE id = ?');
  const deleteCurrent = db.prepare('DELETE FROM current_state WHERE meter_id = ?');
  const selectMeter = db.prepare(`SELECT ${METER_COLUMNS} FROM meters m WHERE m.id = ?`);
  const selectIds = db.prepare('SELECT id FROM meters ORDER BY id').pluck();
  const selectCount = db.prepare('SELECT count(*) FROM meters').pluck();
  const selectUnsubscribed = db
    .prepare('SELECT id FROM meters WHERE subscribed_at IS NULL ORDER BY id')
    .pluck();
  const updateSubscribed = db.prepare('UPDATE meters SET subscribed_at = ? WHERE id = ?');
  const existsMeter = db.prepare('SELECT 1 FROM meters WHERE id = ?').pluck();

  /** Inserts a validated meter; false if the id is taken. Must run inside a transaction. */
  function insert(input: MeterInput, createdAt: string): boolean {
    const inserted = insertMeter.run({
      id: input.id,
      jid: meterBareJid(input.id, input.domain),
      kind: input.kind ?? null,
      email: input.email ?? null,
      createdAt,
    });
    if (inserted.changes === 0) return false;
    for (const group of input.groups ?? []) insertGroup.run(input.id, group);
    return true;
  }

  const addTx = db.transaction((input: MeterInput) => insert(input, now().toISOString()));

  const addManyTx = db.transaction((inputs: MeterInput[]) => {
    const createdAt = now().toISOString();
    const skipped: string[] = [];
    let added = 0;
    for (const input of inputs) {
      if (insert(input, createdAt)) added++;
      else skipped.push(input.id);
    }
    return { added, skipped };
  });

  const removeTx = db.transaction((id: string) => {
    const removed = deleteMeter.run(id).changes > 0;
    // History stays (an audit record); the current state of a meter we no longer manage goes,
    // so that re-adding the same id starts from "never seen".
    deleteCurrent.run(id);
    return removed;
  });

  const setGroupsTx = db.transaction((id: string, groups: string[]) => {
    if (!existsMeter.get(id)) {
      throw new GridpresenceError(ERROR_CODES.METER_UNKNOWN, `meter '${id}' is not registered`);
    }
    deleteGroups.run(id);
    for (const group of groups) insertGroup.run(id, group);
  });

  // The list query depends on which filters are set; keep one prepared pair per combination.
  const listStatements = new Map<string, { count: Statement; page: Statement }>();
  function listStatementsFor(filter: MeterListFilter) {
    const where: string[] = [];
    let key = '';
    if (filter.state === 'decoupled') {
      // PROTOCOL §1: a meter never seen is not coupled to the architecture.
      where.push("(c.state IS NULL OR c.state = 'decoupled')");
      key += 'd';
    } else if (filter.state) {
      where.push('c.state = @state');
      key += 's';
    }
    if (filter.group) {
      where.push('m.id IN (SELECT meter_id FROM meter_groups WHERE group_name = @group)');
      key += 'g';
    }
    if (filter.q) {
      // instr() rather than LIKE: no wildcard escaping to get wrong.
      where.push(`(instr(m.jid, @q) > 0 OR instr(coalesce(m.kind, ''), @q) > 0
        OR instr(lower(coalesce(m.email, '')), @q) > 0)`);
      key += 'q';
    }
    let statements = listStatements.get(key);
    if (!statements) {
      const from = `FROM meters m LEFT JOIN current_state c ON c.meter_id = m.id
        ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}`;
      statements = {
        count: db.prepare(`SELECT count(*) ${from}`).pluck(),
        page: db.prepare(
          `SELECT ${METER_COLUMNS}, ${CURRENT_COLUMNS} ${from} ORDER BY m.id LIMIT @limit OFFSET @offset`,
        ),
      };
      listStatements.set(key, statements);
    }
    return statements;
  }

  return {
    add(input) {
      const value = validOrThrow(input);
      if (!addTx(value)) {
        throw new GridpresenceError(ERROR_CODES.METER_EXISTS, `meter '${value.id}' already exists`);
      }
      return this.get(value.id) as MeterRecord;
    },

    addMany(inputs) {
      // Validate everything first so a bad row cannot leave half a batch behind.
      const values = inputs.map(validOrThrow);
      return addManyTx(values);
    },

    remove(id) {
      return removeTx(id);
    },

    get(id) {
      const row = selectMeter.get(id) as MeterRow | undefined;
      return row ? toRecord(row) : undefined;
    },

    ids() {
      return selectIds.all() as string[];
    },

    count() {
      return selectCount.get() as number;
    },

    list(filter) {
      const { count, page } = listStatementsFor(filter);
      const params = {
        state: filter.state,
        group: filter.group,
        q: filter.q?.toLowerCase(),
        limit: filter.limit,
        offset: filter.offset,
      };
      // better-sqlite3 ignores named parameters a statement does not use.
      const total = count.get(params) as number;
      const rows = page.all(params) as ListRow[];
      return { total, meters: rows.map((row) => ({ ...toRecord(row), current: toCurrent(row) })) };
    },

    unsubscribed() {
      return selectUnsubscribed.all() as string[];
    },

    markSubscribed(id, at) {
      // A meter removed meanwhile simply has no row to mark.
      updateSubscribed.run(at, id);
    },

    setGroups(id, groups) {
      const checked = validateGroups(groups);
      if (!checked.ok) {
        throw new GridpresenceError(ERROR_CODES.IMPORT_INVALID, `meter '${id}': ${checked.error}`);
      }
      setGroupsTx(id, checked.value);
    },
  };
}

type Statement = ReturnType<Database['prepare']>;

function validOrThrow(input: MeterInput): MeterInput {
  const checked = validateMeterInput(input);
  if (!checked.ok) {
    throw new GridpresenceError(
      ERROR_CODES.IMPORT_INVALID,
      `meter '${input.id}': ${checked.error}`,
    );
  }
  return checked.value;
}

function toRecord(row: MeterRow): MeterRecord {
  return {
    id: row.id,
    jid: row.jid,
    kind: row.kind,
    email: row.email,
    groups: JSON.parse(row.groupsJson) as string[],
    createdAt: row.createdAt,
    subscribedAt: row.subscribedAt,
  };
}

function toCurrent(row: ListRow): CurrentState | null {
  if (row.c_meterId === null) return null;
  return {
    meterId: row.c_meterId,
    state: row.c_state as MeterState,
    reasonCode: row.c_reasonCode,
    reasonText: row.c_reasonText,
    seq: row.c_seq,
    since: row.c_since,
    kind: row.c_kind,
    source: row.c_source as CurrentState['source'],
    receivedAt: row.c_receivedAt as string,
    lastSeenAt: row.c_lastSeenAt as string,
    historyId: row.c_historyId as number,
  };
}
