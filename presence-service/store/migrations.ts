// Schema migrations, applied in order and counted by `PRAGMA user_version` (see database.ts).
// Append new entries; never edit one that has shipped, because deployed databases already ran it.

export const MIGRATIONS: readonly string[] = [
  // 1: meters, groups, state history, current state, protocol errors.
  `
  CREATE TABLE meters (
    id            TEXT PRIMARY KEY NOT NULL,
    jid           TEXT NOT NULL,
    kind          TEXT,
    email         TEXT,
    created_at    TEXT NOT NULL,
    -- Set once the service has sent its presence subscription to the meter (PROTOCOL §2).
    subscribed_at TEXT
  ) WITHOUT ROWID;
  CREATE INDEX meters_unsubscribed ON meters (id) WHERE subscribed_at IS NULL;

  -- Group names follow the meter-id pattern (PROTOCOL "Names"); membership goes with the meter.
  CREATE TABLE meter_groups (
    meter_id   TEXT NOT NULL REFERENCES meters (id) ON DELETE CASCADE,
    group_name TEXT NOT NULL,
    PRIMARY KEY (meter_id, group_name)
  ) WITHOUT ROWID;
  CREATE INDEX meter_groups_by_group ON meter_groups (group_name, meter_id);

  -- Deliberately no foreign key to meters: removing a meter must keep its history (an audit
  -- record of what the grid saw), and a cascade would silently delete it. The AUTOINCREMENT id
  -- is never reused, so it is safe as the SSE event id that clients resume from.
  CREATE TABLE state_history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    meter_id    TEXT NOT NULL,
    prev_state  TEXT CHECK (prev_state IN ('available', 'active', 'restricted', 'unavailable', 'decoupled')),
    state       TEXT NOT NULL CHECK (state IN ('available', 'active', 'restricted', 'unavailable', 'decoupled')),
    reason_code TEXT,
    reason_text TEXT,
    seq         INTEGER,
    since       TEXT,
    kind        TEXT,
    received_at TEXT NOT NULL,
    source      TEXT NOT NULL CHECK (source IN ('push', 'probe', 'query', 'server')),
    gap         INTEGER NOT NULL DEFAULT 0 CHECK (gap >= 0)
  );
  CREATE INDEX state_history_by_meter ON state_history (meter_id, received_at);

  -- One row per meter ever seen. No foreign key either: the presence path must never fail on a
  -- meter that was removed a moment ago; the registry deletes the row itself on removal.
  CREATE TABLE current_state (
    meter_id     TEXT PRIMARY KEY NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('available', 'active', 'restricted', 'unavailable', 'decoupled')),
    reason_code  TEXT,
    reason_text  TEXT,
    seq          INTEGER,
    since        TEXT,
    kind         TEXT,
    source       TEXT NOT NULL CHECK (source IN ('push', 'probe', 'query', 'server')),
    received_at  TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    history_id   INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX current_state_by_state ON current_state (state);

  CREATE TABLE protocol_errors (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    meter_id    TEXT NOT NULL,
    received_at TEXT NOT NULL,
    error       TEXT NOT NULL,
    stanza      TEXT NOT NULL
  );
  CREATE INDEX protocol_errors_by_meter ON protocol_errors (meter_id, id);
  `,
];
