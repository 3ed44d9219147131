import type { HeartbeatStore, RunRecord, StoredAgentState } from "./types.ts";
import { rowToRun, type RunRowDb } from "./rows.ts";
import { fenceOf } from "./postgres-claims.ts";
import { int, time, type PgContext, type Queryable } from "./postgres-sql.ts";

/** Agent state and run history, fenced by the store-wide epoch. */
export function stateOps(ctx: PgContext): Pick<HeartbeatStore, "loadAgents" | "saveAgents" | "deleteAgents" | "appendRuns" | "loadRuns"> {
  const { fence, notFenced } = fenceOf(ctx);
  return {
    async loadAgents() {
      const r = await ctx.query<{ state: string }>("loading agents", `SELECT state::text AS state FROM ${ctx.t.agents} ORDER BY agent_id`);
      return r.rows.map((row) => JSON.parse(row.state) as StoredAgentState);
    },

    async saveAgents(states, epoch) {
      // One row per agent (the last state given wins), in key order so concurrent writers lock alike.
      const byId = new Map<string, StoredAgentState>();
      for (const s of states) byId.set(s.agentId, s);
      const list = [...byId.values()].sort((a, b) => (a.agentId < b.agentId ? -1 : a.agentId > b.agentId ? 1 : 0));
      const r = await ctx.query<{ epoch: string }>(
        "saving agents",
        `WITH ${fence},
         saved AS (
           INSERT INTO ${ctx.t.agents} (agent_id, state, updated_at)
           SELECT a.agent_id, a.state::jsonb, a.updated_at
           FROM unnest($2::text[], $3::text[], $4::bigint[]) AS a(agent_id, state, updated_at)
           WHERE ${notFenced("$1")}
           ON CONFLICT (agent_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at
           RETURNING 1
         )
         SELECT (SELECT epoch FROM fence) AS epoch, (SELECT count(*) FROM saved) AS written`,
        [
          int(epoch, "epoch", "saving agents", ctx.location),
          list.map((s) => s.agentId),
          list.map((s) => JSON.stringify(s)),
          list.map((s) => time(s.updatedAt, "updatedAt", "saving agents", ctx.location)),
        ],
      );
      return Number(r.rows[0]?.epoch) <= epoch;
    },

    async deleteAgents(agentIds, epoch) {
      const r = await ctx.query<{ epoch: string }>(
        "deleting agents",
        `WITH ${fence},
         deleted AS (DELETE FROM ${ctx.t.agents} WHERE agent_id = ANY($2::text[]) AND ${notFenced("$1")} RETURNING 1)
         SELECT (SELECT epoch FROM fence) AS epoch, (SELECT count(*) FROM deleted) AS deleted`,
        [int(epoch, "epoch", "deleting agents", ctx.location), [...agentIds]],
      );
      return Number(r.rows[0]?.epoch) <= epoch;
    },

    async appendRuns(records, epoch, keepPerAgent) {
      const doing = "recording run history";
      const e = int(epoch, "epoch", doing, ctx.location);
      const keep = int(keepPerAgent, "keepPerAgent", doing, ctx.location);
            return ctx.transaction(doing, async (c) => {
        const f = await c.query<{ epoch: string }>(`SELECT epoch FROM ${ctx.t.meta} FOR SHARE`);
        if (Number(f.rows[0]?.epoch) > e) return false;
        if (records.length === 0) return true;
        await writeRuns(c, ctx, records, keep, doing);
        return true;
      });
    },

    async loadRuns(agentId, limit) {
      const doing = "loading run history";
      const r = await ctx.query<RunRowDb>(
        doing,
        `SELECT agent_id, run_id, started_at, finished_at, duration_ms, status, reasons::text AS reasons, usage::text AS usage, reason, error
         FROM ${ctx.t.runs} WHERE agent_id = $1 ORDER BY seq DESC LIMIT $2::bigint`,
        [agentId, int(limit, "limit", doing, ctx.location)],
      );
      return r.rows.map(rowToRun);
    },
  };
}

/**
 * Insert finished runs in order, then keep the newest `keep` per agent. With `lease`, only
 * runs of agents whose lease row names that owner at the given epoch are inserted, the rows
 * locked FOR SHARE by the one INSERT statement (never a transaction held open across
 * round trips: a paused gateway must not hold lease locks the others skip).
 */
export async function writeRuns(
  c: Queryable,
  ctx: PgContext,
  records: readonly RunRecord[],
  keep: number,
  doing: string,
  lease?: { readonly owner: string; readonly epochs: ReadonlyMap<string, number> },
): Promise<void> {
  const t = ctx.t;
  const fenced = lease
    ? `ok AS (
         SELECT l.agent_id FROM ${t.leases} l JOIN unnest($12::text[], $13::bigint[]) AS h(agent_id, epoch)
           ON h.agent_id = l.agent_id AND h.epoch = l.epoch
         WHERE l.owner = $11 ORDER BY l.agent_id FOR SHARE OF l
       ),`
    : "";
  const r = await c.query<{ agent_id: string }>(
    `WITH ${fenced}
     ins AS (
       INSERT INTO ${t.runs} (agent_id, run_id, started_at, finished_at, duration_ms, status, reasons, usage, reason, error)
       SELECT r.agent_id, r.run_id, r.started_at, r.finished_at, r.duration_ms, r.status, r.reasons::jsonb, r.usage::jsonb, r.reason, r.error
       FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
         WITH ORDINALITY AS r(agent_id, run_id, started_at, finished_at, duration_ms, status, reasons, usage, reason, error, n)
       ${lease ? "WHERE r.agent_id IN (SELECT agent_id FROM ok)" : ""}
       ORDER BY r.n
       RETURNING agent_id
     )
     SELECT DISTINCT agent_id FROM ins`,
    [
      records.map((r) => r.agentId),
      records.map((r) => int(r.runId, "runId", doing, ctx.location)),
      records.map((r) => time(r.startedAt, "startedAt", doing, ctx.location)),
      records.map((r) => time(r.finishedAt, "finishedAt", doing, ctx.location)),
      records.map((r) => time(r.durationMs, "durationMs", doing, ctx.location)),
      records.map((r) => r.status),
      records.map((r) => JSON.stringify(r.reasons)),
      records.map((r) => (r.usage ? JSON.stringify(r.usage) : null)),
      records.map((r) => r.reason),
      records.map((r) => r.error),
      ...(lease ? [lease.owner, [...lease.epochs.keys()], [...lease.epochs.values()]] : []),
    ],
  );
  const written = r.rows.map((row) => row.agent_id);
  if (written.length === 0) return;
  await c.query(
    `DELETE FROM ${t.runs} h USING (
       SELECT seq, row_number() OVER (PARTITION BY agent_id ORDER BY seq DESC) AS rn
       FROM ${t.runs} WHERE agent_id = ANY($1::text[])
     ) old
     WHERE h.seq = old.seq AND old.rn > $2::bigint`,
    [written, keep],
  );
}
