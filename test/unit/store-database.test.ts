import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../presence-service/store/database.js';
import { MIGRATIONS } from '../../presence-service/store/migrations.js';

describe('openDatabase', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('creates the parent directory, uses WAL and applies every migration once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gp-db-'));
    dirs.push(dir);
    const path = join(dir, 'nested', 'presence.db');
    const db = openDatabase(path);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
    expect(db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    db.prepare("INSERT INTO meters (id, jid, created_at) VALUES ('m-1', 'm-1@x', 'now')").run();
    db.close();

    // Reopening must not re-run migrations (they would fail on existing tables) or lose data.
    const again = openDatabase(path);
    expect(again.prepare('SELECT count(*) FROM meters').pluck().get()).toBe(1);
    again.close();
  });

  it('works in memory', () => {
    const db = openDatabase(':memory:');
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .pluck()
      .all();
    expect(tables).toEqual(
      expect.arrayContaining([
        'current_state',
        'meter_groups',
        'meters',
        'protocol_errors',
        'state_history',
      ]),
    );
    db.close();
  });

  it('refuses a database written by a newer schema', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gp-db-'));
    dirs.push(dir);
    const path = join(dir, 'presence.db');
    const db = openDatabase(path);
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    expect(() => openDatabase(path)).toThrow(/newer/);
  });
});
