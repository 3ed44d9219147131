/**
 * The daemon's `store` section: where state, claims and (with several gateways) agent
 * leases live. Absent: SQLite at `--state`. With `postgres`, every process pointed at the
 * same database shares the agents (README, "Several gateways"):
 *
 *   store:
 *     postgres: env:HEARTBEAT_PG_URL   # or a postgres://user:password@host:port/db URL
 *     schema: heartbeat                 # optional; default: the connection's search_path
 *     shared: true                      # default true: agents are owned by lease
 *     leaseTtl: 15s                     # default 15s
 *     renewEvery: 5s                    # default 5s
 */
import { z } from "zod";
import { ConfigError } from "../errors.ts";
import { postgresStore, sqliteStore, type HeartbeatStore } from "../index.ts";
import { resolveShared, type SharedOptions } from "../store/postgres-leases.ts";

export const storeSchema = z.strictObject({
  postgres: z.string().trim().min(1),
  schema: z.string().trim().min(1).optional(),
  shared: z.boolean().optional(),
  leaseTtl: z.union([z.string(), z.number()]).optional(),
  renewEvery: z.union([z.string(), z.number()]).optional(),
});

export interface PostgresSpec {
  readonly kind: "postgres";
  /** A URL, or `env:NAME` to read it from that environment variable (keeps a password out of the file). */
  readonly postgres: string;
  readonly schema?: string;
  readonly shared: false | SharedOptions;
}

/** The `store` section, checked: field errors name `store.<field>`. */
export function storeSpec(raw: z.infer<typeof storeSchema> | undefined): PostgresSpec | undefined {
  if (raw === undefined) return undefined;
  if (!/^(env:[A-Za-z_][A-Za-z0-9_]*|postgres(ql)?:\/\/.+)$/.test(raw.postgres)) {
    throw new ConfigError("store.postgres", 'expected a postgres:// URL or "env:NAME" (a variable holding one)');
  }
  const shared: false | SharedOptions =
    raw.shared === false
      ? false
      : { ...(raw.leaseTtl === undefined ? {} : { leaseTtl: raw.leaseTtl }), ...(raw.renewEvery === undefined ? {} : { renewEvery: raw.renewEvery }) };
  try {
    if (shared !== false) resolveShared(shared);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(err.field.replace(/^shared\./, "store."), err.problem);
    throw err;
  }
  return { kind: "postgres", postgres: raw.postgres, ...(raw.schema === undefined ? {} : { schema: raw.schema }), shared };
}

/** The store a daemon runs on: Postgres when configured, else SQLite at `statePath`. */
export function openDaemonStore(spec: PostgresSpec | undefined, statePath: string, env: NodeJS.ProcessEnv): HeartbeatStore {
  if (!spec) return sqliteStore({ path: statePath });
  let url = spec.postgres;
  if (url.startsWith("env:")) {
    const name = url.slice(4);
    const value = env[name];
    if (!value) throw new ConfigError("store.postgres", `the environment variable ${name} is not set`);
    url = value;
  }
  return postgresStore({
    connectionString: url,
    ...(spec.schema === undefined ? {} : { schema: spec.schema }),
    shared: spec.shared,
    applicationName: "heartbeat-gateway",
  });
}
