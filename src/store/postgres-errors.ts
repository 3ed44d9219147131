import type { Pool, PoolConfig } from "pg";
import { StoreError } from "../errors.ts";

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

export function describePool(pool: Pool): string {
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
