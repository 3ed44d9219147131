/**
 * Schema migrations, versioned in the database (`PRAGMA user_version`). Each entry
 * moves the schema from version i to i + 1; never edit one that has shipped.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  INSERT INTO meta (key, value) VALUES ('epoch', '0'), ('owner', '');
  CREATE TABLE agent_state (
    agent_id   TEXT PRIMARY KEY,
    state      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE run_claim (
    agent_id          TEXT NOT NULL,
    slot_key          TEXT NOT NULL,
    run_id            INTEGER NOT NULL,
    owner             TEXT NOT NULL,
    epoch             INTEGER NOT NULL,
    claimed_at        INTEGER NOT NULL,
    -- Seed 003: a lease is never null, so a reaper can always expire it.
    lease_expires_at  INTEGER NOT NULL,
    status            TEXT NOT NULL DEFAULT 'open',
    reason            TEXT,
    finished_at       INTEGER,
    PRIMARY KEY (agent_id, slot_key)
  );
  CREATE INDEX run_claim_open ON run_claim (status, lease_expires_at);
  `,
  `
  CREATE TABLE run_history (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id     TEXT NOT NULL,
    run_id       INTEGER NOT NULL,
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER NOT NULL,
    duration_ms  INTEGER NOT NULL,
    status       TEXT NOT NULL,
    reasons      TEXT NOT NULL,
    usage        TEXT,
    reason       TEXT,
    error        TEXT
  );
  CREATE INDEX run_history_agent ON run_history (agent_id, seq);
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
