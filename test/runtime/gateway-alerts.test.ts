import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { HeartbeatEvent } from "../../src/index.ts";
import { useFakeTime } from "../support/fake-time.ts";
import { DAY, gaps, HOUR, MIN, SEC, startGateway, stopAllGateways, T0, TestHost, WORK, ZERO } from "../support/gateway.ts";

/**
 * Seed 001 at gateway level — "heartbeat silently silent for ~35 h while the process was
 * alive": a hung run wedged a busy flag and every later fire was skipped with no error.
 * Contract: every run is under a watchdog (aborted at runTimeout, "run-timed-out" alert),
 * the schedule keeps firing, a wedged lane raises "busy-wedged" and "past-due" once per
 * episode and resolves them when work resumes, and a healthy week raises nothing.
 *
 * The detector sweep runs at a coarser `sweepMs` here only to keep multi-day simulations
 * fast; the alerts must not depend on it (they are raised by the agents' own steps too).
 */

beforeEach(() => useFakeTime(T0));
afterEach(async () => {
  await stopAllGateways();
  vi.useRealTimers();
});

type AlertEvent = Extract<HeartbeatEvent, { type: "alert" }>;

describe("a host whose runHeartbeat hangs forever", () => {
  it("each run is aborted at runTimeout, one run-timed-out alert stays open, the schedule holds for 3 days", async () => {
    const host = new TestHost().set("hung", "hold");
    const alerts: AlertEvent[] = [];
    const h = startGateway({
      host,
      agents: [{ id: "hung", every: "30m" }, { id: "fine", every: "30m" }],
      sweepMs: 10 * MIN,
      onAlert: (a) => alerts.push(a),
    });
    const first = h.agent("hung").nextDueAt!;
    await vi.advanceTimersByTimeAsync(first - T0 + 10 * MIN - 1);
    const call = host.callsOf("hung")[0]!;
    expect(call.ctx.signal.aborted).toBe(false);
    expect(h.agent("hung").state).toBe("running");
    await vi.advanceTimersByTimeAsync(1); // default runTimeout: 10m
    expect(call.ctx.signal.aborted).toBe(true);
    expect(h.of("run-finished", "hung")).toMatchObject([{ status: "timed-out", at: first + 10 * MIN, durationMs: 10 * MIN }]);
    expect(h.alertTrail("run-timed-out", "hung")).toEqual(["open"]);
    expect(h.gw.health().ok).toBe(false);
    expect(h.gw.health().alerts).toMatchObject([{ kind: "run-timed-out", agentId: "hung" }]);
    expect(h.agent("hung")).toMatchObject({ state: "idle", lastStatus: "timed-out", nextDueAt: first + 30 * MIN });

    await vi.advanceTimersByTimeAsync(3 * DAY - (Date.now() - T0));
    const starts = h.starts("hung");
    expect(Math.abs(starts.length - 144)).toBeLessThanOrEqual(1);
    expect(new Set(gaps(starts))).toEqual(new Set([30 * MIN]));
    const finished = h.of("run-finished", "hung");
    expect(finished.length).toBeGreaterThanOrEqual(143);
    expect(finished.every((e) => e.status === "timed-out" && e.durationMs === 10 * MIN)).toBe(true);
    expect(host.callsOf("hung").slice(0, finished.length).every((c) => c.ctx.signal.aborted)).toBe(true);
    // One alert for the whole episode, not one per run; nothing is "past due": it fires on time.
    expect(h.alertTrail("run-timed-out", "hung")).toEqual(["open"]);
    expect(h.alertTrail("past-due")).toEqual([]);
    expect(h.alertTrail("busy-wedged")).toEqual([]);
    expect(h.gw.health().ok).toBe(false);
    // The healthy neighbour was never held back.
    expect(Math.abs(h.starts("fine").length - 144)).toBeLessThanOrEqual(1);
    expect(h.events.filter((e) => e.type === "alert" && e.agentId === "fine")).toEqual([]);

    // The host recovers: the next run that finishes otherwise ends the episode.
    host.set("hung", WORK);
    await vi.advanceTimersByTimeAsync(30 * MIN);
    expect(h.of("run-finished", "hung").at(-1)!.status).toBe("ran");
    expect(h.alertTrail("run-timed-out", "hung")).toEqual(["open", "resolved"]);
    expect(h.gw.health()).toMatchObject({ ok: true, alerts: [] });
    expect(alerts.map((a) => `${a.kind}:${a.state}`)).toEqual(["run-timed-out:open", "run-timed-out:resolved"]);
  });

  it("a per-agent runTimeout is honoured", async () => {
    const host = new TestHost().set("hung", "hold");
    const h = startGateway({ host, agents: [{ id: "hung", every: "30m", runTimeout: "90s" }], sweepMs: 10 * MIN });
    await vi.advanceTimersByTimeAsync(2 * HOUR);
    const finished = h.of("run-finished", "hung");
    expect(finished.length).toBeGreaterThanOrEqual(3);
    for (const e of finished) expect(e).toMatchObject({ status: "timed-out", durationMs: 90 * SEC });
  });
});

describe("a lane stuck busy for hours", () => {
  it("busy-wedged and past-due each open exactly once, and resolve after the lane frees and a run happens", async () => {
    let chatBusy = true;
    const alerts: AlertEvent[] = [];
    const h = startGateway({
      agents: [{ id: "busy", every: "30m", sessionKey: "chat" }, { id: "free", every: "30m", sessionKey: "ops" }],
      lanes: { sessionBusy: (key) => key === "chat" && chatBusy },
      sweepMs: 5 * MIN,
      onAlert: (a) => alerts.push(a),
    });
    const due = h.agent("busy").nextDueAt!;
    await vi.advanceTimersByTimeAsync(6 * HOUR);

    expect(h.host.callsOf("busy")).toHaveLength(0);
    const deferrals = h.of("wake-deferred", "busy");
    expect(deferrals.length).toBeGreaterThan(100); // retried all along, capped at 60 s
    expect(new Set(deferrals.map((e) => e.reason))).toEqual(new Set(["session-lane-busy"]));
    expect(Math.max(...deferrals.map((e) => e.retryAt - e.at))).toBe(60 * SEC);
    expect(deferrals[0]!.at).toBe(due);
    expect(h.agent("busy")).toMatchObject({ runCount: 0, skipCount: 0, state: "deferred" });

    // Exactly once each, not on every retry; opened after 2 cadences, not before.
    expect(h.alertTrail("busy-wedged", "busy")).toEqual(["open"]);
    expect(h.alertTrail("past-due", "busy")).toEqual(["open"]);
    for (const kind of ["busy-wedged", "past-due"]) {
      const opened = h.of("alert", "busy").find((e) => e.kind === kind)!;
      expect(opened.at - due, kind).toBeGreaterThan(60 * MIN);
      expect(opened.at - due, kind).toBeLessThanOrEqual(62 * MIN);
    }
    const report = h.gw.health();
    expect(report.ok).toBe(false);
    expect(report.alerts.map((a) => `${a.agentId}:${a.kind}`).sort()).toEqual(["busy:busy-wedged", "busy:past-due"]);

    // The other session's agent ran on its cadence all along, with no alert.
    expect(h.starts("free")).toHaveLength(12);
    expect(h.events.filter((e) => e.type === "alert" && e.agentId === "free")).toEqual([]);

    chatBusy = false;
    await vi.advanceTimersByTimeAsync(61 * SEC);
    const run = h.of("run-started", "busy");
    expect(run).toHaveLength(1);
    expect(run[0]!.reasons).toEqual(["interval"]); // one run for the missed slots, never a backfill
    expect(h.alertTrail("busy-wedged", "busy")).toEqual(["open", "resolved"]);
    expect(h.alertTrail("past-due", "busy")).toEqual(["open", "resolved"]);
    expect(h.gw.health()).toMatchObject({ ok: true, alerts: [] });
    expect(alerts.filter((a) => a.state === "open")).toHaveLength(2);
    expect(alerts.filter((a) => a.state === "resolved")).toHaveLength(2);

    // Back on a cadence afterwards, with no further alert.
    await vi.advanceTimersByTimeAsync(2 * HOUR);
    expect(h.starts("busy").length).toBeGreaterThanOrEqual(4);
    expect(alerts).toHaveLength(4);
  });

  it("a second wedge after recovery is a new episode: the alerts open again (re-armed)", async () => {
    let busy = true;
    const h = startGateway({
      agents: [{ id: "busy", every: "10m", sessionKey: "chat" }],
      lanes: { sessionBusy: () => busy },
      sweepMs: 5 * MIN,
    });
    await vi.advanceTimersByTimeAsync(HOUR);
    busy = false;
    await vi.advanceTimersByTimeAsync(HOUR);
    busy = true;
    await vi.advanceTimersByTimeAsync(HOUR);
    expect(h.alertTrail("busy-wedged")).toEqual(["open", "resolved", "open"]);
    expect(h.alertTrail("past-due")).toEqual(["open", "resolved", "open"]);
  });
});

describe("zero-work streak", () => {
  it("one alert after 3 consecutive 0-token runs; no usage is unknown, not zero; a run with work resolves it", async () => {
    let result = ZERO as typeof WORK | { status: "ran" };
    const host = new TestHost().set("z", async () => result);
    const h = startGateway({ host, agents: [{ id: "z", every: "10m" }], sweepMs: 10 * MIN });
    const first = h.agent("z").nextDueAt! - T0;
    await vi.advanceTimersByTimeAsync(first + 20 * MIN); // 3 runs
    expect(h.agent("z").consecutiveZeroWork).toBe(3);
    expect(h.alertTrail("zero-work-streak")).toEqual(["open"]);
    await vi.advanceTimersByTimeAsync(30 * MIN); // 3 more zero runs: still one alert
    expect(h.alertTrail("zero-work-streak")).toEqual(["open"]);
    result = { status: "ran" }; // unknown usage neither counts nor ends the streak
    await vi.advanceTimersByTimeAsync(20 * MIN);
    expect(h.agent("z").consecutiveZeroWork).toBe(6);
    expect(h.alertTrail("zero-work-streak")).toEqual(["open"]);
    result = WORK;
    await vi.advanceTimersByTimeAsync(10 * MIN);
    expect(h.alertTrail("zero-work-streak")).toEqual(["open", "resolved"]);
    expect(h.gw.health().ok).toBe(true);
    result = ZERO;
    await vi.advanceTimersByTimeAsync(30 * MIN);
    expect(h.alertTrail("zero-work-streak")).toEqual(["open", "resolved", "open"]);
  });
});

describe("no false positives", () => {
  it("a healthy simulated week with 5 agents, wakes and brief busy lanes raises no alert at all", async () => {
    const alerts: AlertEvent[] = [];
    const cadences: Record<string, number> = { alpha: 30 * MIN, beta: HOUR, gamma: 45 * MIN, delta: 2 * HOUR, epsilon: 3 * HOUR };
    const host = new TestHost().set(
      "alpha",
      // A run that takes two minutes of (simulated) work.
      () => new Promise((resolve) => setTimeout(() => resolve(WORK), 2 * MIN)),
    );
    const h = startGateway({
      host,
      agents: [
        { id: "alpha", every: "30m", sessionKey: "chat" },
        { id: "beta", every: "1h", sessionKey: "chat" },
        { id: "gamma", every: "45m", sessionKey: "ops" },
        { id: "delta", every: "2h" },
        { id: "epsilon", every: "3h", runTimeout: "5m" },
      ],
      // The chat lane is busy for the first 3 minutes of every 4 hours (a user streaming).
      lanes: { sessionBusy: (key) => key === "chat" && (Date.now() - T0) % (4 * HOUR) < 3 * MIN },
      sweepMs: 30 * MIN,
      onAlert: (a) => alerts.push(a),
    });
    for (let t = 0; t < 7 * DAY; t += 3 * HOUR) {
      h.gw.requestWake({ reason: "exec-event", agentId: "gamma" });
      if (t % (12 * HOUR) === 0) h.gw.requestWake({ reason: "manual" });
      await vi.advanceTimersByTimeAsync(3 * HOUR);
    }
    expect(alerts).toEqual([]);
    expect(h.of("alert")).toEqual([]);
    expect(h.gw.health()).toMatchObject({ ok: true, alerts: [] });
    for (const [id, every] of Object.entries(cadences)) {
      const scheduled = h.of("run-started", id).filter((e) => e.reasons.includes("interval")).length;
      expect(Math.abs(scheduled - (7 * DAY) / every), id).toBeLessThanOrEqual(1);
      expect(h.agent(id)).toMatchObject({ lastStatus: "ran", failed: false, consecutiveZeroWork: 0 });
      expect(h.host.peakConcurrency(id)).toBe(1);
    }
    expect(h.of("run-finished").every((e) => e.status === "ran")).toBe(true);
  });

  it("with the default 15 s detector sweep, healthy agents raise nothing over 6 hours", async () => {
    const h = startGateway({
      agents: [
        { id: "alpha", every: "30m" },
        { id: "beta", every: "1h", sessionKey: "chat" },
        { id: "gamma", every: "10m" },
      ],
      lanes: { sessionBusy: () => false, mainBusy: () => false },
    });
    await vi.advanceTimersByTimeAsync(6 * HOUR);
    expect(h.of("alert")).toEqual([]);
    expect(h.gw.health().ok).toBe(true);
    expect(h.starts("gamma")).toHaveLength(36);
  });
});
