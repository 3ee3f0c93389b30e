import type { MeterState } from '../../src/protocol/index.js';
import type { Database } from './database.js';

// The dashboard's meter table: the registry's filters (state, group, text; the same meaning as
// MeterRegistry.list) with a sort order, one page of ids at a time. Only ids come back; the
// caller builds each row from the registry and the presence store, so the JSON of a row is the
// one every other route shows. Sorting 10,000 rows without an index is a few milliseconds.

export const METER_SORT_KEYS = ['id', 'state', 'since', 'changed', 'seen', 'kind'] as const;
export type MeterSortKey = (typeof METER_SORT_KEYS)[number];

export interface MeterTableFilter {
  state?: MeterState;
  group?: string;
  /** Substring of the id (or bare JID), kind or e-mail (case-insensitive). */
  q?: string;
  sort: MeterSortKey;
  descending: boolean;
  limit: number;
  offset: number;
}

export interface MeterTableQueries {
  page(filter: MeterTableFilter): { total: number; ids: string[] };
}

/**
 * The column each key sorts by. `state` sorts by how much the state limits the meter (PROTOCOL
 * §1 order), a meter never seen counting as decoupled; `since` is the meter's own clock when its
 * state began, `changed` when the service recorded it, `seen` its last sign of life.
 */
const SORT_COLUMNS: Record<MeterSortKey, string> = {
  id: 'm.id',
  state: `CASE coalesce(c.state, 'decoupled') WHEN 'available' THEN 0 WHEN 'active' THEN 1
    WHEN 'restricted' THEN 2 WHEN 'unavailable' THEN 3 ELSE 4 END`,
  since: 'c.since',
  changed: 'c.received_at',
  seen: 'c.last_seen_at',
  kind: 'coalesce(m.kind, c.kind)',
};

type Statement = ReturnType<Database['prepare']>;

export function createMeterTableQueries({ db }: { db: Database }): MeterTableQueries {
  // One prepared pair per combination of filters and order, built on first use (at most
  // 8 filter sets × 12 orders).
  const statements = new Map<string, { count: Statement; page: Statement }>();

  function statementsFor(filter: MeterTableFilter) {
    const key = `${filter.state === 'decoupled' ? 'd' : filter.state ? 's' : ''}${filter.group ? 'g' : ''}${filter.q ? 'q' : ''}:${filter.sort}:${filter.descending ? 'desc' : 'asc'}`;
    let found = statements.get(key);
    if (found) return found;
    const where: string[] = [];
    if (filter.state === 'decoupled') {
      // PROTOCOL §1: a meter never seen is not coupled to the architecture.
      where.push("(c.state IS NULL OR c.state = 'decoupled')");
    } else if (filter.state) {
      where.push('c.state = @state');
    }
    if (filter.group) {
      where.push('m.id IN (SELECT meter_id FROM meter_groups WHERE group_name = @group)');
    }
    if (filter.q) {
      // instr() rather than LIKE: no wildcard escaping to get wrong (as MeterRegistry.list).
      where.push(`(instr(m.jid, @q) > 0 OR instr(coalesce(m.kind, ''), @q) > 0
        OR instr(lower(coalesce(m.email, '')), @q) > 0)`);
    }
    const from = `FROM meters m LEFT JOIN current_state c ON c.meter_id = m.id
      ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}`;
    const column = SORT_COLUMNS[filter.sort];
    const direction = filter.descending ? 'DESC' : 'ASC';
    // Meters without a value (never seen) go last either way; the id keeps pages stable.
    const order = `(${column}) IS NULL, ${column} ${direction}, m.id ${direction}`;
    found = {
      count: db.prepare(`SELECT count(*) ${from}`).pluck(),
      page: db.prepare(`SELECT m.id ${from} ORDER BY ${order} LIMIT @limit OFFSET @offset`).pluck(),
    };
    statements.set(key, found);
    return found;
  }

  return {
    page(filter) {
      const { count, page } = statementsFor(filter);
      const params = {
        state: filter.state,
        group: filter.group,
        q: filter.q?.toLowerCase(),
        limit: filter.limit,
        offset: filter.offset,
      };
      // better-sqlite3 ignores named parameters a statement does not use.
      return { total: count.get(params) as number, ids: page.all(params) as string[] };
    },
  };
}
