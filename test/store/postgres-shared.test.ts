import { createServer, connect, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createGateway, type Gateway, type HeartbeatEvent } from "../../src/index.ts";
import { postgresStore } from "../../src/store/postgres.ts";
import { startTestPostgres, type TestPostgres } from "../support/postgres.ts";

/**
 * Two gateways in one process on one shared Postgres store (real time, short leases):
 * they split the agents, a wake for an agent the other one owns is forwarded to it and
 * the receipt says so, a clean stop hands its agents over at once, health() reports
 * ownership, and a store without `shared` keeps today's behaviour (no ownership at all).
 */

let db: TestPostgres;
beforeAll(async () => {
  db = await startTestPostgres("shared");
}, 60_000);
afterAll(async () => {
  await db?.dispose();
}, 30_000);

const gateways: Gateway[] = [];
afterEach(async () => {
  for (const g of gateways.splice(0)) await g.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, ms: number, probe: () => T | undefined | false): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(25);
  }
}

const AGENTS = ["a1", "a2", "a3", "a4"].map((id) => ({ id, every: "1h" }));

/** A TCP proxy to the test server that can be cut (every connection dropped, new ones refused) and restored. */
async function cuttableProxy(target: URL): Promise<{ url: string; cut(): void; restore(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let refusing = false;
  const server: Server = createServer((client) => {
    if (refusing) return void client.destroy();
    const up = connect(Number(target.port), target.hostname);
    for (const s of [client, up]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => s.destroy());
    }
    client.pipe(up).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = new URL(target.toString());
  url.hostname = "127.0.0.1";
  url.port = String((server.address() as AddressInfo).port);
  return {
    url: url.toString(),
    cut() {
      refusing = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      refusing = false;
    },
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

function gateway(schema: string, owner: string, url = db.url) {
  const runs: { agentId: string; reasons: string[] }[] = [];
  const events: HeartbeatEvent[] = [];
  const gw = createGateway({
    agents: AGENTS,
    store: postgresStore({ connectionString: url, schema, shared: { leaseTtl: 1_000, renewEvery: 300 }, statementTimeoutMs: 1_000, connectTimeoutMs: 1_000 }),
    ownerId: owner,
    logger: false,
    policy: { coalesceMs: 0 },
    runHeartbeat: async ({ agentId, reasons }) => {
      runs.push({ agentId, reasons });
      return { status: "ran" };
    },
    onEvent: (e) => events.push(e),
  });
  gateways.push(gw);
  gw.start();
  /** Agents it owns and runs (an actor started from the stored state). */
  const serving = (): string[] => gw.health().agents.filter((x) => x.state !== "stopped").map((x) => x.id);
  return { gw, runs, events, serving, owned: () => gw.health().ownership?.owned ?? 0 };
}

describe("gateways sharing a Postgres store", () => {
  it("split the agents, forward a wake to the owner (the receipt says so), and hand agents over at once on a clean stop", async () => {
    const schema = db.freshSchema("gw");
    const a = gateway(schema, "A");
    await until("A to serve every agent", 10_000, () => a.owned() === 4 && a.serving().length === 4);
    const b = gateway(schema, "B");
    await until("A and B to serve two each", 10_000, () => a.serving().length === 2 && b.serving().length === 2 && a.owned() === 2 && b.owned() === 2);
    expect(a.gw.health().ownership).toMatchObject({ owner: "A", owned: 2, gateways: 2 });

    // An agent B owns, woken through A: forwarded, and B runs it.
    const onB = b.serving()[0]!;
    await until("A to learn who owns it", 5_000, () => a.gw.requestWake({ reason: "manual", agentId: onB }).owner === "B" || undefined);
    const receipt = a.gw.requestWake({ reason: "manual", agentId: onB });
    expect(receipt).toMatchObject({ accepted: true, targets: [onB], forwarded: true, owner: "B", forwardedTargets: [onB] });
    await until("B to run the forwarded wake", 5_000, () => b.runs.some((r) => r.agentId === onB && r.reasons.includes("manual")));
    expect(a.runs.filter((r) => r.agentId === onB)).toEqual([]);
    // A local wake is not forwarded.
    const onA = a.serving()[0]!;
    expect(a.gw.requestWake({ reason: "manual", agentId: onA })).toEqual({ accepted: true, targets: [onA] });

    // A stops cleanly: its leases are released and B takes them in its next round, well within a TTL.
    const stoppedAt = Date.now();
    await a.gw.stop();
    await until("B to serve every agent", 3_000, () => b.serving().length === 4);
    expect(Date.now() - stoppedAt).toBeLessThan(1_000);
    const rows = await db.query<{ owner: string; n: number }>(`SELECT owner, count(*)::int AS n FROM "${schema}".heartbeat_agent_lease GROUP BY owner`);
    expect(rows).toEqual([{ owner: "B", n: 4 }]);
  }, 40_000);

  it("a gateway cut off from the database alerts, stops the agents it can no longer prove, and rejoins when it is back", async () => {
    const schema = db.freshSchema("cut");
    const proxy = await cuttableProxy(new URL(db.url));
    try {
      const a = gateway(schema, "A", proxy.url);
      const b = gateway(schema, "B");
      await until("A and B to serve two each", 15_000, () => a.serving().length === 2 && b.serving().length === 2);

      const cutAt = Date.now();
      proxy.cut();
      // A can prove its leases for at most a TTL after its last renewal: then it stops them, and B takes them.
      await until("A to stop the agents it cannot prove", 3_000, () => a.serving().length === 0);
      const stoppedAfter = Date.now() - cutAt;
      await until("B to serve every agent", 3_000, () => b.serving().length === 4);
      const alert = a.events.find((e) => e.type === "alert" && e.kind === "store-unavailable" && e.state === "open");
      expect(alert, "A raised store-unavailable").toBeDefined();
      expect(a.gw.health().ok).toBe(false);
      expect(stoppedAfter).toBeLessThanOrEqual(1_000 + 300 + 200); // TTL past the last renewal, at most

      // While cut off, a wake for an agent A no longer owns is accepted for forwarding (sent when the database is back).
      const receipt = a.gw.requestWake({ reason: "manual", agentId: "a1" });
      expect(receipt).toMatchObject({ accepted: true, forwarded: true });

      proxy.restore();
      await until("A's alert to resolve", 15_000, () =>
        a.events.some((e) => e.type === "alert" && e.kind === "store-unavailable" && e.state === "resolved") || undefined,
      );
      await until("A to rejoin and serve a share again", 15_000, () => a.serving().length === 2 && b.serving().length === 2);
      // The wake queued while cut off reached a1's owner.
      await until("a1's owner to run the queued wake", 5_000, () => [...a.runs, ...b.runs].some((r) => r.agentId === "a1" && r.reasons.includes("manual")));
    } finally {
      await Promise.all(gateways.splice(0).map((g) => g.stop()));
      await proxy.close();
    }
  }, 60_000);

  it("a store opened without `shared` has no ownership: one gateway serves every agent, as before", async () => {
    const store = postgresStore({ connectionString: db.url, schema: db.freshSchema("solo") });
    expect(store.ownership).toBeUndefined();
    const gw = createGateway({ agents: AGENTS, store, logger: false, runHeartbeat: async () => ({ status: "ran" }) });
    gateways.push(gw);
    gw.start();
    await until("every agent to be idle", 5_000, () => gw.health().agents.every((x) => x.state === "idle") || undefined);
    expect(gw.health().ownership).toBeUndefined();
    expect(gw.requestWake({ reason: "manual", agentId: "a1" })).toEqual({ accepted: true, targets: ["a1"] });
  });
});
