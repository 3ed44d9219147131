import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.ts";
import type { LeaseRound, OwnershipPort } from "../../src/store/ownership.ts";
import { resolveShared } from "../../src/store/postgres-leases.ts";
import { postgresStore } from "../../src/store/postgres.ts";
import type { HeartbeatStore, RunRecord } from "../../src/store/types.ts";
import { startTestPostgres, type TestPostgres } from "../support/postgres.ts";
import { agentState, runClaim } from "./contract-suite.ts";

/**
 * The lease SQL of shared mode (src/store/postgres-leases.ts, postgres-fenced.ts,
 * postgres-wakes.ts) on a real Postgres, round by round: two owners racing for the same
 * agents never both get one; an expired lease is taken with its epoch + 1; every write
 * of the old epoch — claim, renew, finish, state, history — is refused by the database;
 * a released lease is taken at once; forwarded wakes reach the owner (NOTIFY + inbox).
 * Real time: leases of a few hundred ms, expiry on the database clock.
 */

let db: TestPostgres;
beforeAll(async () => {
  db = await startTestPostgres("leases");
}, 60_000);
afterAll(async () => {
  await db?.dispose();
}, 30_000);

const stores: HeartbeatStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await Promise.resolve(s.close()).catch(() => undefined);
});

const TTL = 400;
async function sharedStore(schema: string, owner: string): Promise<OwnershipPort> {
  const store = postgresStore({ connectionString: db.url, schema, shared: { leaseTtl: TTL, renewEvery: 100 } });
  stores.push(store);
  await store.open(owner);
  if (!store.ownership) throw new Error("a shared store offers ownership");
  return store.ownership;
}
const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `a${String(i).padStart(2, "0")}`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** A renewal and a round, as the runtime's two loops do; `lost`: held leases the renewal did not find. */
const round = async (port: OwnershipPort, owner: string, agentIds: string[], held: Map<string, number>): Promise<LeaseRound & { lost: string[] }> => {
  const renewed = new Set(await port.renewLeases(owner, held));
  const lost = [...held.keys()].filter((id) => !renewed.has(id));
  const live = new Map([...held].filter(([id]) => renewed.has(id)));
  return { ...(await port.tick({ owner, agentIds, held: live, idle: () => true, take: true })), lost };
};
/** Apply a round to a held map, as the runtime does. */
const apply = (held: Map<string, number>, r: LeaseRound & { lost: string[] }): Map<string, number> => {
  for (const id of [...r.lost, ...r.shed]) held.delete(id);
  for (const t of r.taken) held.set(t.agentId, t.epoch);
  return held;
};
const leases = (schema: string) =>
  db.query<{ agent_id: string; owner: string; epoch: string }>(`SELECT agent_id, owner, epoch FROM "${schema}".heartbeat_agent_lease ORDER BY agent_id`);

describe("shared option", () => {
  it("defaults to a 15 s lease renewed every 5 s; a renewal slower than half the TTL is refused naming the field", () => {
    expect(resolveShared(true)).toEqual({ leaseTtlMs: 15_000, renewEveryMs: 5_000 });
    expect(resolveShared({ leaseTtl: "2s" })).toEqual({ leaseTtlMs: 2_000, renewEveryMs: 666 });
    expect(resolveShared(false)).toBeUndefined();
    expect(() => resolveShared({ leaseTtl: "2s", renewEvery: "1.5s" })).toThrow(ConfigError);
    expect(() => resolveShared({ leaseTtl: "2s", renewEvery: "1.5s" })).toThrow(/shared\.renewEvery/);
    expect(() => resolveShared({ ttl: 3 } as never)).toThrow(/shared/);
  });
});

describe("agent leases on Postgres", () => {
  it("two owners racing for 20 agents never both hold one, and settle on 10 each", async () => {
    const schema = db.freshSchema("race");
    const [a, b] = [await sharedStore(schema, "A"), await sharedStore(schema, "B")];
    const agents = ids(20);
    const heldA = new Map<string, number>();
    const heldB = new Map<string, number>();
    for (let i = 0; i < 4; i++) {
      const [ra, rb] = await Promise.all([round(a, "A", agents, new Map(heldA)), round(b, "B", agents, new Map(heldB))]);
      // Shed leases are released by the runtime once their state is saved.
      await Promise.all([a.release("A", new Map(ra.shed.map((id) => [id, heldA.get(id)!]))), b.release("B", new Map(rb.shed.map((id) => [id, heldB.get(id)!])))]);
      apply(heldA, ra);
      apply(heldB, rb);
      for (const id of heldA.keys()) expect(heldB.has(id)).toBe(false);
    }
    expect(heldA.size).toBe(10);
    expect(heldB.size).toBe(10);
    const rows = await leases(schema);
    expect(rows.filter((r) => r.owner === "A").map((r) => r.agent_id).sort()).toEqual([...heldA.keys()].sort());
    expect(rows.filter((r) => r.owner === "B").map((r) => r.agent_id).sort()).toEqual([...heldB.keys()].sort());
  });

  it("an expired lease is taken by another owner with its epoch + 1; the old owner's renewal finds it lost", async () => {
    const schema = db.freshSchema("expiry");
    const [a, b] = [await sharedStore(schema, "A"), await sharedStore(schema, "B")];
    const heldA = apply(new Map(), await round(a, "A", ["x"], new Map()));
    expect(heldA.get("x")).toBe(1);
    // B sees A live and the lease unexpired: nothing to take.
    expect((await round(b, "B", ["x"], new Map())).taken).toEqual([]);
    await sleep(TTL + 100);
    const rb = await round(b, "B", ["x"], new Map());
    expect(rb.taken).toEqual([{ agentId: "x", epoch: 2 }]);
    const ra = await round(a, "A", ["x"], heldA);
    expect(ra.lost).toEqual(["x"]);
    expect(ra.taken).toEqual([]);
    expect((await a.owners("A", ["x"])).get("x")).toBe("B");
  });

  it("every write of the old epoch is refused by the database: claim, renew, finish, state, history", async () => {
    const schema = db.freshSchema("fence");
    const [a, b] = [await sharedStore(schema, "A"), await sharedStore(schema, "B")];
    apply(new Map(), await round(a, "A", ["x"], new Map()));
    const now = Date.now();
    expect(await a.claim(runClaim({ agentId: "x", slotKey: "slot:1", owner: "A", epoch: 1, claimedAt: now, leaseExpiresAt: now + 30_000 }))).toBe("ok");
    expect(await a.claim(runClaim({ agentId: "x", slotKey: "slot:1", owner: "A", epoch: 1, claimedAt: now, leaseExpiresAt: now + 30_000 }))).toBe("slot-taken");
    expect(await a.saveStates("A", [{ state: agentState("x", { runCount: 1 }), epoch: 1 }])).toEqual([]);

    await sleep(TTL + 100);
    // Expired and not yet taken: no new claim (the owner cannot prove it), but nothing was taken either.
    expect(await a.claim(runClaim({ agentId: "x", slotKey: "slot:2", owner: "A", epoch: 1, claimedAt: now, leaseExpiresAt: now + 30_000 }))).toBe("lease-lost");
    expect((await round(b, "B", ["x"], new Map())).taken).toEqual([{ agentId: "x", epoch: 2 }]);

    expect(await a.claim(runClaim({ agentId: "x", slotKey: "slot:3", owner: "A", epoch: 1, claimedAt: now, leaseExpiresAt: now + 30_000 }))).toBe("lease-lost");
    expect(await a.renew("A", "x", "slot:1", 1, now + 60_000)).toBe(false);
    expect(await a.finish("A", "x", "slot:1", 1, "ran", now)).toBe(false);
    expect(await a.saveStates("A", [{ state: agentState("x", { runCount: 99 }), epoch: 1 }])).toEqual(["x"]);
    const run: RunRecord = { agentId: "x", runId: 1, startedAt: now, finishedAt: now, durationMs: 0, status: "ran", reasons: [], usage: null, reason: null, error: null };
    await a.appendRuns("A", [{ run, epoch: 1 }], 100);

    const claims = await db.query<{ slot_key: string; status: string; epoch: string; lease_expires_at: string }>(
      `SELECT slot_key, status, epoch, lease_expires_at FROM "${schema}".heartbeat_run_claim ORDER BY slot_key`,
    );
    expect(claims.map((c) => [c.slot_key, c.status, Number(c.epoch), Number(c.lease_expires_at)])).toEqual([["slot:1", "open", 1, now + 30_000]]);
    expect((await b.loadStates(["x"]))[0]?.runCount).toBe(1);
    expect(await db.query(`SELECT 1 FROM "${schema}".heartbeat_run_history`)).toEqual([]);

    // The new owner's writes land.
    expect(await b.claim(runClaim({ agentId: "x", slotKey: "slot:3", owner: "B", epoch: 2, claimedAt: now, leaseExpiresAt: now + 30_000 }))).toBe("ok");
    expect(await b.finish("B", "x", "slot:3", 2, "ran", now)).toBe(true);
    expect(await b.saveStates("B", [{ state: agentState("x", { runCount: 2 }), epoch: 2 }])).toEqual([]);
    await b.appendRuns("B", [{ run, epoch: 2 }], 100);
    expect(await db.query(`SELECT run_id FROM "${schema}".heartbeat_run_history`)).toHaveLength(1);
  });

  it("released leases (a clean stop) are taken at once, and the fair share follows the live gateways", async () => {
    const schema = db.freshSchema("release");
    const [a, b] = [await sharedStore(schema, "A"), await sharedStore(schema, "B")];
    const agents = ids(6);
    const heldA = apply(new Map(), await round(a, "A", agents, new Map()));
    expect(heldA.size).toBe(6); // alone: everything
    // B joins: nothing is free yet. A's next round sees two gateways: its share is 3, it releases 3.
    const heldB = apply(new Map(), await round(b, "B", agents, new Map()));
    expect(heldB.size).toBe(0);
    const ra = await round(a, "A", agents, new Map(heldA));
    expect(ra.shed).toHaveLength(3);
    await a.release("A", new Map(ra.shed.map((id) => [id, heldA.get(id)!])));
    apply(heldA, ra);
    // B takes them at once (released leases count as expired), with epoch + 1.
    const rb = await round(b, "B", agents, new Map(heldB));
    expect(rb.taken.map((t) => t.agentId).sort()).toEqual(ra.shed.slice().sort());
    expect(rb.taken.every((t) => t.epoch === 2)).toBe(true);
    apply(heldB, rb);
    // A stops cleanly: everything released and its gateway row gone; B alone takes all at once.
    await a.release("A", heldA);
    await a.leave("A");
    const rb2 = await round(b, "B", agents, new Map(heldB));
    expect(rb2.gateways).toBe(1);
    expect(apply(heldB, rb2).size).toBe(6);
  });

  it("forwarded wakes reach the owner: NOTIFY wakes its listener, the inbox holds them until drained", async () => {
    const schema = db.freshSchema("wakes");
    const [a, b] = [await sharedStore(schema, "A"), await sharedStore(schema, "B")];
    apply(new Map(), await round(a, "A", ["x", "y"], new Map()));
    let notified = 0;
    await a.listen(() => notified++, () => {});
    await b.forward("B", [{ agentId: "x", reason: "manual", force: true }, { agentId: "x", reason: "exec-event", force: false, coalesceMs: 0 }]);
    for (let i = 0; i < 50 && notified === 0; i++) await sleep(20);
    expect(notified).toBeGreaterThan(0);
    // Only the owner drains them, oldest first.
    expect(await b.drain("B", ["x"])).toEqual([]);
    expect(await a.drain("A", ["x", "y"])).toEqual([
      { agentId: "x", reason: "manual", force: true },
      { agentId: "x", reason: "exec-event", force: false, coalesceMs: 0 },
    ]);
    expect(await a.drain("A", ["x", "y"])).toEqual([]);
    await a.dispose();
  });
});
