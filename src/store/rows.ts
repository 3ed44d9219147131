import type { RunClaim, RunRecord } from "./types.ts";

/**
 * Rows of the SQL stores (SQLite and Postgres share the column names) back to records.
 * Integer columns may arrive as numbers (SQLite) or strings (Postgres bigint): Number() takes both.
 */

export interface ClaimRowDb {
  agent_id: string;
  slot_key: string;
  run_id: string | number;
  owner: string;
  epoch: string | number;
  claimed_at: string | number;
  lease_expires_at: string | number;
}

// bigint columns arrive as strings (or as numbers/bigints if the host changed pg's parsers): Number() takes all three.
export function rowToClaim(r: ClaimRowDb): RunClaim {
  return {
    agentId: r.agent_id,
    slotKey: r.slot_key,
    runId: Number(r.run_id),
    owner: r.owner,
    epoch: Number(r.epoch),
    claimedAt: Number(r.claimed_at),
    leaseExpiresAt: Number(r.lease_expires_at),
  };
}

export interface RunRowDb {
  agent_id: string;
  run_id: string | number;
  started_at: string | number;
  finished_at: string | number;
  duration_ms: string | number;
  status: RunRecord["status"];
  reasons: string;
  usage: string | null;
  reason: string | null;
  error: string | null;
}

export function rowToRun(r: RunRowDb): RunRecord {
  return {
    agentId: r.agent_id,
    runId: Number(r.run_id),
    startedAt: Number(r.started_at),
    finishedAt: Number(r.finished_at),
    durationMs: Number(r.duration_ms),
    status: r.status,
    reasons: JSON.parse(r.reasons) as string[],
    usage: r.usage === null ? null : (JSON.parse(r.usage) as RunRecord["usage"]),
    reason: r.reason,
    error: r.error,
  };
}
