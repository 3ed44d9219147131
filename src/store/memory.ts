import { StoreError } from "../errors.ts";
import type { ClaimOutcome, ClaimResult, HeartbeatStore, RunClaim, RunRecord, StoredAgentState } from "./types.ts";

interface ClaimRow extends RunClaim {
  status: "open" | ClaimOutcome;
  reason: string | null;
  finishedAt: number | null;
}

/** Seed 003: a lease is a finite time, or the reaper could never expire it. */
function assertLease(leaseExpiresAt: number): void {
  if (typeof leaseExpiresAt !== "number" || !Number.isFinite(leaseExpiresAt)) {
    throw new StoreError("memory", `lease_expires_at must be a finite time, got ${String(leaseExpiresAt)}`);
  }
}

/** Finished claims older than this are forgotten (slot uniqueness only matters for recent slots). */
const CLAIM_RETENTION_MS = 7 * 24 * 3_600_000;

/**
 * The library default: state in this process only. It keeps the same contract as the
 * durable stores (fencing, claims, leases that never shrink), so a gateway behaves the
 * same on it, and a new gateway handed the same instance resumes where the last stopped.
 */
export function memoryStore(): HeartbeatStore {
  let epoch = 0;
  const agents = new Map<string, StoredAgentState>();
  const claims = new Map<string, ClaimRow>();
  // The reaper looks only at open claims, and forgets finished ones in finish order:
  // scanning every claim kept for a week made each sweep O(runs in 7 days).
  const openKeys = new Set<string>();
  const finished: { key: string; row: ClaimRow }[] = [];
  let finishedHead = 0;
  const close = (k: string, row: ClaimRow): void => {
    claims.set(k, row);
    openKeys.delete(k);
    finished.push({ key: k, row });
  };
  const runs = new Map<string, RunRecord[]>();
  const key = (agentId: string, slotKey: string) => `${agentId}\u0000${slotKey}`;
  const fenced = (e: number) => e < epoch;

  return {
    location: "memory",
    durable: false,
    open() {
      epoch += 1;
      return epoch;
    },
    loadAgents() {
      return [...agents.values()];
    },
    saveAgents(states, e) {
      if (fenced(e)) return false;
      for (const s of states) agents.set(s.agentId, s);
      return true;
    },
    deleteAgents(ids, e) {
      if (fenced(e)) return false;
      for (const id of ids) agents.delete(id);
      return true;
    },
    claim(c): ClaimResult {
      assertLease(c.leaseExpiresAt);
      if (fenced(c.epoch)) return { ok: false, reason: "fenced", currentEpoch: epoch };
      const k = key(c.agentId, c.slotKey);
      if (claims.has(k)) return { ok: false, reason: "slot-taken" };
      claims.set(k, { ...c, status: "open", reason: null, finishedAt: null });
      openKeys.add(k);
      return { ok: true };
    },
    renew(agentId, slotKey, e, leaseExpiresAt) {
      assertLease(leaseExpiresAt);
      const row = claims.get(key(agentId, slotKey));
      if (!row || row.status !== "open" || row.epoch !== e || fenced(e)) return false;
      claims.set(key(agentId, slotKey), { ...row, leaseExpiresAt: Math.max(row.leaseExpiresAt, leaseExpiresAt) });
      return true;
    },
    finish(agentId, slotKey, e, outcome, finishedAt) {
      const row = claims.get(key(agentId, slotKey));
      if (!row || row.status !== "open" || row.epoch !== e || fenced(e)) return false;
      close(key(agentId, slotKey), { ...row, status: outcome, finishedAt });
      return true;
    },
    reap(now) {
      const reaped: RunClaim[] = [];
      for (const k of openKeys) {
        const row = claims.get(k);
        if (row === undefined || row.status !== "open") {
          openKeys.delete(k);
        } else if (row.leaseExpiresAt <= now) {
          close(k, { ...row, status: "aborted", reason: "lease-expired", finishedAt: now });
          const { status: _s, reason: _r, finishedAt: _f, ...claim } = row;
          reaped.push(claim);
        }
      }
      // Finish order is wall order unless the wall clock stepped back; then a claim is kept a little longer.
      while (finishedHead < finished.length) {
        const entry = finished[finishedHead]!;
        if ((entry.row.finishedAt ?? now) >= now - CLAIM_RETENTION_MS) break;
        if (claims.get(entry.key) === entry.row) claims.delete(entry.key);
        finishedHead += 1;
      }
      if (finishedHead > 1024 && finishedHead * 2 > finished.length) {
        finished.splice(0, finishedHead);
        finishedHead = 0;
      }
      return reaped;
    },
    appendRuns(records, e, keep) {
      if (fenced(e)) return false;
      for (const r of records) {
        const list = runs.get(r.agentId) ?? [];
        list.push(r);
        if (list.length > keep) list.splice(0, list.length - keep);
        runs.set(r.agentId, list);
      }
      return true;
    },
    loadRuns(agentId, limit) {
      return (runs.get(agentId) ?? []).slice(-limit).reverse();
    },
    close() {},
  };
}
