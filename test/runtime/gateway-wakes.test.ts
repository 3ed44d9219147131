import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Harness } from "../support/gateway.ts";
import { useFakeTime } from "../support/fake-time.ts";
import { gaps, HOUR, MIN, SEC, settle, startGateway, stopAllGateways, T0, TestHost } from "../support/gateway.ts";
import type { AgentConfig, WakeRequest } from "../../src/index.ts";

/**
 * Contract: requestWake through createGateway — the three intents (immediate, event,
 * scheduled-is-reserved), per-target coalescing with preemption, targeting, receipts,
 * the flood guard, busy lanes and "one run at a time, at most one follow-up".
 */

beforeEach(() => useFakeTime(T0));
afterEach(async () => {
  await stopAllGateways();
  vi.useRealTimers();
});

/** Agents on a daily cadence: no scheduled run gets in the way of the wakes under test. */
const quiet = (id: string, extra: Partial<AgentConfig> = {}): AgentConfig => ({ id, every: "1d", ...extra });

function expectNoScheduledRunWithin(h: Harness, ms: number): void {
  for (const a of h.gw.health().agents) if (a.nextDueAt !== undefined) expect(a.nextDueAt - T0).toBeGreaterThan(ms);
}

describe("wake intents", () => {
  it("manual and immediate wakes run within coalesceMs (250 ms by default), carrying their reason", async () => {
    const h = startGateway({ agents: [quiet("a")] });
    expectNoScheduledRunWithin(h, HOUR);
    const reasons = ["manual", "wake", "hook:wake", "background-task", "background-task-blocked", "cron:nightly"];
    for (const [i, reason] of reasons.entries()) {
      const t = Date.now();
      expect(h.gw.requestWake({ reason, agentId: "a" })).toEqual({ accepted: true, targets: ["a"] });
      await vi.advanceTimersByTimeAsync(249);
      expect(h.host.calls, `${reason} ran before its coalescing window closed`).toHaveLength(i);
      await vi.advanceTimersByTimeAsync(1);
      expect(h.of("run-started").at(-1)).toMatchObject({ at: t + 250, reasons: [reason] });
      await settle();
      expect(h.host.calls[i]!.ctx.reasons).toEqual([reason]);
      await vi.advanceTimersByTimeAsync(20 * SEC); // stay under the flood guard (5 per 60 s)
    }
    expect(h.agent("a").runCount).toBe(reasons.length);
  });

  it("an event wake with no prior run runs (bootstrap); later ones are deferred not-due and folded into the next due run", async () => {
    const h = startGateway({ agents: [{ id: "a", every: "30m" }] });
    const firstDue = h.agent("a").nextDueAt!;
    // Bootstrap: no run yet, so the first event wake runs.
    h.gw.requestWake({ reason: "exec-event", agentId: "a" });
    await vi.advanceTimersByTimeAsync(250);
    expect(h.of("run-started")).toMatchObject([{ at: T0 + 250, reasons: ["exec-event"] }]);
    await settle();

    const due = h.agent("a").nextDueAt!;
    expect(due).toBeGreaterThan(Date.now());
    await vi.advanceTimersByTimeAsync(2 * MIN);
    expect(h.gw.requestWake({ reason: "exec-event", agentId: "a" }).accepted).toBe(true);
    await vi.advanceTimersByTimeAsync(MIN);
    expect(h.gw.requestWake({ reason: "acp:spawn:child-1", agentId: "a" }).accepted).toBe(true);
    expect(h.gw.requestWake({ reason: "something-unknown", agentId: "a" }).accepted).toBe(true);
    await vi.advanceTimersByTimeAsync(SEC);
    const deferred = h.of("wake-deferred", "a");
    expect(deferred.length).toBeGreaterThanOrEqual(2);
    for (const d of deferred) {
      expect(d.reason).toBe("not-due");
      expect(d.retryAt).toBe(due);
    }
    expect(h.host.calls).toHaveLength(1);
    expect(h.agent("a").runCount).toBe(1);
    expect(h.agent("a").pendingReasons).toEqual(["exec-event", "acp:spawn:child-1", "something-unknown"]);

    await vi.advanceTimersByTimeAsync(due - Date.now());
    expect(h.of("run-started")).toHaveLength(2);
    expect(h.of("run-started")[1]).toMatchObject({ at: due, reasons: ["interval", "exec-event", "acp:spawn:child-1", "something-unknown"] });
    await settle();
    expect(h.agent("a")).toMatchObject({ runCount: 2, pendingReasons: [] });
    expect(firstDue).toBeGreaterThan(T0);
  });
});

describe("min-spacing", () => {
  it("an event wake held by the spacing floor is recorded min-spacing and folded into the next slot, never an extra run", async () => {
    const h = startGateway({ agents: [{ id: "a", every: "20s" }], policy: { minSpacingMs: 60_000 }, sweepMs: MIN });
    await vi.advanceTimersByTimeAsync(h.agent("a").nextDueAt! - T0 + SEC);
    expect(h.starts("a")).toHaveLength(1);
    h.gw.requestWake({ reason: "exec-event", agentId: "a", coalesceMs: 0 });
    await settle();
    expect(h.of("wake-deferred", "a")).toMatchObject([{ reason: "min-spacing", reasons: ["exec-event"] }]);
    await vi.advanceTimersByTimeAsync(2 * MIN);
    const runs = h.of("run-started", "a");
    expect(new Set(gaps(runs.map((r) => r.at)))).toEqual(new Set([20 * SEC])); // slots only, no extra run
    expect(runs[1]!.reasons).toEqual(["interval", "exec-event"]);
  });
});

describe("coalescing", () => {
  it("several wakes within 250 ms make one run with all reasons, and wake-coalesced is recorded", async () => {
    const h = startGateway({ agents: [quiet("a")] });
    const reasons = ["manual", "wake", "hook:wake", "background-task", "manual"];
    for (const reason of reasons) {
      h.gw.requestWake({ reason, agentId: "a" });
      await vi.advanceTimersByTimeAsync(50);
    }
    await vi.advanceTimersByTimeAsync(SEC);
    expect(h.of("run-started")).toEqual([
      expect.objectContaining({ at: T0 + 250, reasons: ["manual", "wake", "hook:wake", "background-task"] }),
    ]);
    const merged = h.of("wake-coalesced", "a");
    expect(merged.length).toBeGreaterThanOrEqual(1);
    expect(merged.at(-1)).toMatchObject({ count: 5, reasons: expect.arrayContaining(["manual", "wake", "hook:wake", "background-task"]) });
    expect(h.host.calls).toHaveLength(1);
  });

  it("coalesceMs 0 delivers at once", async () => {
    const h = startGateway({ agents: [quiet("a")] });
    h.gw.requestWake({ reason: "manual", agentId: "a", coalesceMs: 0 });
    expect(h.of("run-started")).toMatchObject([{ at: T0, reasons: ["manual"] }]);
    await settle();
    expect(h.host.calls).toHaveLength(1);
  });

  it("coalesceMs 0 also flushes what is already pending for that target", async () => {
    const h = startGateway({ agents: [quiet("a")] });
    h.gw.requestWake({ reason: "wake", agentId: "a", coalesceMs: 5_000 });
    await vi.advanceTimersByTimeAsync(SEC);
    h.gw.requestWake({ reason: "manual", agentId: "a", coalesceMs: 0 });
    expect(h.of("run-started")).toMatchObject([{ at: T0 + SEC, reasons: expect.arrayContaining(["wake", "manual"]) }]);
    await vi.advanceTimersByTimeAsync(10 * SEC);
    expect(h.host.calls).toHaveLength(1);
  });

  it("an earlier due wake preempts a later pending one (10 s pending, 100 ms arrives → run at ~100 ms)", async () => {
    const h = startGateway({ agents: [quiet("a")] });
    h.gw.requestWake({ reason: "background-task", agentId: "a", coalesceMs: 10_000 });
    h.gw.requestWake({ reason: "manual", agentId: "a", coalesceMs: 100 });
    await vi.advanceTimersByTimeAsync(100);
    expect(h.of("run-started")).toMatchObject([{ at: T0 + 100, reasons: ["background-task", "manual"] }]);
    await vi.advanceTimersByTimeAsync(20 * SEC);
    expect(h.of("run-started")).toHaveLength(1);
  });

  it("wakes are coalesced per target: two agents woken together each run once", async () => {
    const h = startGateway({ agents: [quiet("a"), quiet("b")] });
    h.gw.requestWake({ reason: "wake", agentId: "a" });
    h.gw.requestWake({ reason: "manual", agentId: "b" });
    h.gw.requestWake({ reason: "hook:wake", agentId: "a" });
    await vi.advanceTimersByTimeAsync(SEC);
    expect(h.of("run-started", "a")).toMatchObject([{ reasons: ["wake", "hook:wake"] }]);
    expect(h.of("run-started", "b")).toMatchObject([{ reasons: ["manual"] }]);
  });
});

describe("targeting and receipts", () => {
  const agents = [quiet("a", { sessionKey: "s1" }), quiet("b", { sessionKey: "s2" }), quiet("c", { sessionKey: "s1" }), quiet("d", { enabled: false, sessionKey: "s1" })];

  it("a broadcast (no agentId) targets every enabled agent", async () => {
    const h = startGateway({ agents });
    expect(h.gw.requestWake({ reason: "manual" })).toEqual({ accepted: true, targets: ["a", "b", "c"] });
    await vi.advanceTimersByTimeAsync(SEC);
    expect(h.host.calls.map((c) => c.agentId).sort()).toEqual(["a", "b", "c"]);
  });

  it("a sessionKey targets that session's enabled agents only", async () => {
    const h = startGateway({ agents });
    expect(h.gw.requestWake({ reason: "manual", sessionKey: "s1" })).toEqual({ accepted: true, targets: ["a", "c"] });
    await vi.advanceTimersByTimeAsync(SEC);
    expect(h.host.calls.map((c) => c.agentId).sort()).toEqual(["a", "c"]);
    expect(h.host.calls.every((c) => c.ctx.sessionKey === "s1")).toBe(true);

    const none = h.gw.requestWake({ reason: "manual", sessionKey: "nope" });
    expect(none).toMatchObject({ accepted: false, targets: [] });
    expect(none.error).toMatch(/sessionKey/);
    const mismatch = h.gw.requestWake({ reason: "manual", agentId: "a", sessionKey: "s2" });
    expect(mismatch).toMatchObject({ accepted: false, targets: [] });
    expect(mismatch.error).toMatch(/sessionKey/);
  });

  it("an unknown agent gets a rejected receipt naming it, never a throw", () => {
    const h = startGateway({ agents });
    const receipt = h.gw.requestWake({ reason: "manual", agentId: "ghost" });
    expect(receipt).toEqual({ accepted: false, targets: [], error: expect.stringContaining("ghost") });
  });

  it.each<[string, unknown, RegExp]>([
    ["missing reason", { agentId: "a" }, /^reason: /],
    ["empty reason", { reason: "", agentId: "a" }, /^reason: /],
    ["blank reason", { reason: "   ", agentId: "a" }, /^reason: /],
    ["non-string reason", { reason: 42, agentId: "a" }, /^reason: /],
    ["negative coalesceMs", { reason: "manual", agentId: "a", coalesceMs: -1 }, /^coalesceMs: /],
    ["NaN coalesceMs", { reason: "manual", agentId: "a", coalesceMs: Number.NaN }, /^coalesceMs: /],
    ["unknown field", { reason: "manual", agentId: "a", priority: "high" }, /priority/],
    ["empty agentId", { reason: "manual", agentId: "" }, /^agentId: /],
    ['reserved reason "interval"', { reason: "interval", agentId: "a" }, /^reason: /],
    ['reserved reason "cron-slot"', { reason: "cron-slot" }, /^reason: /],
  ])("bad input (%s) → accepted false with an error naming the field, nothing runs", async (_name, input, error) => {
    const h = startGateway({ agents });
    let receipt: ReturnType<typeof h.gw.requestWake> | undefined;
    expect(() => (receipt = h.gw.requestWake(input as WakeRequest))).not.toThrow();
    expect(receipt).toMatchObject({ accepted: false, targets: [] });
    expect(receipt?.error).toMatch(error);
    await vi.advanceTimersByTimeAsync(SEC);
    expect(h.host.calls).toHaveLength(0);
  });

  it("a request that is not an object is rejected, never a throw", () => {
    const h = startGateway({ agents });
    for (const input of [null, undefined, "manual", 7]) {
      expect(h.gw.requestWake(input as unknown as WakeRequest)).toMatchObject({ accepted: false, targets: [] });
    }
  });

  it("a wake to a disabled agent is rejected and recorded as wake-skipped 'disabled'", async () => {
    const h = startGateway({ agents });
    const receipt = h.gw.requestWake({ reason: "manual", agentId: "d" });
    expect(receipt).toMatchObject({ accepted: false, targets: [] });
    expect(receipt.error).toMatch(/disabled/);
    expect(receipt.error).toMatch(/\bd\b/);
    expect(h.of("wake-skipped", "d")).toMatchObject([{ reason: "disabled", reasons: ["manual"] }]);
    await vi.advanceTimersByTimeAsync(SEC);
    expect(h.host.callsOf("d")).toHaveLength(0);
    expect(h.agent("d")).toMatchObject({ runCount: 0, state: "stopped" });
  });
});

describe("flood guard (5 wake-driven runs per 60 s)", () => {
  it("the 6th non-manual wake within 60 s is held, one flood alert per episode, the held wakes run when the window allows", async () => {
    const h = startGateway({ agents: [quiet("a")] });
    for (let i = 0; i < 10; i++) {
      h.gw.requestWake({ reason: "wake", agentId: "a", coalesceMs: 0 });
      await vi.advanceTimersByTimeAsync(2 * SEC);
    }
    // Runs at 0, 2, 4, 6, 8 s; from 10 s on every wake is held.
    expect(h.starts("a")).toEqual([0, 2, 4, 6, 8].map((s) => s * SEC));
    const held = h.of("wake-deferred", "a");
    expect(held.length).toBeGreaterThanOrEqual(5);
    expect(new Set(held.map((e) => e.reason))).toEqual(new Set(["flood"]));
    expect(held[0]).toMatchObject({ at: T0 + 10 * SEC, retryAt: T0 + 60 * SEC });
    expect(h.alertTrail("flood", "a")).toEqual(["open"]);
    expect(h.gw.health().ok).toBe(false);
    expect(h.gw.health().alerts).toMatchObject([{ kind: "flood", agentId: "a" }]);

    // The held wakes are folded into one run when the window allows it.
    await vi.advanceTimersByTimeAsync(60 * SEC - Date.now() + T0);
    expect(h.starts("a")).toEqual([0, 2, 4, 6, 8, 60].map((s) => s * SEC));
    expect(h.of("run-started", "a").at(-1)!.reasons).toEqual(["wake"]);
    // One alert for the episode; it ends after a full window without a held wake.
    await vi.advanceTimersByTimeAsync(3 * MIN);
    expect(h.alertTrail("flood", "a")).toEqual(["open", "resolved"]);
    expect(h.gw.health().ok).toBe(true);
    expect(h.starts("a")).toHaveLength(6);
  });

  it("manual wakes are never held by the flood guard", async () => {
    const h = startGateway({ agents: [quiet("a")] });
    for (let i = 0; i < 8; i++) {
      h.gw.requestWake({ reason: "manual", agentId: "a", coalesceMs: 0 });
      await vi.advanceTimersByTimeAsync(2 * SEC);
    }
    expect(h.starts("a")).toHaveLength(8);
    expect(h.of("wake-deferred")).toEqual([]);
    expect(h.alertTrail("flood")).toEqual([]);
  });

  it("the flood guard is per agent: a flooded agent does not hold another", async () => {
    const h = startGateway({ agents: [quiet("a"), quiet("b")] });
    for (let i = 0; i < 7; i++) {
      h.gw.requestWake({ reason: "background-task", agentId: "a", coalesceMs: 0 });
      await vi.advanceTimersByTimeAsync(SEC);
    }
    h.gw.requestWake({ reason: "background-task", agentId: "b", coalesceMs: 0 });
    await settle();
    expect(h.starts("a")).toHaveLength(5);
    expect(h.starts("b")).toHaveLength(1);
  });
});

describe("busy lanes", () => {
  it("a busy session lane defers only the agent in that session (session-lane-busy); another agent runs", async () => {
    const busy = new Set(["chat"]);
    const h = startGateway({
      agents: [quiet("talker", { sessionKey: "chat" }), quiet("worker", { sessionKey: "ops" })],
      lanes: { sessionBusy: (key) => busy.has(key) },
    });
    expect(h.gw.requestWake({ reason: "manual" })).toMatchObject({ accepted: true, targets: ["talker", "worker"] });
    await vi.advanceTimersByTimeAsync(10 * SEC);
    expect(h.host.callsOf("worker")).toHaveLength(1);
    expect(h.host.callsOf("talker")).toHaveLength(0);
    const deferrals = h.of("wake-deferred", "talker");
    expect(deferrals.length).toBeGreaterThanOrEqual(3);
    expect(new Set(deferrals.map((e) => e.reason))).toEqual(new Set(["session-lane-busy"]));
    // Retried with backoff starting at 1 s and doubling.
    expect(deferrals.slice(0, 3).map((e) => e.retryAt - e.at)).toEqual([1, 2, 4].map((s) => s * SEC));
    expect(h.of("wake-deferred", "worker")).toEqual([]);
    // A busy deferral is not a run.
    expect(h.agent("talker")).toMatchObject({ runCount: 0, skipCount: 0, state: "deferred" });

    busy.delete("chat");
    await vi.advanceTimersByTimeAsync(20 * SEC);
    expect(h.of("run-started", "talker")).toMatchObject([{ reasons: ["manual"] }]);
    expect(h.agent("talker").runCount).toBe(1);
  });

  it("a busy main lane defers every agent with main-lane-busy", async () => {
    let mainBusy = true;
    const h = startGateway({
      agents: [quiet("talker", { sessionKey: "chat" }), quiet("worker", { sessionKey: "ops" })],
      lanes: { mainBusy: () => mainBusy, sessionBusy: () => false },
    });
    h.gw.requestWake({ reason: "manual" });
    await vi.advanceTimersByTimeAsync(10 * SEC);
    expect(h.host.calls).toHaveLength(0);
    for (const id of ["talker", "worker"]) {
      expect(new Set(h.of("wake-deferred", id).map((e) => e.reason))).toEqual(new Set(["main-lane-busy"]));
    }
    mainBusy = false;
    await vi.advanceTimersByTimeAsync(20 * SEC);
    expect(h.host.calls.map((c) => c.agentId).sort()).toEqual(["talker", "worker"]);
  });
});

describe("one run at a time", () => {
  it("many immediate wakes during a long run give exactly one follow-up run carrying all their reasons", async () => {
    const host = new TestHost().set("a", "hold");
    const h = startGateway({ host, agents: [quiet("a")] });
    h.gw.requestWake({ reason: "manual", agentId: "a", coalesceMs: 0 });
    await settle();
    expect(host.calls).toHaveLength(1);
    const during = ["wake", "hook:wake", "background-task", "cron:digest", "manual", "wake", "background-task-blocked"];
    for (const [i, reason] of during.entries()) {
      h.gw.requestWake({ reason, agentId: "a", ...(i % 2 === 0 ? { coalesceMs: 0 } : {}) });
      await vi.advanceTimersByTimeAsync(5 * SEC);
    }
    await vi.advanceTimersByTimeAsync(MIN);
    expect(host.calls).toHaveLength(1);
    expect(h.agent("a").state).toBe("running");

    host.open("a")[0]!.resolve();
    await settle();
    expect(host.calls).toHaveLength(2);
    expect(new Set(host.calls[1]!.ctx.reasons)).toEqual(new Set(during));
    expect(host.calls[1]!.ctx.reasons).toHaveLength(new Set(during).size);
    host.open("a")[0]!.resolve();
    await vi.advanceTimersByTimeAsync(10 * MIN);
    expect(host.calls).toHaveLength(2);
    expect(host.peakConcurrency("a")).toBe(1);
    expect(h.agent("a")).toMatchObject({ runCount: 2, state: "idle", pendingReasons: [] });
  });

  it("a scheduled slot that comes due during a run does not start a second run", async () => {
    const host = new TestHost().set("a", "hold");
    const h = startGateway({ host, agents: [{ id: "a", every: "1m", runTimeout: "10m" }] });
    await vi.advanceTimersByTimeAsync(5 * MIN);
    expect(host.calls).toHaveLength(1);
    expect(host.peakConcurrency("a")).toBe(1);
    host.open("a")[0]!.resolve();
    await vi.advanceTimersByTimeAsync(MIN);
    expect(host.peakConcurrency("a")).toBe(1);
    expect(h.agent("a").runCount).toBe(1);
  });
});
