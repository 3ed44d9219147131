import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { AgentConfig, Lanes } from "../../src/index.ts";
import { useFakeTime } from "../support/fake-time.ts";
import { gaps, HOUR, MIN, SEC, settle, startGateway, stopAllGateways, T0, TestHost } from "../support/gateway.ts";

/**
 * Contract: the gateway supervises its heartbeat actors. A crashed actor (here: the host's
 * lane probe throws inside the machine's decision step) is restarted with its state, at most
 * 3 times in 60 s; then the agent is marked failed with one "restart-limit" alert, the rest
 * keep running, and a reload that changes the agent clears it. A run that throws is not a
 * crash: it finishes "failed" and the heartbeat goes on.
 */

beforeEach(() => useFakeTime(T0));
afterEach(async () => {
  await stopAllGateways();
  vi.useRealTimers();
});

/** A session probe that throws for session "boom" while `crashes` > 0 (Infinity: always). */
function explodingLanes() {
  const state = { crashes: 0, probes: 0 };
  const lanes: Lanes = {
    sessionBusy: (key) => {
      if (key !== "boom") return false;
      state.probes++;
      if (state.crashes > 0) {
        state.crashes--;
        throw new Error("lane probe exploded");
      }
      return false;
    },
  };
  return { state, lanes };
}

const AGENTS: AgentConfig[] = [
  { id: "crashy", every: "5m", sessionKey: "boom" },
  { id: "steady", every: "5m", sessionKey: "calm" },
];

describe("restarts", () => {
  it("a crashed agent is restarted with its state: agent-restarted, runCount kept, the slot still runs", async () => {
    const probe = explodingLanes();
    const h = startGateway({ agents: AGENTS, lanes: probe.lanes });
    await vi.advanceTimersByTimeAsync(20 * MIN);
    const before = h.agent("crashy");
    expect(before.runCount).toBeGreaterThanOrEqual(3);
    const oldRef = h.gw.actor.system.get("heartbeat:crashy");
    const nextDue = before.nextDueAt!;

    probe.state.crashes = 1;
    await vi.advanceTimersByTimeAsync(nextDue - Date.now() + SEC);
    expect(h.of("agent-restarted", "crashy")).toMatchObject([
      { agentId: "crashy", at: nextDue, error: expect.stringContaining("lane probe exploded"), restartsInWindow: 1 },
    ]);
    const newRef = h.gw.actor.system.get("heartbeat:crashy");
    expect(newRef).toBeDefined();
    expect(newRef).not.toBe(oldRef);
    // The slot that was being decided when it crashed still ran, on the restarted actor, at once.
    const rerun = h.of("run-started", "crashy").at(-1)!;
    expect(rerun.reasons).toEqual(["interval"]);
    expect(rerun.at).toBeGreaterThanOrEqual(nextDue);
    expect(rerun.at).toBeLessThan(nextDue + 100);
    expect(h.agent("crashy")).toMatchObject({ runCount: before.runCount + 1, failed: false, state: "idle" });
    expect(h.agent("crashy").nextDueAt).toBe(nextDue + 5 * MIN);
    expect(h.gw.health().ok).toBe(true);
    expect(h.gw.actor.getSnapshot().status).toBe("active");

    // The grid is kept: the next slots are still nextDue + k × 5m.
    await vi.advanceTimersByTimeAsync(30 * MIN);
    const later = h.starts("crashy").filter((t) => t > nextDue - T0 + SEC);
    expect(later.map((t) => (t - (nextDue - T0)) % (5 * MIN))).toEqual(later.map(() => 0));
    expect(h.agent("crashy").runCount).toBe(before.runCount + 1 + later.length);
  });

  it("wakes folded before a crash survive the restart", async () => {
    const probe = explodingLanes();
    const h = startGateway({ agents: [{ id: "crashy", every: "1d", sessionKey: "boom" }], lanes: probe.lanes });
    h.gw.requestWake({ reason: "exec-event", agentId: "crashy", coalesceMs: 0 }); // bootstrap run
    await settle();
    h.gw.requestWake({ reason: "acp:spawn:x", agentId: "crashy", coalesceMs: 0 }); // deferred not-due, held
    await settle();
    expect(h.agent("crashy").pendingReasons).toEqual(["acp:spawn:x"]);
    probe.state.crashes = 1;
    h.gw.requestWake({ reason: "background-task", agentId: "crashy", coalesceMs: 0 }); // crashes in the decision
    await vi.advanceTimersByTimeAsync(SEC);
    expect(h.of("agent-restarted", "crashy")).toHaveLength(1);
    // The restarted actor kept the folded wake and got the crashing one again: one run carries both.
    expect(h.of("run-started", "crashy").at(-1)?.reasons).toEqual(expect.arrayContaining(["acp:spawn:x", "background-task"]));
    expect(h.agent("crashy").pendingReasons).toEqual([]);
  });

  it("an accepted wake whose decision crashed the actor is not lost: it runs on the restarted actor", async () => {
    const probe = explodingLanes();
    const h = startGateway({ agents: [{ id: "crashy", every: "1d", sessionKey: "boom" }], lanes: probe.lanes });
    probe.state.crashes = 1;
    expect(h.gw.requestWake({ reason: "manual", agentId: "crashy", coalesceMs: 0 })).toMatchObject({ accepted: true });
    await vi.advanceTimersByTimeAsync(10 * SEC);
    expect(h.of("agent-restarted", "crashy")).toHaveLength(1);
    // The receipt said accepted: the wake must run (or at least leave a record), never vanish.
    const traces = h.events.filter(
      (e) => (e.type === "run-started" || e.type === "wake-skipped" || e.type === "wake-deferred") && e.reasons.includes("manual"),
    );
    expect(traces.length, "the accepted manual wake left no trace after the crash").toBeGreaterThan(0);
    expect(h.of("run-started", "crashy")).toMatchObject([{ reasons: ["manual"] }]);
  });

  it("a crash while a busy wake is deferred keeps retrying it: it runs when the lane frees, not at the next slot", async () => {
    const probe = explodingLanes();
    let mainBusy = true;
    const h = startGateway({
      agents: [{ id: "crashy", every: "1d", sessionKey: "boom" }],
      lanes: { mainBusy: () => mainBusy, sessionBusy: probe.lanes.sessionBusy! },
    });
    h.gw.requestWake({ reason: "manual", agentId: "crashy", coalesceMs: 0 });
    await vi.advanceTimersByTimeAsync(3 * SEC);
    expect(h.of("wake-deferred", "crashy").length).toBeGreaterThanOrEqual(2);
    mainBusy = false;
    probe.state.crashes = 1; // the next retry's decision crashes
    await vi.advanceTimersByTimeAsync(5 * MIN);
    expect(h.of("agent-restarted", "crashy")).toHaveLength(1);
    expect(h.agent("crashy").nextDueAt! - Date.now()).toBeGreaterThan(HOUR);
    // Restarted "with its state": the held wake is still retried with backoff (≤ 60 s), not parked until tomorrow.
    expect(h.of("run-started", "crashy")).toMatchObject([{ reasons: ["manual"] }]);
  });

  it("alerts open before a crash are resolved by the restarted actor when their episode ends", async () => {
    const probe = explodingLanes();
    const host = new TestHost().set("crashy", "hold");
    const h = startGateway({ host, agents: [{ id: "crashy", every: "5m", sessionKey: "boom", runTimeout: "1m" }], lanes: probe.lanes });
    await vi.advanceTimersByTimeAsync(h.agent("crashy").nextDueAt! - T0 + MIN);
    expect(h.alertTrail("run-timed-out")).toEqual(["open"]);
    host.set("crashy", { status: "ran", usage: { inputTokens: 3, outputTokens: 4 } });
    probe.state.crashes = 1; // the next slot's decision crashes; the restarted actor runs it
    await vi.advanceTimersByTimeAsync(5 * MIN);
    expect(h.of("agent-restarted")).toHaveLength(1);
    expect(h.of("run-finished", "crashy").at(-1)!.status).toBe("ran");
    expect(h.alertTrail("run-timed-out")).toEqual(["open", "resolved"]);
    expect(h.gw.health()).toMatchObject({ ok: true, alerts: [] });
  });

  it("crashes spread further apart than the 60 s window are restarted every time", async () => {
    let n = 0;
    const h = startGateway({
      agents: AGENTS,
      // Throws on every second probe: each slot crashes once, its restart then runs it.
      lanes: { sessionBusy: (key) => (key === "boom" && n++ % 2 === 0 ? (() => { throw new Error("flaky probe"); })() : false) },
    });
    await vi.advanceTimersByTimeAsync(31 * MIN);
    const restarts = h.of("agent-restarted", "crashy");
    expect(restarts.length).toBeGreaterThanOrEqual(6);
    expect(restarts.every((e) => e.restartsInWindow === 1)).toBe(true);
    expect(h.agent("crashy")).toMatchObject({ failed: false, runCount: restarts.length });
    expect(h.alertTrail("restart-limit")).toEqual([]);
  });
});

describe("restart intensity", () => {
  it("after 3 restarts within 60 s the agent is failed: one restart-limit alert, the others run on, the gateway stays active", async () => {
    const probe = explodingLanes();
    probe.state.crashes = Number.POSITIVE_INFINITY;
    const alerts: string[] = [];
    const h = startGateway({ agents: AGENTS, lanes: probe.lanes, onAlert: (a) => alerts.push(`${a.kind}:${a.state}:${a.agentId}`) });
    await vi.advanceTimersByTimeAsync(h.agent("crashy").nextDueAt! - T0 + SEC);

    expect(h.of("agent-restarted", "crashy").map((e) => e.restartsInWindow)).toEqual([1, 2, 3]);
    expect(h.alertTrail("restart-limit", "crashy")).toEqual(["open"]);
    expect(alerts).toEqual(["restart-limit:open:crashy"]);
    const report = h.gw.health();
    expect(report.ok).toBe(false);
    expect(report.alerts).toMatchObject([{ kind: "restart-limit", agentId: "crashy" }]);
    expect(h.agent("crashy")).toMatchObject({ failed: true, state: "stopped", enabled: true, runCount: 0 });
    expect(h.agent("steady").failed).toBe(false);
    expect(h.gw.actor.system.get("heartbeat:crashy")).toBeUndefined();
    expect(h.gw.actor.getSnapshot().status).toBe("active");
    expect(h.host.callsOf("crashy")).toHaveLength(0);

    // Nothing more happens to the failed agent; the other one runs normally.
    const probes = probe.state.probes;
    await vi.advanceTimersByTimeAsync(30 * MIN);
    expect(probe.state.probes).toBe(probes);
    expect(h.of("agent-restarted")).toHaveLength(3);
    expect(h.alertTrail("restart-limit")).toEqual(["open"]);
    expect(h.host.callsOf("crashy")).toHaveLength(0);
    expect(new Set(gaps(h.starts("steady")))).toEqual(new Set([5 * MIN]));
    expect(h.agent("steady").runCount).toBeGreaterThanOrEqual(6);
    expect(h.gw.actor.getSnapshot().status).toBe("active");

    // A failed agent takes no wakes; a broadcast skips it.
    const receipt = h.gw.requestWake({ reason: "manual", agentId: "crashy" });
    expect(receipt).toMatchObject({ accepted: false, targets: [] });
    expect(receipt.error).toMatch(/crashy/);
    expect(h.gw.requestWake({ reason: "manual" })).toMatchObject({ accepted: true, targets: ["steady"] });

    // A reload with the same config leaves it failed.
    await h.gw.reload(AGENTS);
    expect(h.agent("crashy").failed).toBe(true);
    expect(h.alertTrail("restart-limit")).toEqual(["open"]);

    // Reloading it with a changed config clears the failure and resolves the alert.
    probe.state.crashes = 0;
    await h.gw.reload([{ id: "crashy", every: "10m", sessionKey: "boom" }, AGENTS[1]!]);
    expect(h.alertTrail("restart-limit", "crashy")).toEqual(["open", "resolved"]);
    expect(alerts).toEqual(["restart-limit:open:crashy", "restart-limit:resolved:crashy"]);
    expect(h.gw.health()).toMatchObject({ ok: true, alerts: [] });
    expect(h.agent("crashy")).toMatchObject({ failed: false, state: "idle" });
    expect(h.gw.actor.system.get("heartbeat:crashy")).toBeDefined();
    await vi.advanceTimersByTimeAsync(10 * MIN);
    expect(h.host.callsOf("crashy")).toHaveLength(1);
  });

  it("removing a failed agent resolves its alert", async () => {
    const probe = explodingLanes();
    probe.state.crashes = Number.POSITIVE_INFINITY;
    const h = startGateway({ agents: AGENTS, lanes: probe.lanes });
    await vi.advanceTimersByTimeAsync(5 * MIN + SEC);
    expect(h.agent("crashy").failed).toBe(true);
    await h.gw.reload([AGENTS[1]!]);
    expect(h.alertTrail("restart-limit", "crashy")).toEqual(["open", "resolved"]);
    expect(h.gw.health()).toMatchObject({ ok: true, alerts: [] });
  });

  it("policy.restart configures the intensity (maxRestarts 1 → failed on the 2nd crash)", async () => {
    const probe = explodingLanes();
    probe.state.crashes = Number.POSITIVE_INFINITY;
    const h = startGateway({ agents: AGENTS, lanes: probe.lanes, policy: { restart: { maxRestarts: 1, windowMs: 60_000 } } });
    await vi.advanceTimersByTimeAsync(5 * MIN + SEC);
    expect(h.of("agent-restarted", "crashy")).toHaveLength(1);
    expect(h.agent("crashy").failed).toBe(true);
    expect(h.alertTrail("restart-limit")).toEqual(["open"]);
  });
});

describe("a run that throws is not a crash", () => {
  it("the run finishes 'failed' with the error message and the heartbeat goes on", async () => {
    const host = new TestHost().set("crashy", "throw");
    const h = startGateway({ host, agents: AGENTS });
    await vi.advanceTimersByTimeAsync(31 * MIN);
    const finished = h.of("run-finished", "crashy");
    expect(finished.length).toBeGreaterThanOrEqual(6);
    for (const e of finished) {
      expect(e.status).toBe("failed");
      expect(e.error).toContain("host failed for crashy");
    }
    expect(new Set(gaps(h.starts("crashy")))).toEqual(new Set([5 * MIN]));
    expect(h.of("agent-restarted")).toEqual([]);
    expect(h.agent("crashy")).toMatchObject({ lastStatus: "failed", failed: false, state: "idle", runCount: finished.length });
    expect(h.gw.actor.getSnapshot().status).toBe("active");
  });

  it("a host that throws synchronously, or resolves to something unreadable, is a failed run too", async () => {
    const host = new TestHost()
      .set("crashy", () => {
        throw new Error("sync boom");
      })
      .set("steady", async () => ({ status: "weird" }) as never);
    const h = startGateway({ host, agents: AGENTS });
    await vi.advanceTimersByTimeAsync(11 * MIN);
    const crashy = h.of("run-finished", "crashy");
    expect(crashy.length).toBeGreaterThanOrEqual(2);
    expect(new Set(crashy.map((e) => `${e.status}: ${e.error}`))).toEqual(new Set(["failed: sync boom"]));
    const steady = h.of("run-finished", "steady");
    expect(steady.length).toBeGreaterThanOrEqual(2);
    for (const e of steady) expect(e).toMatchObject({ status: "failed", error: expect.stringContaining("weird") });
    expect(h.of("agent-restarted")).toEqual([]);
  });
});
