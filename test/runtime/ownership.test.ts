import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { resolveAgents } from "../../src/policy/config.ts";
import { knownRun } from "../../src/runtime/ownership-glue.ts";
import { memoryStore } from "../../src/store/memory.ts";
import type { HeartbeatStore, StoredAgentState } from "../../src/store/types.ts";
import { FakeOwnership } from "../support/fake-ownership.ts";
import { advance, useFakeTime } from "../support/fake-time.ts";
import { SEC, startGateway, stopAllGateways, T0, type Harness } from "../support/gateway.ts";

/**
 * Shared mode through createGateway, on fake time with an in-memory OwnershipPort
 * (test/support/fake-ownership.ts; the Postgres one is tested against a real server in
 * test/store/postgres-leases.test.ts): only agents whose lease the gateway holds run; a
 * lease lost stops its agent at once, aborting a run in flight; a database out of reach
 * raises store-unavailable and stops agents once their leases cannot be proven; a failed
 * or refused claim never lets a run reach the host; wakes for agents owned elsewhere are
 * forwarded and the receipt says so.
 */

const AGENTS = [{ id: "a", every: "10s" }, { id: "b", every: "10s" }];
let port: FakeOwnership;

beforeEach(() => {
  useFakeTime(T0);
  port = new FakeOwnership(3_000, 1_000);
});
afterEach(async () => {
  await stopAllGateways();
  vi.useRealTimers();
});

function shared(): Harness {
  const store: HeartbeatStore = { ...memoryStore(), ownership: port };
  return startGateway({ agents: AGENTS, store, ownerId: "me" });
}
const serving = (h: Harness): string[] => h.gw.health().agents.filter((a) => a.state !== "stopped").map((a) => a.id);
const storeAlerts = (h: Harness): string[] => h.alertTrail("store-unavailable");

describe("a gateway on a shared store", () => {
  it("serves the agents it holds; a lost lease stops that agent at once and aborts its run in flight", async () => {
    const h = shared();
    await advance(SEC);
    expect(serving(h)).toEqual(["a", "b"]);
    expect(h.gw.health().ownership).toMatchObject({ owner: "me", owned: 2, gateways: 1 });
    h.host.set("a", "hold");
    await advance(10 * SEC);
    const call = h.host.calls.find((c) => c.agentId === "a");
    expect(call).toBeDefined();

    port.steal("a");
    await advance(SEC);
    expect(call!.ctx.signal.aborted).toBe(true);
    expect(h.of("run-finished", "a").map((e) => e.status)).toEqual(["aborted"]);
    expect(serving(h)).toEqual(["b"]);
    const callsOfA = h.host.calls.filter((c) => c.agentId === "a").length;
    await advance(30 * SEC);
    expect(h.host.calls.filter((c) => c.agentId === "a")).toHaveLength(callsOfA);
    expect(h.of("run-started", "b").length).toBeGreaterThanOrEqual(3);
  });

  it("cut off from the database: store-unavailable, its agents stopped once their leases run out, back when it returns", async () => {
    const h = shared();
    await advance(SEC);
    expect(serving(h)).toEqual(["a", "b"]);
    const calls = h.host.calls.length;
    port.down = true;
    await advance(SEC);
    expect(storeAlerts(h)).toEqual(["open"]);
    // The last renewal proved the leases for one TTL (3 s): then the agents stop, whatever their schedule.
    await advance(3 * SEC);
    expect(serving(h)).toEqual([]);
    await advance(20 * SEC);
    expect(h.host.calls).toHaveLength(calls);

    port.down = false;
    await advance(6 * SEC);
    expect(serving(h)).toEqual(["a", "b"]);
    // Resolved once every channel that failed has worked again (the state writer retries with backoff, up to 30 s).
    await advance(30 * SEC);
    expect(storeAlerts(h)).toEqual(["open", "resolved"]);
    // Taken again: a new epoch each.
    expect([...port.leases.values()].map((l) => l.epoch)).toEqual([2, 2]);
  });

  it("a claim that fails (database error) means no run: skipped store-unavailable, the host is never called", async () => {
    const h = shared();
    await advance(SEC);
    port.failClaims = true;
    await advance(10 * SEC);
    expect(h.host.calls).toEqual([]);
    expect(h.of("run-finished").map((e) => [e.agentId, e.status, "reason" in e ? e.reason : undefined])).toEqual([
      ["a", "skipped", "store-unavailable"],
      ["b", "skipped", "store-unavailable"],
    ].filter(([id]) => h.of("run-started", id).length > 0));
    expect(storeAlerts(h)).toEqual(["open"]);
  });

  it("a run whose claim renewal is refused is aborted", async () => {
    const h = shared();
    await advance(SEC);
    h.host.set("a", "hold");
    await advance(10 * SEC);
    const call = h.host.calls.find((c) => c.agentId === "a")!;
    port.refuseRenewals = true;
    // The run's claim (leaseTtl 30 s) is renewed every 10 s: the first refusal aborts it.
    await advance(10 * SEC);
    expect(call.ctx.signal.aborted).toBe(true);
    expect(h.of("run-finished", "a")[0]?.status).toBe("aborted");
  });

  it("a wake for an agent another gateway owns is forwarded; the receipt names the owner", async () => {
    const h = shared();
    await advance(SEC);
    port.steal("b", "gw-2");
    await advance(2 * SEC);
    expect(serving(h)).toEqual(["a"]);
    expect(h.gw.requestWake({ reason: "manual", agentId: "b" })).toEqual({
      accepted: true,
      targets: ["b"],
      forwarded: true,
      owner: "gw-2",
      forwardedTargets: ["b"],
    });
    await advance(10);
    expect(port.inbox).toEqual([{ agentId: "b", reason: "manual", force: false }]);
    expect(h.gw.requestWake({ reason: "manual", agentId: "a" })).toEqual({ accepted: true, targets: ["a"] });
  });
});

describe("knownRun: a run the previous owner claimed but did not record", () => {
  const [agent] = resolveAgents([{ id: "a", every: "10s" }], "agents");
  const [cron] = resolveAgents([{ id: "a", cron: "*/10 * * * * *" }], "agents");
  const st = { agentId: "a", dueAt: T0, lastRunStartAt: T0 - 10_000 } as StoredAgentState;
  it("moves an interval agent's due slot one cadence past the claim", () => {
    expect(knownRun(st, T0 + 15, agent)).toMatchObject({ dueAt: T0 + 10_015, lastRunStartAt: T0 + 15 });
  });
  it("keeps the state when the claim is older than the due slot, already recorded, or the agent is cron (its claims are per slot)", () => {
    expect(knownRun(st, T0 - 10_000, agent)).toBe(st);
    expect(knownRun(st, undefined, agent)).toBe(st);
    expect(knownRun(st, T0 + 15, cron)).toBe(st);
  });
});
