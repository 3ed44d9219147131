import type { Pool, PoolClient, QueryResult, QueryResultRow } from "pg";
import { ConfigError, StoreError } from "../errors.ts";

/**
 * What the Postgres store's parts share: the pool, the table names, and queries that
 * turn every failure into a `StoreError` naming the location and the problem.
 */
export interface PgContext {
  readonly location: string;
  readonly schema: string | undefined;
  readonly t: Tables;
  /** The open pool; throws a StoreError when the store is not open. */
  live(doing: string): Pool;
  /** The pool, created on first use (the store may not be open yet). */
  poolOf(): Promise<Pool>;
  query<R extends QueryResultRow>(doing: string, text: string, values?: unknown[]): Promise<QueryResult<R>>;
  /**
   * Shared mode: the pool of lease rounds and the wake listener — a few connections of their
   * own, so a renewal never queues behind run traffic (a late renewal stops agents). The
   * host's own pool when it passed one.
   */
  lane(doing: string): Pool;
  /** A query on the lane. */
  leaseQuery<R extends QueryResultRow>(doing: string, text: string, values?: unknown[]): Promise<QueryResult<R>>;
  /** fn inside BEGIN … COMMIT on one connection; a connection that failed is discarded, not reused. */
  transaction<T>(doing: string, fn: (c: PoolClient) => Promise<T>): Promise<T>;
  fail(err: unknown, doing: string): StoreError;
}

/** What a pool and a checked-out client have in common. */
export interface Queryable {
  query<R extends QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>>;
}

export type Tables = ReturnType<typeof tables>;

/** Table names, qualified by the schema when one is given. */
export function tables(schema: string | undefined) {
  const prefix = schema === undefined ? "" : `${quoteIdent(schema)}.`;
  return {
    prefix,
    schemaTable: `${prefix}heartbeat_schema`,
    meta: `${prefix}heartbeat_meta`,
    agents: `${prefix}heartbeat_agent_state`,
    claims: `${prefix}heartbeat_run_claim`,
    runs: `${prefix}heartbeat_run_history`,
    leases: `${prefix}heartbeat_agent_lease`,
    gateways: `${prefix}heartbeat_gateway`,
    inbox: `${prefix}heartbeat_wake_inbox`,
    /** The NOTIFY channel of cross-gateway wakes: one per schema, so schemas never hear each other. */
    wakeChannel: `heartbeat_wake${schema === undefined ? "" : `_${schema}`}`.slice(0, 63),
  };
}

export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;
export const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function positive(value: number | undefined, fallback: number, field: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) throw new ConfigError(field, "must be a positive integer (milliseconds or a count)");
  return value;
}

/** A time (wall ms) for a bigint column; a value that is not a finite number is refused. */
export function time(value: number, field: string, doing: string, location: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new StoreError(location, `${doing} failed: ${field} must be a finite time in ms, got ${String(value)}`);
  }
  return Math.round(value);
}

/** A lease expiry: finite (seed 003: a lease no reaper can expire is refused), rounded up, never shortened. */
export function lease(value: number, doing: string, location: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new StoreError(location, `${doing} failed: the lease expiry must be a finite time in ms, got ${String(value)}`);
  }
  return Math.ceil(value);
}

export function int(value: number, field: string, doing: string, location: string): number {
  if (!Number.isSafeInteger(value)) throw new StoreError(location, `${doing} failed: ${field} must be an integer, got ${String(value)}`);
  return value;
}
