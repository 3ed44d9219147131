import type { PoolClient } from "pg";
import type { ForwardedWake, OwnershipPort } from "./ownership.ts";
import { quoteIdent, type PgContext } from "./postgres-sql.ts";

/**
 * Cross-gateway wakes: a wake for an agent another gateway owns becomes a row of
 * `heartbeat_wake_inbox` plus a NOTIFY on the schema's channel. Whoever holds the agent's
 * lease drains its rows — on the NOTIFY, and on every lease round, so a NOTIFY missed (a
 * dropped listening connection, an owner that changed meanwhile) loses nothing.
 */
export function wakeOps(ctx: PgContext): Pick<OwnershipPort, "forward" | "drain" | "listen" | "dispose"> {
  const { t } = ctx;
  let listener: PoolClient | undefined;
  let connecting: Promise<void> | undefined;

  const drop = (client: PoolClient, broken: boolean): void => {
    if (listener === client) listener = undefined;
    client.removeAllListeners("notification");
    try {
      client.release(broken);
    } catch {
      // Released already (the error path and dispose can meet).
    }
  };

  return {
    async forward(sender, wakes) {
      if (wakes.length === 0) return;
      // One statement: the rows and the NOTIFY commit together.
      await ctx.query(
        "forwarding wakes",
        `WITH ins AS (
           INSERT INTO ${t.inbox} (agent_id, reason, force, coalesce_ms, sender)
           SELECT w.agent_id, w.reason, w.force, w.coalesce_ms, $5 FROM unnest($1::text[], $2::text[], $3::boolean[], $4::int[]) AS w(agent_id, reason, force, coalesce_ms)
           RETURNING 1
         )
         SELECT pg_notify($6, (SELECT count(*) FROM ins)::text)`,
        [
          wakes.map((w) => w.agentId),
          wakes.map((w) => w.reason),
          wakes.map((w) => w.force),
          wakes.map((w) => (w.coalesceMs === undefined ? null : Math.round(w.coalesceMs))),
          sender,
          t.wakeChannel,
        ],
      );
    },

    async drain(owner, agentIds) {
      if (agentIds.length === 0) return [];
      const r = await ctx.leaseQuery<{ seq: string; agent_id: string; reason: string; force: boolean; coalesce_ms: number | null }>(
        "draining forwarded wakes",
        `DELETE FROM ${t.inbox} i USING ${t.leases} l
         WHERE i.agent_id = l.agent_id AND l.owner = $1 AND i.agent_id = ANY($2::text[])
         RETURNING i.seq, i.agent_id, i.reason, i.force, i.coalesce_ms`,
        [owner, [...agentIds]],
      );
      return r.rows
        .sort((a, b) => Number(a.seq) - Number(b.seq))
        .map((row): ForwardedWake => ({
          agentId: row.agent_id,
          reason: row.reason,
          force: row.force,
          ...(row.coalesce_ms === null ? {} : { coalesceMs: row.coalesce_ms }),
        }));
    },

    listen(onWake, onLost) {
      if (listener) return Promise.resolve();
      connecting ??= (async () => {
        let client: PoolClient;
        try {
          client = await ctx.lane("listening for wakes").connect();
        } catch (err) {
          throw ctx.fail(err, "listening for wakes");
        }
        client.on("notification", (m) => {
          if (m.channel === t.wakeChannel) onWake();
        });
        client.on("error", (err) => {
          drop(client, true);
          onLost(err);
        });
        try {
          await client.query(`LISTEN ${quoteIdent(t.wakeChannel)}`);
        } catch (err) {
          drop(client, true);
          throw ctx.fail(err, "listening for wakes");
        }
        listener = client;
      })().finally(() => {
        connecting = undefined;
      });
      return connecting;
    },

    async dispose() {
      await connecting?.catch(() => undefined);
      const client = listener;
      if (!client) return;
      listener = undefined;
      try {
        await client.query(`UNLISTEN *`);
        drop(client, false);
      } catch {
        drop(client, true);
      }
    },
  };
}
