import type { ClaimOutcome, ClaimResult, HeartbeatStore, RunClaim } from "./types.ts";
import { rowToClaim, type ClaimRowDb } from "./rows.ts";
import { cmp, int, lease, time, type PgContext } from "./postgres-sql.ts";

const CLAIM_RETENTION_MS = 7 * 24 * 3_600_000;

/** Fencing by the store-wide epoch: the epoch row, held FOR SHARE for the statement, so an open() waits for writes in flight and every write after it sees the new epoch. */
export const fenceOf = (ctx: PgContext) => ({
  fence: `fence AS (SELECT epoch FROM ${ctx.t.meta} FOR SHARE)`,
  notFenced: (param: string): string => `(SELECT epoch FROM fence) <= ${param}::bigint`,
});

/**
 * Run claims (one writer per store epoch): a claim is `INSERT … ON CONFLICT DO NOTHING`
 * on (agent_id, slot_key); renew raises the lease with `GREATEST` (never clears or shortens
 * it — seed 003); reap is one `UPDATE … RETURNING`, so two reapers never return the same claim.
 */
export function claimOps(ctx: PgContext): Pick<HeartbeatStore, "claim" | "renew" | "finish" | "reap"> {
  const { fence, notFenced } = fenceOf(ctx);
  return {
    async claim(c): Promise<ClaimResult> {
      const doing = "claiming a run";
      const values = [
        c.agentId,
        c.slotKey,
        int(c.runId, "runId", doing, ctx.location),
        c.owner,
        int(c.epoch, "epoch", doing, ctx.location),
        time(c.claimedAt, "claimedAt", doing, ctx.location),
        lease(c.leaseExpiresAt, doing, ctx.location),
      ];
      const r = await ctx.query<{ epoch: string; inserted: string }>(
        doing,
        `WITH ${fence},
         inserted AS (
           INSERT INTO ${ctx.t.claims} (agent_id, slot_key, run_id, owner, epoch, claimed_at, lease_expires_at)
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
      const r = await ctx.query(
        doing,
        `WITH ${fence}
         UPDATE ${ctx.t.claims} SET lease_expires_at = GREATEST(lease_expires_at, $4::bigint)
         WHERE agent_id = $1 AND slot_key = $2 AND status = 'open' AND epoch = $3::bigint AND ${notFenced("$3")}`,
        [agentId, slotKey, int(epoch, "epoch", doing, ctx.location), lease(leaseExpiresAt, doing, ctx.location)],
      );
      return r.rowCount === 1;
    },

    async finish(agentId, slotKey, epoch, outcome: ClaimOutcome, finishedAt) {
      const doing = "finishing a run";
      const r = await ctx.query(
        doing,
        `WITH ${fence}
         UPDATE ${ctx.t.claims} SET status = $4, finished_at = $5::bigint
         WHERE agent_id = $1 AND slot_key = $2 AND status = 'open' AND epoch = $3::bigint AND ${notFenced("$3")}`,
        [agentId, slotKey, int(epoch, "epoch", doing, ctx.location), outcome, time(finishedAt, "finishedAt", doing, ctx.location)],
      );
      return r.rowCount === 1;
    },

    async reap(now) {
      const doing = "reaping expired claims";
      const at = time(now, "now", doing, ctx.location);
      const r = await ctx.query<ClaimRowDb>(
        doing,
        `WITH reaped AS (
           UPDATE ${ctx.t.claims} SET status = 'aborted', reason = 'lease-expired', finished_at = $1::bigint
           WHERE status = 'open' AND lease_expires_at <= $1::bigint
           RETURNING agent_id, slot_key, run_id, owner, epoch, claimed_at, lease_expires_at
         ),
         pruned AS (DELETE FROM ${ctx.t.claims} WHERE status <> 'open' AND finished_at < $2::bigint RETURNING 1)
         SELECT * FROM reaped`,
        [at, at - CLAIM_RETENTION_MS],
      );
      return r.rows
        .map(rowToClaim)
        .sort((a, b) => a.leaseExpiresAt - b.leaseExpiresAt || cmp(a.agentId, b.agentId) || cmp(a.slotKey, b.slotKey));
    },
  };
}
