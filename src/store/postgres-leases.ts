import { z } from "zod";
import { ConfigError } from "../errors.ts";
import { parseDuration } from "../policy/duration.ts";
import type { LeaseRound, OwnershipPort } from "./ownership.ts";
import { fencedOps } from "./postgres-fenced.ts";
import type { PgContext } from "./postgres-sql.ts";
import { wakeOps } from "./postgres-wakes.ts";
import type { StoredAgentState } from "./types.ts";

export interface SharedOptions {
  /** How long an agent's lease lasts past its last renewal (database clock). Default "15s". */
  readonly leaseTtl?: string | number;
  /** How often a gateway renews its leases and looks for agents to take: at most half the TTL. Default "5s" (a third of a given TTL). */
  readonly renewEvery?: string | number;
}

export interface ResolvedShared {
  readonly leaseTtlMs: number;
  readonly renewEveryMs: number;
}

const sharedSchema = z.union([
  z.boolean(),
  z.object({ leaseTtl: z.union([z.string(), z.number()]).optional(), renewEvery: z.union([z.string(), z.number()]).optional() }).strict(),
]);

/** `shared` option → lease timings, or undefined (one gateway owns the store). */
export function resolveShared(shared: boolean | SharedOptions | undefined): ResolvedShared | undefined {
  if (shared === undefined || shared === false) return undefined;
  const parsed = sharedSchema.safeParse(shared);
  if (!parsed.success) throw new ConfigError("shared", parsed.error.issues.map((i) => `${i.path.join(".") || "shared"}: ${i.message}`).join("; "));
  const o = shared === true ? {} : (parsed.data as SharedOptions);
  const leaseTtlMs = parseDuration(o.leaseTtl ?? "15s", "shared.leaseTtl");
  const renewEveryMs = parseDuration(o.renewEvery ?? (o.leaseTtl === undefined ? "5s" : Math.max(1, Math.floor(leaseTtlMs / 3))), "shared.renewEvery");
  if (leaseTtlMs < 100) throw new ConfigError("shared.leaseTtl", "must be at least 100 ms");
  // A renewal must land before the lease runs out, with room for a slow round trip.
  if (renewEveryMs <= 0 || renewEveryMs * 2 > leaseTtlMs) throw new ConfigError("shared.renewEvery", `must be positive and at most half of leaseTtl (${leaseTtlMs} ms)`);
  return { leaseTtlMs, renewEveryMs };
}

/**
 * Agent leases in Postgres (`heartbeat_agent_lease`), one round at a time:
 *
 * 1. its held leases are renewed where owner and epoch still match (`renewLeases`, on a
 *    loop of its own so nothing delays it);
 * 2. in each round, this gateway's heartbeat row is renewed and the live gateways counted;
 * 3. over its fair share — ceil(agents / live gateways) — the excess is returned to shed, idle first;
 * 4. under it, it takes unowned or expired agents with `FOR UPDATE SKIP LOCKED` (two
 *    gateways never take the same row, neither waits for the other), epoch + 1;
 * 5. an agent expired for more than a whole TTL is taken whatever the share (nobody else did).
 *
 * Every expiry is `now()` of the database, never a gateway's clock.
 */
export function ownershipOf(ctx: PgContext, shared: ResolvedShared): OwnershipPort {
  const { t } = ctx;
  const ttl = shared.leaseTtlMs;
  const known = new Set<string>();
  const later = `now() + $2::bigint * interval '1 millisecond'`;

  const renewLeases = async (owner: string, held: ReadonlyMap<string, number>): Promise<string[]> => {
    if (held.size === 0) return [];
    const r = await ctx.leaseQuery<{ agent_id: string }>(
      "renewing agent leases",
      `UPDATE ${t.leases} l SET expires_at = ${later}
       FROM unnest($3::text[], $4::bigint[]) AS h(agent_id, epoch)
       WHERE l.agent_id = h.agent_id AND l.epoch = h.epoch AND l.owner = $1
       RETURNING l.agent_id`,
      [owner, ttl, [...held.keys()], [...held.values()]],
    );
    return r.rows.map((row) => row.agent_id);
  };

  return {
    leaseTtlMs: shared.leaseTtlMs,
    renewLeases,
    renewEveryMs: shared.renewEveryMs,
    ...fencedOps(ctx),
    ...wakeOps(ctx),

    async tick({ owner, agentIds, held, idle, take }): Promise<LeaseRound> {
      const doing = "taking agent leases";
      const missing = agentIds.filter((id) => !known.has(id));
      if (missing.length > 0) {
        // A row per agent, so it can be locked and taken; new rows count as just expired.
        await ctx.leaseQuery(
          doing,
          `INSERT INTO ${t.leases} (agent_id, owner, epoch, expires_at)
           SELECT id, '', 0, now() FROM unnest($1::text[]) AS id ON CONFLICT (agent_id) DO NOTHING`,
          [missing],
        );
        for (const id of missing) known.add(id);
      }
      // This gateway's heartbeat, the live gateways, and whether any agent has been orphaned a whole TTL.
      const g = await ctx.leaseQuery<{ n: number; orphans: number }>(
        doing,
        `WITH hb AS (
           INSERT INTO ${t.gateways} (owner, expires_at) VALUES ($1, ${later})
           ON CONFLICT (owner) DO UPDATE SET expires_at = excluded.expires_at RETURNING 1
         ),
         gone AS (DELETE FROM ${t.gateways} WHERE expires_at < now() - interval '1 hour' RETURNING 1)
         SELECT (SELECT count(*)::int FROM ${t.gateways} WHERE expires_at > now() AND owner <> $1) AS n,
                (SELECT count(*)::int FROM ${t.leases} WHERE agent_id = ANY($3::text[]) AND expires_at < now() - $2::bigint * interval '1 millisecond') AS orphans`,
        [owner, ttl, [...agentIds]],
      );
      const gateways = (g.rows[0]?.n ?? 0) + 1;
      const kept = new Set(held.keys());

      const share = Math.ceil(agentIds.length / gateways);
      // Over the fair share: the excess, idle agents first, is for the caller to give back
      // (after saving their state, so the next owner resumes exactly where they are).
      const shed: string[] = [];
      if (take && kept.size > share) {
        const order = [...kept].sort((a, b) => Number(idle(b)) - Number(idle(a)));
        shed.push(...order.slice(0, kept.size - share));
        for (const id of shed) kept.delete(id);
      }

      const taken: { agentId: string; epoch: number }[] = [];
      if (take) {
        const takeSql = (where: string): string =>
          `WITH cand AS (
             SELECT agent_id FROM ${t.leases}
             WHERE agent_id = ANY($3::text[]) AND NOT (agent_id = ANY($4::text[])) AND ${where}
             ORDER BY (owner = $1) DESC, expires_at, agent_id
             LIMIT $5 FOR UPDATE SKIP LOCKED
           )
           UPDATE ${t.leases} l SET owner = $1, epoch = l.epoch + 1, expires_at = ${later}
           FROM cand WHERE l.agent_id = cand.agent_id
           RETURNING l.agent_id, l.epoch`;
        const run = async (where: string, limit: number): Promise<void> => {
          if (limit <= 0) return;
          const r = await ctx.leaseQuery<{ agent_id: string; epoch: string }>(doing, takeSql(where), [
            owner, ttl, [...agentIds], [...kept, ...shed], limit,
          ]);
          for (const row of r.rows) {
            taken.push({ agentId: row.agent_id, epoch: Number(row.epoch) });
            kept.add(row.agent_id);
          }
        };
        // Our own rows not held here (dropped when their lease could not be proven) come back first.
        await run(`(expires_at <= now() OR owner = '' OR owner = $1)`, share - kept.size);
        if ((g.rows[0]?.orphans ?? 0) > 0) await run(`expires_at < now() - $2::bigint * interval '1 millisecond'`, agentIds.length);
      }
      return { taken, shed, gateways };
    },

    async owners(owner, agentIds) {
      const o = await ctx.leaseQuery<{ agent_id: string; owner: string }>(
        "reading agent owners",
        `SELECT agent_id, owner FROM ${t.leases}
         WHERE agent_id = ANY($2::text[]) AND owner <> '' AND owner <> $1 AND expires_at > now()`,
        [owner, [...agentIds]],
      );
      return new Map(o.rows.map((row) => [row.agent_id, row.owner] as const));
    },

    async release(owner, leases) {
      if (leases.size === 0) return;
      await ctx.leaseQuery(
        "releasing agent leases",
        `UPDATE ${t.leases} l SET owner = '', expires_at = now()
         FROM unnest($2::text[], $3::bigint[]) AS h(agent_id, epoch)
         WHERE l.agent_id = h.agent_id AND l.epoch = h.epoch AND l.owner = $1`,
        [owner, [...leases.keys()], [...leases.values()]],
      );
    },

    async leave(owner) {
      await ctx.leaseQuery("leaving", `DELETE FROM ${t.gateways} WHERE owner = $1`, [owner]);
    },

    async lastClaims(agentIds) {
      const r = await ctx.leaseQuery<{ agent_id: string; last: string }>(
        "loading agents",
        `SELECT agent_id, max(claimed_at) AS last FROM ${t.claims} WHERE agent_id = ANY($1::text[]) GROUP BY agent_id`,
        [[...agentIds]],
      );
      return new Map(r.rows.map((row) => [row.agent_id, Number(row.last)] as const));
    },

    async loadStates(agentIds) {
      const r = await ctx.leaseQuery<{ state: string }>(
        "loading agents",
        `SELECT state::text AS state FROM ${t.agents} WHERE agent_id = ANY($1::text[]) ORDER BY agent_id`,
        [[...agentIds]],
      );
      return r.rows.map((row) => JSON.parse(row.state) as StoredAgentState);
    },
  };
}
