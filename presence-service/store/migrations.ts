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

  // 2: data from the meters (PROTOCOL §6): readings, power-quality events and audit entries.
  // `seq` is the meter's data seq, shared by the three tables; UNIQUE (meter_id, seq) is the
  // last line of defence against duplicates (the data handler checks across the tables first).
  // `ts` is the meter's clock, normalised to toISOString() UTC so that ranges compare as text.
  // No foreign keys to meters, as with state_history: a removed meter's data stays.
  `
  CREATE TABLE readings (
    id          INTEGER PRIMARY KEY,
    meter_id    TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    ts          TEXT NOT NULL,
    received_at TEXT NOT NULL,
    delayed     INTEGER NOT NULL DEFAULT 0 CHECK (delayed IN (0, 1)),
    -- Readings the meter's outbox dropped before this one (our extension, docs/protocol.md).
    dropped     INTEGER NOT NULL DEFAULT 0 CHECK (dropped >= 0),
    -- [[obis, value, unit], ...]: one row per reading, read whole; no join on the query path.
    values_json TEXT NOT NULL,
    UNIQUE (meter_id, seq)
  );
  CREATE INDEX readings_by_time ON readings (meter_id, ts, seq);

  CREATE TABLE meter_events (
    id          INTEGER PRIMARY KEY,
    meter_id    TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    ts          TEXT NOT NULL,
    received_at TEXT NOT NULL,
    delayed     INTEGER NOT NULL DEFAULT 0 CHECK (delayed IN (0, 1)),
    type        TEXT NOT NULL
      CHECK (type IN ('sag', 'swell', 'interruption', 'thd-high', 'tamper', 'relay', 'clock')),
    phase       TEXT CHECK (phase IN ('L1', 'L2', 'L3')),
    magnitude   REAL,
    duration_ms INTEGER,
    detail      TEXT,
    UNIQUE (meter_id, seq)
  );
  CREATE INDEX meter_events_by_time ON meter_events (meter_id, ts, seq);

  CREATE TABLE audit_entries (
    id          INTEGER PRIMARY KEY,
    meter_id    TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    ts          TEXT NOT NULL,
    received_at TEXT NOT NULL,
    delayed     INTEGER NOT NULL DEFAULT 0 CHECK (delayed IN (0, 1)),
    from_jid    TEXT NOT NULL,
    via         TEXT NOT NULL CHECK (via IN ('adhoc', 'chat', 'iq')),
    command     TEXT NOT NULL,
    args_json   TEXT NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('ok', 'refused', 'failed')),
    condition   TEXT,
    detail      TEXT NOT NULL,
    UNIQUE (meter_id, seq)
  );
  CREATE INDEX audit_entries_by_time ON audit_entries (meter_id, ts, seq);
  `,

  // 3: group commands (PROTOCOL §7): one row per job, one row per member meter. A job's members
  // are written when it starts (outcome 'pending') and each row is updated as its meter answers,
  // so a job is queryable while it runs and a crash leaves a truthful record ('interrupted').
  // Membership may change later; the job keeps who it was sent to.
  `
  CREATE TABLE group_jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    group_name   TEXT NOT NULL,
    command      TEXT NOT NULL,
    args_json    TEXT NOT NULL,
    -- The sender's bare JID (chat, adhoc) or the HTTP client's address.
    requested_by TEXT NOT NULL,
    via          TEXT NOT NULL CHECK (via IN ('chat', 'http', 'adhoc')),
    member_count INTEGER NOT NULL CHECK (member_count >= 0),
    status       TEXT NOT NULL CHECK (status IN ('running', 'done', 'interrupted')),
    created_at   TEXT NOT NULL,
    finished_at  TEXT,
    -- The fan-out summary once done; NULL while running or when interrupted.
    summary_json TEXT
  );
  CREATE INDEX group_jobs_by_group ON group_jobs (group_name, id);
  CREATE INDEX group_jobs_running ON group_jobs (id) WHERE status = 'running';

  CREATE TABLE group_job_results (
    job_id      INTEGER NOT NULL REFERENCES group_jobs (id) ON DELETE CASCADE,
    meter_id    TEXT NOT NULL,
    outcome     TEXT NOT NULL
      CHECK (outcome IN ('pending', 'ok', 'error', 'timeout', 'offline', 'interrupted')),
    -- The stanza error condition (error, offline); NULL otherwise.
    condition   TEXT,
    -- The meter's note (ok), its error text (error), or what happened (timeout, offline).
    detail      TEXT,
    -- The result form's values, {var: [values]} (ok only).
    fields_json TEXT,
    duration_ms INTEGER,
    finished_at TEXT,
    PRIMARY KEY (job_id, meter_id)
  ) WITHOUT ROWID;
  `,

  // 4: demand response (docs/demand-response.md). One row per event (a group over its limit,
  // from the first shed to the release), one per decision with the reason and, for a command
  // (shed, release), the meter's answer: 'pending' until it comes, 'interrupted' if the service
  // stopped first. Decisions outside an event (a limit change) have no event_id. dr_limits
  // holds the limits operators set at run time, with the config limit each one replaced: a new
  // limit in the config file wins over an old override.
  `
  CREATE TABLE dr_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    group_name TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at   TEXT,
    peak_kw    REAL NOT NULL,
    limit_kw   REAL NOT NULL
  );
  CREATE INDEX dr_events_by_group ON dr_events (group_name, id);
  CREATE INDEX dr_events_open ON dr_events (id) WHERE ended_at IS NULL;

  CREATE TABLE dr_decisions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id   INTEGER REFERENCES dr_events (id) ON DELETE CASCADE,
    group_name TEXT NOT NULL,
    at         TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN
      ('event-start', 'shed', 'still-over', 'release', 'event-end', 'limit-change')),
    meter_id   TEXT,
    reason     TEXT NOT NULL,
    outcome    TEXT CHECK (outcome IN
      ('pending', 'ok', 'error', 'timeout', 'offline', 'interrupted')),
    -- The stanza error condition and text, or the meter's note.
    detail     TEXT
  );
  CREATE INDEX dr_decisions_by_event ON dr_decisions (event_id, id);
  CREATE INDEX dr_decisions_pending ON dr_decisions (id) WHERE outcome = 'pending';

  CREATE TABLE dr_limits (
    group_name      TEXT PRIMARY KEY NOT NULL,
    limit_kw        REAL NOT NULL,
    config_limit_kw REAL NOT NULL,
    changed_at      TEXT NOT NULL,
    changed_by      TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
  // 5: liveness (docs/liveness.md). The two state tables are rebuilt because SQLite cannot
  // widen a CHECK constraint in place: sources 'ping' (silent-death detection and ping polls) and
  // 'email' (e-mail polls) join push/probe/query/server. The rebuild keeps every id and the
  // AUTOINCREMENT high-water mark, so SSE clients resume where they were.
  `
  CREATE TABLE state_history_v5 (
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
    source      TEXT NOT NULL CHECK (source IN ('push', 'probe', 'query', 'server', 'ping', 'email')),
    gap         INTEGER NOT NULL DEFAULT 0 CHECK (gap >= 0)
  );
  INSERT INTO state_history_v5 SELECT * FROM state_history;
  -- sqlite_sequence has no key on name: add the new table's row if the copy made none, then
  -- raise it to the old table's high-water mark.
  INSERT INTO sqlite_sequence (name, seq)
    SELECT 'state_history_v5', seq FROM sqlite_sequence WHERE name = 'state_history'
    AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'state_history_v5');
  UPDATE sqlite_sequence
    SET seq = (SELECT MAX(seq) FROM sqlite_sequence WHERE name IN ('state_history', 'state_history_v5'))
    WHERE name = 'state_history_v5';
  DROP TABLE state_history;
  ALTER TABLE state_history_v5 RENAME TO state_history;
  CREATE INDEX state_history_by_meter ON state_history (meter_id, received_at);

  CREATE TABLE current_state_v5 (
    meter_id     TEXT PRIMARY KEY NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('available', 'active', 'restricted', 'unavailable', 'decoupled')),
    reason_code  TEXT,
    reason_text  TEXT,
    seq          INTEGER,
    since        TEXT,
    kind         TEXT,
    source       TEXT NOT NULL CHECK (source IN ('push', 'probe', 'query', 'server', 'ping', 'email')),
    received_at  TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    history_id   INTEGER NOT NULL
  ) WITHOUT ROWID;
  INSERT INTO current_state_v5 SELECT * FROM current_state;
  DROP TABLE current_state;
  ALTER TABLE current_state_v5 RENAME TO current_state;
  CREATE INDEX current_state_by_state ON current_state (state);

  -- XEP-0012 answers for decoupled meters: when the server last saw each one.
  CREATE TABLE last_activity (
    meter_id       TEXT PRIMARY KEY NOT NULL,
    -- The server's answer: seconds since the account was last online.
    idle_s         INTEGER NOT NULL CHECK (idle_s >= 0),
    -- asked_at minus idle_s: the moment itself, as ISO 8601 UTC.
    last_active_at TEXT NOT NULL,
    -- The status text of the meter's last unavailable presence, if the server kept one.
    status_text    TEXT,
    asked_at       TEXT NOT NULL
  ) WITHOUT ROWID;

  -- One row per run of a polling schedule (docs/liveness.md), kept for the API and metrics.
  CREATE TABLE poll_runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    schedule    TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('status', 'ping', 'last-activity', 'email')),
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    meters      INTEGER NOT NULL CHECK (meters >= 0),
    -- {ok, changed, offline, timeout, error, skipped}: counts of poll outcomes.
    counts_json TEXT NOT NULL DEFAULT '{}'
  );
  CREATE INDEX poll_runs_by_schedule ON poll_runs (schedule, id);

  -- E-mail polls (docs/liveness.md): a unique token per poll; a reply is accepted once, from the
  -- meter's registered address, before expires_at. Rejected replies are kept with the reason.
  CREATE TABLE email_polls (
    token       TEXT PRIMARY KEY NOT NULL,
    meter_id    TEXT NOT NULL,
    address     TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    sent_at     TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('pending', 'answered', 'expired', 'send-failed')),
    answered_at TEXT,
    detail      TEXT
  ) WITHOUT ROWID;
  CREATE INDEX email_polls_pending ON email_polls (expires_at) WHERE outcome = 'pending';
  CREATE INDEX email_polls_by_meter ON email_polls (meter_id, sent_at);

  CREATE TABLE email_rejects (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at TEXT NOT NULL,
    mail_from   TEXT NOT NULL,
    token       TEXT,
    meter_id    TEXT,
    reason      TEXT NOT NULL CHECK (reason IN ('late', 'forged', 'malformed', 'unknown-token', 'duplicate')),
    detail      TEXT NOT NULL
  );

  -- Alerts to operators (docs/liveness.md): one row per alert raised, whether it was sent or held
  -- back (deduplicated, rate-limited, folded into a flapping alert), and who acknowledged it.
  CREATE TABLE alerts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    meter_id    TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('decoupled', 'recovered', 'flapping')),
    raised_at   TEXT NOT NULL,
    -- The state change that raised it (state_history.id).
    history_id  INTEGER,
    state       TEXT,
    reason_code TEXT,
    text        TEXT NOT NULL,
    -- 'sent', or why not: 'duplicate', 'rate-limited', 'flapping'.
    delivery    TEXT NOT NULL CHECK (delivery IN ('sent', 'duplicate', 'rate-limited', 'flapping')),
    acked_at    TEXT,
    acked_by    TEXT
  );
  CREATE INDEX alerts_by_meter ON alerts (meter_id, id);
  CREATE INDEX alerts_open ON alerts (id) WHERE acked_at IS NULL AND delivery IN ('sent', 'rate-limited');
  `,
  // 6: access control on HTTP (docs/http-auth.md). Users with a role and a scrypt password hash
  // (never the password); sessions and API tokens are stored as SHA-256 hashes of the secret the
  // client holds, so a copy of the database lets nobody sign in. Removing a user removes their
  // sessions and tokens.
  `
  CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    role          TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    -- scrypt$<N>$<r>$<p>$<salt b64>$<hash b64>
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    -- Set when a password is changed: sessions created before it stop working.
    password_changed_at TEXT NOT NULL
  );

  CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY NOT NULL,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The double-submit value the dashboard sends back in X-CSRF-Token on every change.
    csrf_token   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    remote_addr  TEXT,
    user_agent   TEXT
  ) WITHOUT ROWID;
  CREATE INDEX sessions_by_user ON sessions (user_id);
  CREATE INDEX sessions_by_expiry ON sessions (expires_at);

  CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    label        TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    -- The first characters of the token, shown in lists so a person can tell tokens apart.
    prefix       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    expires_at   TEXT,
    revoked_at   TEXT
  );
  CREATE INDEX api_tokens_by_user ON api_tokens (user_id);
  `,
];
