import { METER_STATES, type MeterState } from '../../src/protocol/index.js';
import type { Database } from './database.js';

// PROTOCOL §7 groups, read side: which groups there are, who is in each, and how their members
// are doing. A group exists only through its members (meter_groups, edited by the registry's
// setGroups): an empty group and an unknown one are the same thing.

export interface GroupSummary {
  name: string;
  /** Member meters. */
  total: number;
  /** Members per state; a meter never seen counts as decoupled (PROTOCOL §1). */
  states: Record<MeterState, number>;
}

export interface GroupDirectory {
  list(): GroupSummary[];
  get(name: string): GroupSummary | undefined;
  /** Member meter ids, sorted; empty for an unknown group. */
  members(name: string): string[];
}

interface CountRow {
  name: string;
  state: MeterState;
  n: number;
}

const COUNTS = `SELECT g.group_name AS name, coalesce(c.state, 'decoupled') AS state, count(*) AS n
  FROM meter_groups g LEFT JOIN current_state c ON c.meter_id = g.meter_id`;

export function createGroupDirectory({ db }: { db: Database }): GroupDirectory {
  const selectAll = db.prepare(`${COUNTS} GROUP BY 1, 2 ORDER BY 1`);
  const selectOne = db.prepare(`${COUNTS} WHERE g.group_name = ? GROUP BY 1, 2`);
  const selectMembers = db
    .prepare('SELECT meter_id FROM meter_groups WHERE group_name = ? ORDER BY meter_id')
    .pluck();

  return {
    list() {
      return summarise(selectAll.all() as CountRow[]);
    },
    get(name) {
      return summarise(selectOne.all(name) as CountRow[])[0];
    },
    members(name) {
      return selectMembers.all(name) as string[];
    },
  };
}

function summarise(rows: readonly CountRow[]): GroupSummary[] {
  const byName = new Map<string, GroupSummary>();
  for (const { name, state, n } of rows) {
    let group = byName.get(name);
    if (!group) {
      const states = Object.fromEntries(METER_STATES.map((s) => [s, 0])) as GroupSummary['states'];
      group = { name, total: 0, states };
      byName.set(name, group);
    }
    group.states[state] += n;
    group.total += n;
  }
  return [...byName.values()];
}
