import type Database from 'better-sqlite3';

// `presence-service meters add|import` runs as its own process and writes the registry directly
// (SQLite WAL lets it, while the service runs). SQLite's data_version changes when another
// connection commits, so polling it once a second is a cheap way to hear about new meters.

export function watchForeignCommits(
  db: Database.Database,
  onChange: () => void,
  intervalMs = 1_000,
): () => void {
  let last = dataVersion(db);
  const timer = setInterval(() => {
    const now = dataVersion(db);
    if (now !== last) {
      last = now;
      onChange();
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

function dataVersion(db: Database.Database): number {
  return db.pragma('data_version', { simple: true }) as number;
}
