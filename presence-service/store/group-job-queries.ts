import type { Database } from './database.js';

// PROTOCOL §7 jobs of one group, newest first, for the dashboard's group page: which group
// commands are running and which ran. JobStore.get() reads each job whole; this only finds them.

export interface GroupJobQueries {
  /** Ids of the group's jobs, newest first; `running` only those still running. */
  jobIds(group: string, page: { limit: number; running?: boolean }): number[];
}

export function createGroupJobQueries({ db }: { db: Database }): GroupJobQueries {
  // group_jobs_by_group (group_name, id) serves both, read backwards.
  const selectAll = db
    .prepare('SELECT id FROM group_jobs WHERE group_name = ? ORDER BY id DESC LIMIT ?')
    .pluck();
  const selectRunning = db
    .prepare(
      "SELECT id FROM group_jobs WHERE group_name = ? AND status = 'running' ORDER BY id DESC LIMIT ?",
    )
    .pluck();
  return {
    jobIds(group, { limit, running }) {
      return (running ? selectRunning : selectAll).all(group, limit) as number[];
    },
  };
}
