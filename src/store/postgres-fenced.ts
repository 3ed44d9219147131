import type { OwnershipPort } from "./ownership.ts";
import { writeRuns } from "./postgres-state.ts";
import { int, lease, time, type PgContext } from "./postgres-sql.ts";

/**
 * Writes fenced by the agent's lease: each one holds the agent's lease row `FOR SHARE`
 * while it writes and lands only if the row still names this owner at the writer's
 * epoch. A takeover (`FOR UPDATE`) therefore waits for writes in flight, and once it
 * has bumped the epoch no write of the old owner can land — a paused or partitioned
 * gateway that wakes up can neither fire (its claim is refused) nor record over the
 * new owner.
 */
export function fencedOps(ctx: PgContext): Pick<OwnershipPort, "claim" | "renew" | "finish" | "saveStates" | "deleteStates" | "appendRuns"> {
  const { t, location } = ctx;
  /** The agent's lease row, locked for the statement, if `owner` holds it at `epoch`. */
  const held = (agent: string, owner: string, epoch: string, live = false): string =>
    `l AS (SELECT 1 FROM ${t.leases} WHERE agent_id = ${agent} AND owner = ${owner} AND epoch = ${epoch}::bigint${live ? " AND expires_at > now()" : ""} FOR SHARE)`;

  return {
    async claim(c) {
      const doing = "claiming a run";
      // The claim is inserted only under an unexpired lease of this owner and epoch: one statement.
      const r = await ctx.query<{ held: number; inserted: number }>(
        doing,
        `WITH ${held("$1", "$4", "$5", true)},
         ins AS (
           INSERT INTO ${t.claims} (agent_id, slot_key, run_id, owner, epoch, claimed_at, lease_expires_at)
           SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM l)
           ON CONFLICT (agent_id, slot_key) DO NOTHING
           RETURNING 1
         )
         SELECT (SELECT count(*) FROM l)::int AS held, (SELECT count(*) FROM ins)::int AS inserted`,
        [
          c.agentId,
          c.slotKey,
          int(c.runId, "runId", doing, location),
          c.owner,
          int(c.epoch, "epoch", doing, location),
          time(c.claimedAt, "claimedAt", doing, location),
          lease(c.leaseExpiresAt, doing, location),
        ],
      );
      const row = r.rows[0];
      if (!row || row.held === 0) return "lease-lost";
      return row.inserted === 1 ? "ok" : "slot-taken";
    },

    async renew(owner, agentId, slotKey, epoch, leaseExpiresAt) {
      const doing = "renewing a lease";
      // Seed 003: GREATEST keeps the later expiry; a lease is never cleared or shortened.
      const r = await ctx.query(
        doing,
        `WITH ${held("$1", "$5", "$3")}
         UPDATE ${t.claims} SET lease_expires_at = GREATEST(lease_expires_at, $4::bigint)
         WHERE agent_id = $1 AND slot_key = $2 AND status = 'open' AND epoch = $3::bigint AND EXISTS (SELECT 1 FROM l)`,
        [agentId, slotKey, int(epoch, "epoch", doing, location), lease(leaseExpiresAt, doing, location), owner],
      );
      return r.rowCount === 1;
    },

    async finish(owner, agentId, slotKey, epoch, outcome, finishedAt) {
      const doing = "finishing a run";
      const r = await ctx.query(
        doing,
        `WITH ${held("$1", "$6", "$3")}
         UPDATE ${t.claims} SET status = $4, finished_at = $5::bigint
         WHERE agent_id = $1 AND slot_key = $2 AND status = 'open' AND epoch = $3::bigint AND EXISTS (SELECT 1 FROM l)`,
        [agentId, slotKey, int(epoch, "epoch", doing, location), outcome, time(finishedAt, "finishedAt", doing, location), owner],
      );
      return r.rowCount === 1;
    },

    async saveStates(owner, states) {
      const doing = "saving agents";
      if (states.length === 0) return [];
      // The last state given per agent wins; key order so concurrent writers lock alike.
      const byId = new Map(states.map((s) => [s.state.agentId, s] as const));
      const list = [...byId.values()].sort((a, b) => (a.state.agentId < b.state.agentId ? -1 : a.state.agentId > b.state.agentId ? 1 : 0));
      const r = await ctx.query<{ agent_id: string }>(
        doing,
        `WITH a AS (SELECT * FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[]) AS a(agent_id, state, updated_at, epoch)),
         l AS (
           SELECT l.agent_id FROM ${t.leases} l JOIN a ON a.agent_id = l.agent_id AND a.epoch = l.epoch
           WHERE l.owner = $1 ORDER BY l.agent_id FOR SHARE OF l
         ),
         saved AS (
           INSERT INTO ${t.agents} (agent_id, state, updated_at)
           SELECT a.agent_id, a.state::jsonb, a.updated_at FROM a JOIN l USING (agent_id)
           ON CONFLICT (agent_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at
           RETURNING agent_id
         )
         SELECT agent_id FROM saved`,
        [
          owner,
          list.map((s) => s.state.agentId),
          list.map((s) => JSON.stringify(s.state)),
          list.map((s) => time(s.state.updatedAt, "updatedAt", doing, location)),
          list.map((s) => int(s.epoch, "epoch", doing, location)),
        ],
      );
      const saved = new Set(r.rows.map((row) => row.agent_id));
      return list.map((s) => s.state.agentId).filter((id) => !saved.has(id));
    },

    async deleteStates(owner, agents) {
      if (agents.length === 0) return;
      await ctx.query(
        "deleting agents",
        `DELETE FROM ${t.agents} s USING ${t.leases} l, unnest($2::text[], $3::bigint[]) AS h(agent_id, epoch)
         WHERE s.agent_id = h.agent_id AND l.agent_id = h.agent_id AND l.epoch = h.epoch AND l.owner = $1`,
        [owner, agents.map((a) => a.agentId), agents.map((a) => a.epoch)],
      );
    },

    async appendRuns(owner, records, keepPerAgent) {
      const doing = "recording run history";
      if (records.length === 0) return;
      const keep = int(keepPerAgent, "keepPerAgent", doing, location);
      // A record whose epoch differs from its agent's other records is dropped (the last one given wins).
      const epochs = new Map(records.map((r) => [r.run.agentId, r.epoch] as const));
      const runs = records.filter((r) => r.epoch === epochs.get(r.run.agentId)).map((r) => r.run);
      // Pruning goes without a lock: keeping fewer old rows is harmless.
      await writeRuns(ctx.live(doing), ctx, runs, keep, doing, { owner, epochs }).catch((err: unknown) => {
        throw ctx.fail(err, doing);
      });
    },
  };
}
