/**
 * The Postgres schema, versioned in the database: `heartbeat_schema` holds one row per
 * migration applied. Each entry moves the schema from version i to i + 1; never edit one
 * that has shipped. `{s}` stands for the schema prefix (`"name".` or nothing, for the
 * connection's search_path).
 *
 * Times are wall-clock milliseconds since the epoch (bigint), as in the SQLite store.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE {s}heartbeat_meta (
    -- One row: the store-wide fencing epoch and its owner.
    id         boolean PRIMARY KEY DEFAULT true CHECK (id),
    epoch      bigint NOT NULL,
    owner      text NOT NULL,
    opened_at  timestamptz
  );
  INSERT INTO {s}heartbeat_meta (id, epoch, owner) VALUES (true, 0, '');

  CREATE TABLE {s}heartbeat_agent_state (
    agent_id    text PRIMARY KEY,
    state       jsonb NOT NULL,
    updated_at  bigint NOT NULL
  );

  CREATE TABLE {s}heartbeat_run_claim (
    agent_id          text NOT NULL,
    slot_key          text NOT NULL,
    run_id            bigint NOT NULL,
    owner             text NOT NULL,
    epoch             bigint NOT NULL,
    claimed_at        bigint NOT NULL,
    -- Seed 003: a lease is never null, so a reaper can always expire it.
    lease_expires_at  bigint NOT NULL,
    status            text NOT NULL DEFAULT 'open'
                      CHECK (status IN ('open', 'ran', 'skipped', 'failed', 'timed-out', 'aborted')),
    reason            text,
    finished_at       bigint,
    PRIMARY KEY (agent_id, slot_key)
  );
  CREATE INDEX heartbeat_run_claim_open ON {s}heartbeat_run_claim (lease_expires_at) WHERE status = 'open';
  CREATE INDEX heartbeat_run_claim_finished ON {s}heartbeat_run_claim (finished_at) WHERE status <> 'open';

  CREATE TABLE {s}heartbeat_run_history (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent_id     text NOT NULL,
    run_id       bigint NOT NULL,
    started_at   bigint NOT NULL,
    finished_at  bigint NOT NULL,
    duration_ms  bigint NOT NULL,
    status       text NOT NULL,
    reasons      jsonb NOT NULL,
    usage        jsonb,
    reason       text,
    error        text
  );
  CREATE INDEX heartbeat_run_history_agent ON {s}heartbeat_run_history (agent_id, seq DESC);
  `,
  // 2: several gateways on one database (shared mode). Lease times are the DATABASE
  // clock (timestamptz, now()), so gateways' own clocks never decide who owns an agent.
  `
  CREATE TABLE {s}heartbeat_agent_lease (
    agent_id    text PRIMARY KEY,
    -- '' while nobody holds it (never taken, or released by a clean stop).
    owner       text NOT NULL,
    -- The fencing epoch: +1 on every takeover; every write for the agent carries it.
    epoch       bigint NOT NULL,
    expires_at  timestamptz NOT NULL
  );
  CREATE INDEX heartbeat_agent_lease_owner ON {s}heartbeat_agent_lease (owner);
  CREATE INDEX heartbeat_agent_lease_expiry ON {s}heartbeat_agent_lease (expires_at);

  -- One row per live gateway, renewed with its leases: the fair share is agents / live rows.
  CREATE TABLE {s}heartbeat_gateway (
    owner       text PRIMARY KEY,
    expires_at  timestamptz NOT NULL
  );

  -- Wakes for agents another gateway owns; its owner drains them (on NOTIFY and every round).
  CREATE TABLE {s}heartbeat_wake_inbox (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent_id     text NOT NULL,
    reason       text NOT NULL,
    force        boolean NOT NULL DEFAULT false,
    coalesce_ms  integer,
    sender       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
  );
  CREATE INDEX heartbeat_wake_inbox_agent ON {s}heartbeat_wake_inbox (agent_id, seq);
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** The tables a migrated database holds (for the README and the tests). */
export const TABLES = [
  "heartbeat_schema",
  "heartbeat_meta",
  "heartbeat_agent_state",
  "heartbeat_run_claim",
  "heartbeat_run_history",
  "heartbeat_agent_lease",
  "heartbeat_gateway",
  "heartbeat_wake_inbox",
] as const;

/** Key of the transaction-level advisory lock that serialises migrators (with the schema's hash). */
export const MIGRATION_LOCK_CLASS = 0x4842_5254; // "HBRT"
