import { writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, type Cli } from "../cli/support.ts";
import { startTestPostgres, type TestPostgres } from "../support/postgres.ts";

/**
 * Several gateways on one Postgres, as a user runs them: three real `heartbeat-gateway
 * run` processes (bin/heartbeat-gateway.mjs) on one config with `store: { postgres }`,
 * 300 agents every 4 s whose heartbeat is a webhook to this test (each process's config
 * names it in a header, so every fire is attributed). Lease TTL 2 s, renewed every 0.6 s.
 *
 * (a) every agent is served, each by exactly one gateway;
 * (b) `kill -9` one: its agents are taken within 2×TTL (measured and printed);
 * (c) SIGSTOP one past its lease: the others take over; SIGCONT: it fires nothing
 *     without a claim (its stale claims are refused by the fencing epoch) and it rejoins;
 * (d) over the whole test no (agent, slot) runs twice — every fire had its own claim,
 *     claims are unique per (agent, slot) and per agent their epochs only grow — and no
 *     agent went longer than a cadence plus a failover without a run.
 *
 * Real time (this is the process-level test); bounded waits everywhere.
 */

const AGENTS = 300;
const EVERY_MS = 4_000;
const TTL_MS = 2_000;
const RENEW_MS = 600;
const GATEWAYS = ["gw-1", "gw-2", "gw-3"] as const;

interface Hit {
  readonly agent: string;
  readonly gw: string;
  readonly at: number;
}

let db: TestPostgres;
let server: Server;
let dir: string;
const schema = "shared";
const hits: Hit[] = [];
const procs = new Map<string, Cli>();
const stopped = new Set<string>();

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined | false>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}
/** Live leases per owner (database clock). */
const owners = async (): Promise<Map<string, number>> => {
  const rows = await db.query<{ owner: string; n: number }>(
    `SELECT owner, count(*)::int AS n FROM ${schema}.heartbeat_agent_lease WHERE owner <> '' AND expires_at > now() GROUP BY owner`,
  );
  return new Map(rows.map((r) => [r.owner, r.n]));
};
const leasesOf = async (owner: string): Promise<number> =>
  (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema}.heartbeat_agent_lease WHERE owner = $1`, [owner]))[0]?.n ?? 0;

function start(gw: string): Cli {
  const c = cli(["run", "--config", join(dir, `${gw}.json`), "--port", "0", "--owner", gw, "--no-watch"], {
    env: { HEARTBEAT_LOG_LEVEL: "info", HB_FAILOVER_PG: db.url },
  });
  procs.set(gw, c);
  return c;
}

beforeAll(async () => {
  db = await startTestPostgres("failover");
  await db.query(`CREATE SCHEMA ${schema}`);
  server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8").on("data", (c: string) => (body += c));
    req.on("end", () => {
      const { agentId } = JSON.parse(body) as { agentId: string };
      hits.push({ agent: agentId, gw: String(req.headers["x-gateway"]), at: Date.now() });
      res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ran","usage":{"inputTokens":1,"outputTokens":1}}');
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/beat`;
  dir = mkdtempSync(join(tmpdir(), "hb-failover-"));
  for (const gw of GATEWAYS) {
    const config = {
      store: { postgres: "env:HB_FAILOVER_PG", schema, leaseTtl: `${TTL_MS}ms`, renewEvery: `${RENEW_MS}ms` },
      agents: Array.from({ length: AGENTS }, (_, i) => ({
        id: `agent-${String(i).padStart(3, "0")}`,
        every: `${EVERY_MS}ms`,
        webhook: { url, headers: { "x-gateway": gw } },
      })),
    };
    writeFileSync(join(dir, `${gw}.json`), JSON.stringify(config));
  }
}, 90_000);

afterAll(async () => {
  for (const [gw, c] of procs) {
    if (c.child.exitCode !== null || c.child.signalCode !== null) continue;
    if (stopped.has(gw)) c.child.kill("SIGCONT");
    c.child.kill("SIGKILL");
    await Promise.race([c.exited, sleep(5_000)]);
  }
  await new Promise<void>((r) => server?.close(() => r()));
  if (dir) rmSync(dir, { recursive: true, force: true });
  await db?.dispose();
}, 60_000);

describe("three gateway processes on one Postgres, 300 agents", () => {
  it("serve every agent once, fail over within 2×TTL on kill -9 and SIGSTOP, and never run a slot twice", async () => {
    // Started a little apart, as a deployment would; the first one alone takes everything, then shares.
    for (const gw of GATEWAYS) {
      await start(gw).waitFor(/listening on (http:\/\/\S+)/, 60_000);
    }

    // (a) all 300 served, each by one gateway, shared fairly (ceil(300 / 3) = 100 at most each).
    await until("the three gateways to share the 300 agents", 30_000, async () => {
      const o = await owners();
      const total = [...o.values()].reduce((a, b) => a + b, 0);
      return total === AGENTS && GATEWAYS.every((g) => (o.get(g) ?? 0) > 0 && (o.get(g) ?? 0) <= AGENTS / GATEWAYS.length) ? o : undefined;
    });
    const windowStart = Date.now();
    // Two cadences: every agent runs at least once even on a loaded machine.
    await sleep(2 * EVERY_MS);
    const windowHits = hits.filter((h) => h.at >= windowStart);
    const servedBy = new Map<string, Set<string>>();
    for (const h of windowHits) servedBy.set(h.agent, (servedBy.get(h.agent) ?? new Set()).add(h.gw));
    if (servedBy.size !== AGENTS) {
      const missing = Array.from({ length: AGENTS }, (_, i) => `agent-${String(i).padStart(3, "0")}`).filter((a) => !servedBy.has(a));
      const rows = await db.query(
        `SELECT l.agent_id, l.owner, l.epoch, l.expires_at, s.state->>'dueAt' AS due, s.state->>'runCount' AS runs, s.updated_at
         FROM ${schema}.heartbeat_agent_lease l LEFT JOIN ${schema}.heartbeat_agent_state s USING (agent_id) WHERE l.agent_id = ANY($1) ORDER BY 1 LIMIT 5`,
        [missing],
      );
      console.info(`[failover] not served in the window (${missing.length}), now ${Date.now()}, window from ${windowStart}:`, rows, hits.filter((h) => missing.slice(0, 5).includes(h.agent)));
    }
    if (process.env.HB_FAILOVER_DEBUG) {
      for (const [gw, c] of procs) {
        for (const l of c.stdout().split("\n").filter((x) => /stopped serving|took over|lease/.test(x) && !x.includes('"lease-lost"'))) console.info(gw, l.slice(0, 300));
      }
    }
    expect(servedBy.size).toBe(AGENTS);
    const shared = [...servedBy].filter(([, g]) => g.size > 1);
    expect(shared, "agents fired by two gateways while stable").toEqual([]);
    console.info(`[failover] steady: ${[...(await owners())].map(([g, n]) => `${g}=${n}`).join(" ")}; ${windowHits.length} runs in ${Date.now() - windowStart} ms`);

    // (b) kill -9 gw-3: its agents are taken within 2×TTL.
    const victim = procs.get("gw-3")!;
    const killedHad = await leasesOf("gw-3");
    const victims = (await db.query<{ agent_id: string }>(`SELECT agent_id FROM ${schema}.heartbeat_agent_lease WHERE owner = 'gw-3'`)).map((r) => r.agent_id);
    expect(killedHad).toBeGreaterThan(0);
    const killedAt = Date.now();
    victim.child.kill("SIGKILL");
    await until("gw-3's agents to be taken over", 6 * TTL_MS, async () => ((await leasesOf("gw-3")) === 0 ? true : undefined));
    const killFailover = Date.now() - killedAt;
    console.info(`[failover] kill -9 gw-3 (${killedHad} agents): all taken over in ${killFailover} ms (TTL ${TTL_MS} ms, renew ${RENEW_MS} ms)`);
    // 2×TTL is the requirement; the DB is polled every 50 ms and the machine is shared with other tests.
    expect(killFailover).toBeLessThanOrEqual(2 * TTL_MS + RENEW_MS);
    const afterKill = await until("gw-1 and gw-2 to serve all 300", 10_000, async () => {
      const o = await owners();
      return (o.get("gw-1") ?? 0) + (o.get("gw-2") ?? 0) === AGENTS ? o : undefined;
    });
    console.info(`[failover] after kill: gw-1=${afterKill.get("gw-1")} gw-2=${afterKill.get("gw-2")}`);
    await sleep(EVERY_MS); // settled: every agent of gw-3 ran on its new owner before the next fault
    // Its slots that fell due within 2×TTL of the death: how long after the death each one ran on its new owner.
    let slowest = { agent: "", ms: 0 };
    for (const agent of victims) {
      const before = hits.filter((h) => h.agent === agent && h.at < killedAt).map((h) => h.at);
      const due = Math.max(...before) + EVERY_MS;
      const after = hits.find((h) => h.agent === agent && h.at >= killedAt);
      if (due >= killedAt + 2 * TTL_MS) continue;
      expect(after, `${agent}: its slot due ${due - killedAt} ms after the kill never ran`).toBeDefined();
      if (after!.at - killedAt > slowest.ms) slowest = { agent, ms: after!.at - killedAt };
    }
    console.info(`[failover] kill -9 gw-3: the slots due within 2×TTL ran on their new owners at most ${slowest.ms} ms after the kill (${slowest.agent})`);
    // 2×TTL (4 s) is the requirement; + one renew interval and 1 s for a 2-core machine running other tests.
    expect(slowest.ms).toBeLessThanOrEqual(2 * TTL_MS + RENEW_MS + 1_000);

    // (c) SIGSTOP gw-2 past its lease: gw-1 takes everything; SIGCONT: its stale writes are refused, it rejoins.
    const paused = procs.get("gw-2")!;
    const pausedHad = await leasesOf("gw-2");
    const stoppedAt = Date.now();
    paused.child.kill("SIGSTOP");
    stopped.add("gw-2");
    await until("gw-1 to take gw-2's agents", 6 * TTL_MS, async () => ((await owners()).get("gw-1") === AGENTS ? true : undefined));
    const stopFailover = Date.now() - stoppedAt;
    console.info(`[failover] SIGSTOP gw-2 (${pausedHad} agents): all taken over in ${stopFailover} ms`);
    expect(stopFailover).toBeLessThanOrEqual(2 * TTL_MS + RENEW_MS);
    await sleep(EVERY_MS); // paused well past its lease, while gw-1 runs its agents
    const resumedAt = Date.now();
    paused.child.kill("SIGCONT");
    stopped.delete("gw-2");
    const rejoined = await until("gw-2 to rejoin and take a share again", 20_000, async () => {
      const o = await owners();
      return (o.get("gw-2") ?? 0) > 0 && (o.get("gw-1") ?? 0) + (o.get("gw-2") ?? 0) === AGENTS ? o : undefined;
    });
    console.info(`[failover] SIGCONT gw-2: rejoined in ${Date.now() - resumedAt} ms (gw-1=${rejoined.get("gw-1")} gw-2=${rejoined.get("gw-2")})`);
    await sleep(EVERY_MS);
    const refused = paused.stdout().split("\n").filter((l) => l.includes('"lease-lost"')).length;
    console.info(`[failover] gw-2 after SIGCONT: ${refused} run(s) refused with lease-lost; ${hits.filter((h) => h.gw === "gw-2" && h.at >= resumedAt).length} fires since`);

    // (d) over the whole test: every fire had a claim of its own gateway, claims are unique
    // per (agent, slot) (the primary key) and, per agent, epochs only grow and name one owner each.
    // Fires seen so far: each one's claim was committed before it was sent, so the query below has it.
    const fired = [...hits];
    const claims = await db.query<{ agent_id: string; slot_key: string; owner: string; epoch: string; status: string; claimed_at: string }>(
      `SELECT agent_id, slot_key, owner, epoch, status, claimed_at FROM ${schema}.heartbeat_run_claim ORDER BY agent_id, claimed_at, epoch`,
    );
    const claimsBy = new Map<string, number>();
    for (const c of claims) claimsBy.set(`${c.agent_id} ${c.owner}`, (claimsBy.get(`${c.agent_id} ${c.owner}`) ?? 0) + 1);
    const firesBy = new Map<string, number>();
    for (const h of fired) firesBy.set(`${h.agent} ${h.gw}`, (firesBy.get(`${h.agent} ${h.gw}`) ?? 0) + 1);
    const unclaimed = [...firesBy].filter(([k, n]) => n > (claimsBy.get(k) ?? 0));
    if (unclaimed.length > 0) {
      const [k] = unclaimed[0]!;
      const agent = k.split(" ")[0];
      console.info(`[failover] ${k}: fires`, hits.filter((h) => h.agent === agent), "claims", claims.filter((c) => c.agent_id === agent));
      for (const [gw, c] of procs) for (const l of c.stdout().split("\n").filter((x) => x.includes(`"${agent}"`))) console.info(gw, l.slice(0, 300));
    }
    expect(unclaimed, "fires without a claim of their own (agent gateway → fires)").toEqual([]);
    expect(new Set(claims.map((c) => `${c.agent_id} ${c.slot_key}`)).size).toBe(claims.length);
    const epochOwner = new Map<string, string>();
    const lastEpoch = new Map<string, number>();
    for (const c of claims) {
      const e = Number(c.epoch);
      expect(e, `${c.agent_id}: a claim of an older epoch after a newer one`).toBeGreaterThanOrEqual(lastEpoch.get(c.agent_id) ?? 0);
      lastEpoch.set(c.agent_id, e);
      const k = `${c.agent_id} ${e}`;
      expect(epochOwner.get(k) ?? c.owner, `${c.agent_id} epoch ${e} claimed by two owners`).toBe(c.owner);
      epochOwner.set(k, c.owner);
    }
    // No due slot missed: the longest gap between two runs of one agent stays under a cadence
    // plus a failover (TTL + a renewal) plus slack for a loaded machine (a slot skipped would add a whole cadence).
    let worst = { agent: "", gap: 0 };
    const byAgent = new Map<string, number[]>();
    for (const h of hits) if (h.at >= windowStart) byAgent.set(h.agent, [...(byAgent.get(h.agent) ?? []), h.at]);
    for (const [agent, ts] of byAgent) {
      ts.sort((a, b) => a - b);
      for (let i = 1; i < ts.length; i++) if (ts[i]! - ts[i - 1]! > worst.gap) worst = { agent, gap: ts[i]! - ts[i - 1]! };
    }
    // A slot run twice shows as two fires of one agent well under a cadence apart (runs are spaced
    // from their starts, so even a late catch-up is followed by a full cadence).
    let closest = { agent: "", gap: Infinity, by: "" };
    for (const [agent] of byAgent) {
      const fires = hits.filter((h) => h.agent === agent).sort((x, y) => x.at - y.at);
      for (let i = 1; i < fires.length; i++) {
        const gap = fires[i]!.at - fires[i - 1]!.at;
        if (gap < closest.gap) closest = { agent, gap, by: `${fires[i - 1]!.gw}→${fires[i]!.gw}` };
      }
    }
    console.info(`[failover] closest two fires of one agent: ${closest.gap} ms (${closest.agent}, ${closest.by})`);
    // The same from the claims (their time is the run's start in its gateway, not an HTTP arrival).
    let closestClaim = { agent: "", gap: Infinity, pair: "" };
    for (let i = 1; i < claims.length; i++) {
      const [p, c] = [claims[i - 1]!, claims[i]!];
      if (p.agent_id !== c.agent_id) continue;
      const gap = Number(c.claimed_at) - Number(p.claimed_at);
      if (gap < closestClaim.gap) closestClaim = { agent: c.agent_id, gap, pair: `${p.slot_key}@${p.owner}/${p.epoch} ${p.status} → ${c.slot_key}@${c.owner}/${c.epoch} ${c.status}` };
    }
    console.info(`[failover] closest two claims of one agent: ${closestClaim.gap} ms (${closestClaim.agent}: ${closestClaim.pair})`);
    if (process.env.HB_FAILOVER_DEBUG) {
      console.info(claims.filter((c) => c.agent_id === closestClaim.agent).map((c) => `${c.slot_key}@${c.owner}/${c.epoch} ${c.status} ${c.claimed_at}`).join("\n"));
      console.info(hits.filter((h) => h.agent === closestClaim.agent).map((h) => `${h.gw}@${h.at}`).join(" "));
      for (const [gw, c] of procs) for (const l of c.stdout().split("\n").filter((x) => x.includes(`"${closestClaim.agent}"`) && !x.includes('"status":"ran"'))) console.info(gw, l.slice(0, 300));
    }
    const lastHit = new Map<string, number>();
    for (const [agent, ts] of byAgent) lastHit.set(agent, ts.at(-1)!);
    const silent = [...byAgent.keys()].filter((a) => Date.now() - lastHit.get(a)! > EVERY_MS + 2 * TTL_MS + 1_000);
    // What the gateways said: skips by reason and alerts (one pino JSON line per event).
    const lines = [...procs.values()].flatMap((c) => c.stdout().split("\n")).filter((l) => l.startsWith("{"));
    const events = lines.map((l) => JSON.parse(l) as { event?: string; agentId?: string; reason?: string; status?: string; kind?: string; state?: string });
    const skips = new Map<string, number>();
    for (const e of events) if (e.reason && (e.event === "wake-skipped" || e.status === "skipped")) skips.set(e.reason, (skips.get(e.reason) ?? 0) + 1);
    const alerted = new Set(events.filter((e) => e.event === "alert" && e.state === "open" && e.kind === "past-due").map((e) => e.agentId));
    const missedSilently = events.filter((e) => e.event === "wake-skipped" && e.reason === "missed" && !alerted.has(e.agentId));
    console.info(`[failover] ${hits.length} fires, ${claims.length} claims; skips ${JSON.stringify(Object.fromEntries(skips))}; longest gap between two runs of an agent: ${worst.gap} ms (${worst.agent})`);
    expect(missedSilently, "due slots skipped as missed without an alert").toEqual([]);
    if (process.env.HB_FAILOVER_DEBUG) {
      console.info(`[debug] phases: window ${windowStart} killed ${killedAt} stopped ${stoppedAt} resumed ${resumedAt}`);
      console.info(hits.filter((h) => h.agent === worst.agent).map((h) => `${h.gw}@${h.at}`).join(" "));
      for (const [gw, c] of procs) for (const l of c.stdout().split("\n").filter((x) => x.includes(`"${worst.agent}"`) && !x.includes('"status":"ran"'))) console.info(gw, l.slice(0, 400));
      const cl = await db.query(`SELECT slot_key, owner, epoch, status, claimed_at FROM ${schema}.heartbeat_run_claim WHERE agent_id = $1 ORDER BY claimed_at`, [worst.agent]);
      console.info(cl.map((c) => JSON.stringify(c)).join("\n"));
    }
    expect(byAgent.size).toBe(AGENTS);
    expect(silent).toEqual([]);
    expect(worst.gap).toBeLessThan(EVERY_MS + 2 * TTL_MS + RENEW_MS + 1_500);
  }, 110_000);
});
