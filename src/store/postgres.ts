import type { Pool, PoolClient, PoolConfig, QueryResult, QueryResultRow } from "pg";
import { ConfigError, StoreError } from "../errors.ts";
import { claimOps } from "./postgres-claims.ts";
import { describeConnectionString, describePool, toStoreError } from "./postgres-errors.ts";
import { ownershipOf, resolveShared, type SharedOptions } from "./postgres-leases.ts";
import { MIGRATION_LOCK_CLASS, MIGRATIONS, SCHEMA_VERSION } from "./postgres-schema.ts";
import { positive, quoteIdent, tables, type PgContext, type Queryable } from "./postgres-sql.ts";
import { stateOps } from "./postgres-state.ts";
import type { HeartbeatStore } from "./types.ts";

export { describeConnectionString, toStoreError } from "./postgres-errors.ts";

interface CommonOptions {
  /**
   * A Postgres schema to keep the tables in (created on first open if missing). Default:
   * none — the tables go wherever the connection's `search_path` puts them (`public`).
   */
  readonly schema?: string;
  /**
   * Several gateways on this database, each agent served by one of them under a lease
   * (README, "Several gateways"): `true` for the defaults (lease 15 s, renewed every 5 s).
   * Default false: one gateway owns the whole store (the store-wide epoch fences a stale one).
   */
  readonly shared?: boolean | SharedOptions;
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
  const shared = resolveShared(options.shared);
  const fail = (err: unknown, doing: string): StoreError => toStoreError(location, err, doing, statementTimeoutMs);

  let pool: Pool | undefined = external;
  /** Shared mode: lease rounds and the wake listener on connections of their own (see PgContext.lane). */
  let lanePool: Pool | undefined = external;
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
    if (shared) {
      lanePool = new PgPool({ ...config, max: 3, application_name: `${config?.application_name ?? "heartbeat-runtime"} (leases)` });
      lanePool.on("error", () => {});
    }
    return created;
  };
  const live = (doing: string): Pool => {
    if (!opened || !pool) throw new StoreError(location, `${doing} failed: store is not open`);
    return pool;
  };
  const lane = (doing: string): Pool => {
    live(doing);
    return lanePool ?? live(doing);
  };
  const query = async <R extends QueryResultRow>(doing: string, text: string, values: unknown[] = [], p = live(doing)): Promise<QueryResult<R>> => {
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

  const ctx: PgContext = {
    location,
    schema,
    t,
    live,
    poolOf,
    query,
    lane,
    leaseQuery: (doing, text, values = []) => query(doing, text, values, lane(doing)),
    transaction: (doing, fn) => transaction(live(doing), doing, fn),
    fail,
  };

  const store: HeartbeatStore = {
    location,
    ...stateOps(ctx),
    ...claimOps(ctx),

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

    async close() {
      opened = false;
      migrated = undefined;
      if (external !== undefined) return;
      const p = pool;
      const l = lanePool;
      pool = undefined;
      lanePool = undefined;
      if (!p) return;
      try {
        await l?.end();
        await p.end();
      } catch (err) {
        throw fail(err, "closing");
      }
    },
  };
  // Shared mode: the same store plus the ownership port (agent leases, fenced writes, forwarded wakes).
  if (!shared) return store;
  const ownership = ownershipOf(ctx, shared);
  return {
    ...store,
    ownership,
    async close() {
      // The listening connection goes back to the pool before the pool ends.
      await ownership.dispose();
      await store.close();
    },
  };
}
