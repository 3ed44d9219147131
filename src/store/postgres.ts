import type { Pool, PoolClient, PoolConfig, QueryResult, QueryResultRow } from "pg";
import { ConfigError, StoreError } from "../errors.ts";
import { MIGRATION_LOCK_CLASS, MIGRATIONS, SCHEMA_VERSION } from "./postgres-schema.ts";
import type { ClaimOutcome, ClaimResult, HeartbeatStore, RunClaim, RunRecord, StoredAgentState } from "./types.ts";
import { rowToClaim, rowToRun, type ClaimRowDb, type RunRowDb } from "./rows.ts";

interface CommonOptions {
  /**
   * A Postgres schema to keep the tables in (created on first open if missing). Default:
   * none — the tables go wherever the connection's `search_path` puts them (`public`).
   */
  readonly schema?: string;
}

export type PostgresStoreOptions = CommonOptions &
  (
    | {
        /** `postgres://user:password@host:port/database?...` (libpq-style URL). */
        readonly connectionString: string;
        /** `statement_timeout` set on every connection: a statement that runs longer fails. Default 5 s. */
        readonly statementTimeoutMs?: number;
        /** How long opening a connection may take. Default 5 s. */
        readonly connectTimeoutMs?: number;
        /** Most connections the store's own pool opens. Default 10. */
        readonly maxConnections?: number;
        /** `application_name` of the connections (pg_stat_activity). Default "heartbeat-runtime". */
        readonly applicationName?: string;
        readonly pool?: never;
      }
    | {
        /**
         * A pool the host owns. Its settings apply as they are (set `statement_timeout` in its
         * config), it is never ended by `close()`, and the host handles its `error` events.
         */
        readonly pool: Pool;
        /** Where it points, for messages; default: built from the pool's config (never its password). */
        readonly location?: string;
        readonly connectionString?: never;
      }
  );

const CLAIM_RETENTION_MS = 7 * 24 * 3_600_000;

/** node-postgres, loaded on the first open: importing the library costs nothing for hosts on other stores. */
let pgModule: Promise<{ Pool: typeof Pool }> | undefined;
const loadPg = (): Promise<{ Pool: typeof Pool }> => (pgModule ??= import("pg").then((m) => m.default));
const DEFAULT_STATEMENT_TIMEOUT_MS = 5_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** The client-side bound on an answer, past the server's own statement timeout: a half-open connection. */
const READ_GRACE_MS = 5_000;

/**
 * The networked store on node-postgres, for several gateways on one database: the same
 * contract as the SQLite store, every result a promise.
 *
 * - migrations run in one transaction, versioned in `heartbeat_schema`, serialised by a
 *   transaction-level advisory lock; a newer version than this runtime knows is refused;
 * - `open(owner)` increments the store-wide epoch (`UPDATE … RETURNING`); every write is
 *   fenced on `epoch >= current` and holds the epoch row `FOR SHARE` while it writes, so
 *   once an `open` has returned no write of an older epoch can land;
 * - a claim is `INSERT … ON CONFLICT DO NOTHING` on (agent_id, slot_key); renew raises the
 *   lease with `GREATEST` (never clears or shortens it — seed 003); reap is one `UPDATE …
 *   RETURNING`, so two reapers never return the same claim.
 *
 * Every failure is a `StoreError` naming the location (the URL without its password) and
 * the problem.
 */
export function postgresStore(options: PostgresStoreOptions): HeartbeatStore {
  if (typeof options !== "object" || options === null) throw new ConfigError("options", "must be an object");
  const schema = options.schema;
  if (schema !== undefined && !/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/.test(schema)) {
    throw new ConfigError("schema", "must be a plain identifier (letters, digits, _ and $, not starting with a digit)");
  }
  const external = options.pool;
  let statementTimeoutMs: number | undefined;
  let config: PoolConfig | undefined;
  let location: string;
  if (external !== undefined) {
    location = options.location ?? describePool(external);
  } else {
    if (typeof options.connectionString !== "string" || options.connectionString.length === 0) {
      throw new ConfigError("connectionString", "must be a non-empty string (or pass a pool)");
    }
    statementTimeoutMs = positive(options.statementTimeoutMs, DEFAULT_STATEMENT_TIMEOUT_MS, "statementTimeoutMs");
    const connectTimeoutMs = positive(options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS, "connectTimeoutMs");
    location = describeConnectionString(options.connectionString);
    config = {
      connectionString: options.connectionString,
      max: positive(options.maxConnections, 10, "maxConnections"),
      statement_timeout: statementTimeoutMs,
      idle_in_transaction_session_timeout: statementTimeoutMs + READ_GRACE_MS,
      query_timeout: statementTimeoutMs + READ_GRACE_MS,
      connectionTimeoutMillis: connectTimeoutMs,
      keepAlive: true,
      application_name: options.applicationName ?? "heartbeat-runtime",
    };
  }
  const t = tables(schema);
  const fail = (err: unknown, doing: string): StoreError => toStoreError(location, err, doing, statementTimeoutMs);

  let pool: Pool | undefined = external;
  let opened = false;
  let migrated: Promise<void> | undefined;

  const poolOf = async (): Promise<Pool> => {
    if (pool) return pool;
    const { Pool: PgPool } = await loadPg();
    if (pool) return pool;
    const created = new PgPool(config);
    // An idle connection that dies (server restart, pg_terminate_backend) is dropped by the
    // pool and replaced on the next query; without a listener its error would crash the host.
    created.on("error", () => {});
    pool = created;
    return created;
  };
  const live = (doing: string): Pool => {
    if (!opened || !pool) throw new StoreError(location, `${doing} failed: store is not open`);
    return pool;
  };
  const query = async <R extends QueryResultRow>(doing: string, text: string, values: unknown[] = []): Promise<QueryResult<R>> => {
    const p = live(doing);
    try {
      return await p.query<R>(text, values);
    } catch (err) {
      throw fail(err, doing);
    }
  };
  /** fn inside BEGIN … COMMIT on one connection; a connection that failed is discarded, not reused. */
  const transaction = async <T>(p: Pool, doing: string, fn: (c: PoolClient) => Promise<T>): Promise<T> => {
    let client: PoolClient;
    try {
      client = await p.connect();
    } catch (err) {
      throw fail(err, doing);
    }
    // Checked out, a client has no error listener: a connection lost between two
    // statements would otherwise be an uncaught error. The failing statement reports it.
    const ignore = (): void => {};
    client.on("error", ignore);
    let broken = false;
    try {
      await client.query("BEGIN");
      const result = await fn(client);
      await client.query("COMMIT");
      return result;
    } catch (err) {
      try {
        await client.query("ROLLBACK");
      } catch {
        broken = true;
      }
      throw fail(err, doing);
    } finally {
      client.removeListener("error", ignore);
      client.release(broken);
    }
  };

  const migrate = async (p: Pool): Promise<void> => {
    const read = async (q: Queryable): Promise<number> => {
      const exists = await q.query<{ t: string | null }>(`SELECT to_regclass($1)::text AS t`, [t.schemaTable]);
      if (exists.rows[0]?.t == null) return 0;
      const v = await q.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${t.schemaTable}`);
      return Number(v.rows[0]?.v ?? 0);
    };
    const tooNew = (v: number): StoreError =>
      new StoreError(location, `schema version ${v} is newer than this runtime's ${SCHEMA_VERSION}; upgrade heartbeat-runtime`);
    // Fast path, without a lock or DDL rights: already at this version.
    let version: number;
    try {
      version = await read(p);
    } catch (err) {
      throw fail(err, "opening");
    }
    if (version > SCHEMA_VERSION) throw tooNew(version);
    if (version === SCHEMA_VERSION) return;
    await transaction(p, "migrating the schema", async (c) => {
      // Serialise migrators (several gateways starting at once on a fresh database).
      await c.query(`SELECT pg_advisory_xact_lock($1, hashtext(coalesce($2, current_schema(), '')))`, [MIGRATION_LOCK_CLASS, schema ?? null]);
      if (schema !== undefined) {
        const found = await c.query(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [schema]);
        if (found.rowCount === 0) await c.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
      }
      await c.query(
        `CREATE TABLE IF NOT EXISTS ${t.schemaTable} (
           version     integer PRIMARY KEY,
           applied_at  timestamptz NOT NULL DEFAULT now()
         )`,
      );
      const current = await read(c);
      if (current > SCHEMA_VERSION) throw tooNew(current);
      for (let v = current; v < SCHEMA_VERSION; v++) {
        await c.query((MIGRATIONS[v] ?? "").replaceAll("{s}", t.prefix));
        await c.query(`INSERT INTO ${t.schemaTable} (version) VALUES ($1)`, [v + 1]);
      }
    });
  };

  // Fencing: the epoch row, held FOR SHARE for the statement, so an open() waits for
  // writes in flight and every write after it sees the new epoch.
  const fence = `fence AS (SELECT epoch FROM ${t.meta} FOR SHARE)`;
  const notFenced = (param: string): string => `(SELECT epoch FROM fence) <= ${param}::bigint`;

  return {
    location,

    async open(owner) {
      let p: Pool;
      try {
        p = await poolOf();
      } catch (err) {
        throw fail(err, "opening (loading the pg driver)");
      }
      try {
        migrated ??= migrate(p);
        await migrated;
      } catch (err) {
        migrated = undefined;
        throw err instanceof StoreError ? err : fail(err, "opening");
      }
      let r: QueryResult<{ epoch: string }>;
      try {
        r = await p.query<{ epoch: string }>(
          `UPDATE ${t.meta} SET epoch = epoch + 1, owner = $1, opened_at = now() RETURNING epoch`,
          [String(owner)],
        );
      } catch (err) {
        throw fail(err, "opening");
      }
      const row = r.rows[0];
      if (!row) throw new StoreError(location, `opening failed: ${t.meta} has no row (the database was altered by hand?)`);
      opened = true;
      return Number(row.epoch);
    },

    async loadAgents() {
      const r = await query<{ state: string }>("loading agents", `SELECT state::text AS state FROM ${t.agents} ORDER BY agent_id`);
      return r.rows.map((row) => JSON.parse(row.state) as StoredAgentState);
    },

    async saveAgents(states, epoch) {
      // One row per agent (the last state given wins), in key order so concurrent writers lock alike.
      const byId = new Map<string, StoredAgentState>();
      for (const s of states) byId.set(s.agentId, s);
      const list = [...byId.values()].sort((a, b) => (a.agentId < b.agentId ? -1 : a.agentId > b.agentId ? 1 : 0));
      const r = await query<{ epoch: string }>(
        "saving agents",
        `WITH ${fence},
         saved AS (
           INSERT INTO ${t.agents} (agent_id, state, updated_at)
           SELECT a.agent_id, a.state::jsonb, a.updated_at
           FROM unnest($2::text[], $3::text[], $4::bigint[]) AS a(agent_id, state, updated_at)
           WHERE ${notFenced("$1")}
           ON CONFLICT (agent_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at
           RETURNING 1
         )
         SELECT (SELECT epoch FROM fence) AS epoch, (SELECT count(*) FROM saved) AS written`,
        [
          int(epoch, "epoch", "saving agents", location),
          list.map((s) => s.agentId),
          list.map((s) => JSON.stringify(s)),
          list.map((s) => time(s.updatedAt, "updatedAt", "saving agents", location)),
        ],
      );
      return Number(r.rows[0]?.epoch) <= epoch;
    },

    async deleteAgents(agentIds, epoch) {
      const r = await query<{ epoch: string }>(
        "deleting agents",
        `WITH ${fence},
         deleted AS (DELETE FROM ${t.agents} WHERE agent_id = ANY($2::text[]) AND ${notFenced("$1")} RETURNING 1)
         SELECT (SELECT epoch FROM fence) AS epoch, (SELECT count(*) FROM deleted) AS deleted`,
        [int(epoch, "epoch", "deleting agents", location), [...agentIds]],
      );
      return Number(r.rows[0]?.epoch) <= epoch;
    },

    async claim(c): Promise<ClaimResult> {
      const doing = "claiming a run";
      const values = [
        c.agentId,
        c.slotKey,
        int(c.runId, "runId", doing, location),
        c.owner,
        int(c.epoch, "epoch", doing, location),
        time(c.claimedAt, "claimedAt", doing, location),
        lease(c.leaseExpiresAt, doing, location),
      ];
      const r = await query<{ epoch: string; inserted: string }>(
        doing,
        `WITH ${fence},
         inserted AS (
           INSERT INTO ${t.claims} (agent_id, slot_key, run_id, owner, epoch, claimed_at, lease_expires_at)
           SELECT $1, $2, $3, $4, $5, $6, $7 WHERE ${notFenced("$5")}
           ON CONFLICT (agent_id, slot_key) DO NOTHING
           RETURNING 1
         )
         SELECT (SELECT epoch FROM fence) AS epoch, (SELECT count(*) FROM inserted) AS inserted`,
        values,
      );
      const current = Number(r.rows[0]?.epoch);
      if (current > c.epoch) return { ok: false, reason: "fenced", currentEpoch: current };
      return Number(r.rows[0]?.inserted) === 1 ? { ok: true } : { ok: false, reason: "slot-taken" };
    },

    async renew(agentId, slotKey, epoch, leaseExpiresAt) {
      const doing = "renewing a lease";
      // Seed 003: GREATEST keeps the later expiry; a lease is never cleared or shortened.
      const r = await query(
        doing,
        `WITH ${fence}
         UPDATE ${t.claims} SET lease_expires_at = GREATEST(lease_expires_at, $4::bigint)
         WHERE agent_id = $1 AND slot_key = $2 AND status = 'open' AND epoch = $3::bigint AND ${notFenced("$3")}`,
        [agentId, slotKey, int(epoch, "epoch", doing, location), lease(leaseExpiresAt, doing, location)],
      );
      return r.rowCount === 1;
    },

    async finish(agentId, slotKey, epoch, outcome: ClaimOutcome, finishedAt) {
      const doing = "finishing a run";
      const r = await query(
        doing,
        `WITH ${fence}
         UPDATE ${t.claims} SET status = $4, finished_at = $5::bigint
         WHERE agent_id = $1 AND slot_key = $2 AND status = 'open' AND epoch = $3::bigint AND ${notFenced("$3")}`,
        [agentId, slotKey, int(epoch, "epoch", doing, location), outcome, time(finishedAt, "finishedAt", doing, location)],
      );
      return r.rowCount === 1;
    },

    async reap(now) {
      const doing = "reaping expired claims";
      const at = time(now, "now", doing, location);
      const r = await query<ClaimRowDb>(
        doing,
        `WITH reaped AS (
           UPDATE ${t.claims} SET status = 'aborted', reason = 'lease-expired', finished_at = $1::bigint
           WHERE status = 'open' AND lease_expires_at <= $1::bigint
           RETURNING agent_id, slot_key, run_id, owner, epoch, claimed_at, lease_expires_at
         ),
         pruned AS (DELETE FROM ${t.claims} WHERE status <> 'open' AND finished_at < $2::bigint RETURNING 1)
         SELECT * FROM reaped`,
        [at, at - CLAIM_RETENTION_MS],
      );
      return r.rows
        .map(rowToClaim)
        .sort((a, b) => a.leaseExpiresAt - b.leaseExpiresAt || cmp(a.agentId, b.agentId) || cmp(a.slotKey, b.slotKey));
    },

    async appendRuns(records, epoch, keepPerAgent) {
      const doing = "recording run history";
      const e = int(epoch, "epoch", doing, location);
      const keep = int(keepPerAgent, "keepPerAgent", doing, location);
      const p = live(doing);
      return transaction(p, doing, async (c) => {
        const f = await c.query<{ epoch: string }>(`SELECT epoch FROM ${t.meta} FOR SHARE`);
        if (Number(f.rows[0]?.epoch) > e) return false;
        if (records.length === 0) return true;
        await c.query(
          `INSERT INTO ${t.runs} (agent_id, run_id, started_at, finished_at, duration_ms, status, reasons, usage, reason, error)
           SELECT r.agent_id, r.run_id, r.started_at, r.finished_at, r.duration_ms, r.status, r.reasons::jsonb, r.usage::jsonb, r.reason, r.error
           FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
             WITH ORDINALITY AS r(agent_id, run_id, started_at, finished_at, duration_ms, status, reasons, usage, reason, error, n)
           ORDER BY r.n`,
          [
            records.map((r) => r.agentId),
            records.map((r) => int(r.runId, "runId", doing, location)),
            records.map((r) => time(r.startedAt, "startedAt", doing, location)),
            records.map((r) => time(r.finishedAt, "finishedAt", doing, location)),
            records.map((r) => time(r.durationMs, "durationMs", doing, location)),
            records.map((r) => r.status),
            records.map((r) => JSON.stringify(r.reasons)),
            records.map((r) => (r.usage ? JSON.stringify(r.usage) : null)),
            records.map((r) => r.reason),
            records.map((r) => r.error),
          ],
        );
        await c.query(
          `DELETE FROM ${t.runs} h USING (
             SELECT seq, row_number() OVER (PARTITION BY agent_id ORDER BY seq DESC) AS rn
             FROM ${t.runs} WHERE agent_id = ANY($1::text[])
           ) old
           WHERE h.seq = old.seq AND old.rn > $2::bigint`,
          [[...new Set(records.map((r) => r.agentId))], keep],
        );
        return true;
      });
    },

    async loadRuns(agentId, limit) {
      const doing = "loading run history";
      const r = await query<RunRowDb>(
        doing,
        `SELECT agent_id, run_id, started_at, finished_at, duration_ms, status, reasons::text AS reasons, usage::text AS usage, reason, error
         FROM ${t.runs} WHERE agent_id = $1 ORDER BY seq DESC LIMIT $2::bigint`,
        [agentId, int(limit, "limit", doing, location)],
      );
      return r.rows.map(rowToRun);
    },

    async close() {
      opened = false;
      migrated = undefined;
      if (external !== undefined) return;
      const p = pool;
      pool = undefined;
      if (!p) return;
      try {
        await p.end();
      } catch (err) {
        throw fail(err, "closing");
      }
    },
  };
}

/** What a pool and a checked-out client have in common. */
interface Queryable {
  query<R extends QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>>;
}

/** Table names, qualified by the schema when one is given. */
function tables(schema: string | undefined) {
  const prefix = schema === undefined ? "" : `${quoteIdent(schema)}.`;
  return {
    prefix,
    schemaTable: `${prefix}heartbeat_schema`,
    meta: `${prefix}heartbeat_meta`,
    agents: `${prefix}heartbeat_agent_state`,
    claims: `${prefix}heartbeat_run_claim`,
    runs: `${prefix}heartbeat_run_history`,
  };
}

const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function positive(value: number | undefined, fallback: number, field: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) throw new ConfigError(field, "must be a positive integer (milliseconds or a count)");
  return value;
}

/** A time (wall ms) for a bigint column; a value that is not a finite number is refused. */
function time(value: number, field: string, doing: string, location: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new StoreError(location, `${doing} failed: ${field} must be a finite time in ms, got ${String(value)}`);
  }
  return Math.round(value);
}

/** A lease expiry: finite (seed 003: a lease no reaper can expire is refused), rounded up, never shortened. */
function lease(value: number, doing: string, location: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new StoreError(location, `${doing} failed: the lease expiry must be a finite time in ms, got ${String(value)}`);
  }
  return Math.ceil(value);
}

function int(value: number, field: string, doing: string, location: string): number {
  if (!Number.isSafeInteger(value)) throw new StoreError(location, `${doing} failed: ${field} must be an integer, got ${String(value)}`);
  return value;
}





/**
 * Where a connection string points, without its secrets: `postgres://user@host:port/db`
 * (query parameters kept, except passwords). A keyword/value string (`host=… dbname=…`)
 * loses its `password=` pair.
 */
export function describeConnectionString(connectionString: string): string {
  const secret = (key: string): boolean => /pass/i.test(key);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(connectionString)) {
    try {
      const url = new URL(connectionString);
      url.password = "";
      for (const key of [...url.searchParams.keys()]) if (secret(key)) url.searchParams.delete(key);
      url.hash = "";
      return url.toString();
    } catch {
      return "postgres (an unparsable connection string)";
    }
  }
  return connectionString
    .replace(/\b(\w*pass\w*)\s*=\s*('(?:[^'\\]|\\.)*'|\S*)/gi, "")
    .replace(/\s+/g, " ")
    .trim();
}

function describePool(pool: Pool): string {
  const o = (pool as { options?: PoolConfig }).options ?? {};
  if (typeof o.connectionString === "string" && o.connectionString.length > 0) return describeConnectionString(o.connectionString);
  const host = o.host ?? process.env["PGHOST"] ?? "localhost";
  const port = o.port ?? process.env["PGPORT"] ?? 5432;
  const user = o.user ?? process.env["PGUSER"];
  const database = o.database ?? process.env["PGDATABASE"] ?? user ?? "";
  const hostPart = host.startsWith("/") ? encodeURIComponent(host) : host;
  return `postgres://${user ? `${encodeURIComponent(user)}@` : ""}${hostPart}:${port}/${encodeURIComponent(database)}`;
}

/** node-postgres's and Node's errors, named for what an operator can do about them. */
export function toStoreError(location: string, err: unknown, doing: string, statementTimeoutMs?: number): StoreError {
  if (err instanceof StoreError) return err;
  const first = err instanceof AggregateError && err.errors.length > 0 ? (err.errors[0] as unknown) : err;
  const code = String((first as { code?: unknown } | null)?.code ?? (err as { code?: unknown } | null)?.code ?? "");
  const message = first instanceof Error ? first.message : String(first);
  const problem = ((): string => {
    switch (code) {
      case "ECONNREFUSED":
        return "connection refused (no server is listening there)";
      case "ENOTFOUND":
      case "EAI_AGAIN":
        return "the host name cannot be resolved";
      case "ETIMEDOUT":
      case "EHOSTUNREACH":
      case "ENETUNREACH":
        return `the server cannot be reached (${code})`;
      case "ECONNRESET":
      case "EPIPE":
      case "57P01": // admin_shutdown: pg_terminate_backend, or a fast shutdown
      case "57P02": // crash_shutdown
        return `the connection to the server was lost (${message})`;
      case "57P03":
        return "the server is starting up or shutting down (cannot connect now)";
      case "57014":
        return /statement timeout/i.test(message)
          ? `statement timeout: the statement ran longer than ${statementTimeoutMs === undefined ? "the configured limit" : `${statementTimeoutMs} ms`}`
          : `the statement was cancelled (${message})`;
      case "28P01":
        return `authentication failed (${message})`;
      case "28000":
        return `not allowed to connect (${message}; see pg_hba.conf)`;
      case "3D000":
        return `the database does not exist (${message})`;
      case "3F000":
        return `the schema does not exist (${message})`;
      case "42501":
        return `permission denied (${message}); the role needs USAGE and CREATE on the schema, and DML on the heartbeat_* tables`;
      case "42P01":
        return `a heartbeat table is missing (${message}); was it dropped by hand?`;
      case "53300":
        return `too many connections (${message})`;
      case "25006":
        return `the server is read-only, a standby? (${message})`;
      case "40001":
      case "40P01":
        return `a concurrent transaction conflicted, retry (${message})`;
      default:
        break;
    }
    if (/timeout exceeded when trying to connect|connection timeout/i.test(message)) return "could not connect in time (connection timeout)";
    if (/Query read timeout/i.test(message)) return "no answer from the server in time (the connection may be lost)";
    if (/Connection terminated|not queryable|connection error/i.test(message)) return `the connection to the server was lost (${message})`;
    if (/SASL|password must be a string|client password/i.test(message)) return `authentication failed (${message})`;
    return message;
  })();
  return new StoreError(location, `${doing} failed: ${problem}${/^[0-9A-Z]{5}$/.test(code) ? ` [SQLSTATE ${code}]` : ""}`, { cause: err });
}
