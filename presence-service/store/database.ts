import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { MIGRATIONS } from './migrations.js';

/** The better-sqlite3 connection type, named once so the other store files need not import it. */
export type Database = BetterSqlite3.Database;

/**
 * Opens (creating if needed) the service database and brings its schema up to date.
 * `':memory:'` gives a private in-memory database for tests.
 */
export function openDatabase(path: string): Database {
  const inMemory = path === ':memory:' || path === '';
  if (!inMemory) mkdirSync(dirname(path), { recursive: true });
  const db = new BetterSqlite3(path);
  try {
    // WAL lets the HTTP API read while the presence path writes; NORMAL is durable across
    // process crashes in WAL mode (only a power cut can lose the last commits), and it is what
    // makes one transaction per presence change affordable (STYLE §9).
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrate(db);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

/** Runs every migration past `PRAGMA user_version`, each in its own transaction. */
export function migrate(db: Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(
      `database schema version ${current} is newer than this program knows (${MIGRATIONS.length}); upgrade the service`,
    );
  }
  for (let version = current; version < MIGRATIONS.length; version++) {
    const sql = MIGRATIONS[version] as string;
    db.transaction(() => {
      db.exec(sql);
      // PRAGMA does not take bound parameters; `version` is our own integer.
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}
