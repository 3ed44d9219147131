import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { useFakeTime } from "../support/fake-time.ts";
import { DAY, gaps, HOUR, MIN, SEC, settle, startGateway, stopAllGateways, T0, TestHost, WORK, ZERO } from "../support/gateway.ts";

/**
 * Contract: cadence and health, through createGateway only.
 * DESIGN "Defaults": every "30m" default, first run at start + a stable phase in (0, every],
 * never at start; health() lists every configured agent, disabled ones too (never run);
 * counters move only for runs that reached the host.
 */

beforeEach(() => useFakeTime(T0));
afterEach(async () => {
  await stopAllGateways();
  vi.useRealTimers();
});

const ENABLED = ["alpha", "beta", "gamma", "delta"];

describe("cadence", () => {
  it('every "30m" over 12 simulated hours: 24 ± 1 runs per agent, first run in (0, every], exact gaps', async () => {
    const h = startGateway({
      agents: [
        ...ENABLED.map((id) => ({ id, every: "30m" })),
        { id: "off", every: "30m", enabled: false },
        { id: "zero", every: "0m" },
      ],
      sweepMs: HOUR,
    });
    await vi.advanceTimersByTimeAsync(12 * HOUR);
    const firsts: number[] = [];
    for (const id of ENABLED) {
      const starts = h.starts(id);
      expect(Math.abs(starts.length - 24), `${id} ran ${starts.length} times`).toBeLessThanOrEqual(1);
      const first = starts[0]!;
      expect(first, `${id}: never at start`).toBeGreaterThan(0);
      expect(first).toBeLessThanOrEqual(30 * MIN);
      firsts.push(first);
      expect(new Set(gaps(starts))).toEqual(new Set([30 * MIN]));
      expect(h.host.callsOf(id)).toHaveLength(starts.length);
      expect(h.agent(id).runCount).toBe(starts.length);
    }
    // Stable per-agent phases: agents started together do not all fire together.
    expect(new Set(firsts).size).toBeGreaterThan(1);
    // Disabled agents never ran.
    expect(h.host.callsOf("off")).toHaveLength(0);
    expect(h.host.callsOf("zero")).toHaveLength(0);
    expect(h.events.filter((e) => e.agentId === "off" || e.agentId === "zero")).toEqual([]);
  });

  it("the default cadence is 30m; a number is milliseconds; '90s' and '1.5m' are the same cadence", async () => {
    const h = startGateway({
      agents: [{ id: "dflt" }, { id: "num", every: 90_000 }, { id: "secs", every: "90s" }, { id: "frac", every: "1.5m" }],
      sweepMs: HOUR,
    });
    await vi.advanceTimersByTimeAsync(2 * HOUR);
    expect(new Set(gaps(h.starts("dflt")))).toEqual(new Set([30 * MIN]));
    for (const id of ["num", "secs", "frac"]) {
      const starts = h.starts(id);
      expect(starts[0]).toBeGreaterThan(0);
      expect(starts[0]).toBeLessThanOrEqual(90 * SEC);
      expect(new Set(gaps(starts))).toEqual(new Set([90 * SEC]));
      expect(Math.abs(starts.length - 80)).toBeLessThanOrEqual(1);
    }
  });

  it("the phase is stable: the same agent id gets the same first run in another gateway", async () => {
    const one = startGateway({ agents: [{ id: "alpha", every: "30m" }] });
    const two = startGateway({ agents: [{ id: "alpha", every: "30m" }, { id: "beta", every: "30m" }] });
    expect(two.agent("alpha").nextDueAt).toBe(one.agent("alpha").nextDueAt);
  });

  it("cron slots follow wall time in the agent's zone", async () => {
    const h = startGateway({ agents: [{ id: "cron", cron: "*/15 * * * *", timezone: "UTC" }], sweepMs: HOUR });
    await vi.advanceTimersByTimeAsync(HOUR + MIN);
    const runs = h.of("run-started", "cron");
    expect(runs.length).toBeGreaterThanOrEqual(4);
    expect(runs.length).toBeLessThanOrEqual(5);
    for (const r of runs) {
      expect(r.at % (15 * MIN), `run at ${new Date(r.at).toISOString()}`).toBe(0);
      expect(r.at).toBeGreaterThan(T0);
      expect(r.reasons).toEqual(["cron-slot"]);
    }
  });
});

describe("clocks", () => {
  it("a wall-clock jump (forward or back) neither silences nor storms an interval", async () => {
    const h = startGateway({ agents: [{ id: "alpha", every: "30m" }], sweepMs: HOUR });
    await vi.advanceTimersByTimeAsync(2 * HOUR);
    const before = h.starts("alpha").length;
    vi.setSystemTime(Date.now() + 6 * HOUR); // forward
    await vi.advanceTimersByTimeAsync(2 * HOUR);
    vi.setSystemTime(Date.now() - DAY); // and far back
    await vi.advanceTimersByTimeAsync(2 * HOUR);
    const runs = h.of("run-started", "alpha");
    expect(runs.length - before).toBe(8);
    expect(h.of("alert")).toEqual([]);
  });

  it("a host that slept (wall clock jumped, no timer fired) runs a missed cron slot once, within 30 s, never a backfill", async () => {
    const h = startGateway({ agents: [{ id: "cron", cron: "*/15 * * * *", timezone: "UTC" }], sweepMs: HOUR });
    await vi.advanceTimersByTimeAsync(16 * MIN);
    expect(h.starts("cron")).toEqual([15 * MIN]);
    vi.setSystemTime(Date.now() + 2 * HOUR); // asleep for two hours: 8 slots missed
    await vi.advanceTimersByTimeAsync(30 * SEC);
    expect(h.starts("cron")).toHaveLength(2);
    expect(h.of("run-started", "cron")[1]!.reasons).toEqual(["cron-slot"]);
    await vi.advanceTimersByTimeAsync(30 * MIN);
    const later = h.of("run-started", "cron").slice(2);
    expect(later.length).toBeGreaterThanOrEqual(1);
    for (const r of later) expect(r.at % (15 * MIN)).toBe(0);
  });

  it("an interval longer than the platform timer limit (2^31−1 ms) is waited out, never fired early", async () => {
    const h = startGateway({ agents: [{ id: "delta", every: "40d" }], sweepMs: DAY });
    const due = h.agent("delta").nextDueAt!;
    expect(due - T0).toBeGreaterThan(2 ** 31 - 1); // this id's phase is past the limit
    await vi.advanceTimersByTimeAsync(due - T0 - SEC);
    expect(h.host.calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(SEC);
    expect(h.of("run-started")).toMatchObject([{ at: due, reasons: ["interval"] }]);
  });

  it("active hours: due slots outside the window are skipped with quiet-hours, no run and no past-due alert", async () => {
    const h = startGateway({
      agents: [{ id: "office", every: "1h", activeHours: { start: "09:00", end: "17:00", timezone: "UTC" } }],
      sweepMs: HOUR,
    });
    await vi.advanceTimersByTimeAsync(2 * DAY);
    const runs = h.of("run-started", "office");
    expect(runs.length).toBeGreaterThanOrEqual(12);
    for (const r of runs) {
      const hour = new Date(r.at).getUTCHours();
      expect(hour, new Date(r.at).toISOString()).toBeGreaterThanOrEqual(9);
      expect(hour).toBeLessThan(17);
    }
    const skipped = h.of("wake-skipped", "office");
    expect(skipped.length).toBeGreaterThanOrEqual(1);
    expect(new Set(skipped.map((e) => e.reason))).toEqual(new Set(["quiet-hours"]));
    expect(h.of("alert")).toEqual([]);
    expect(h.agent("office").runCount).toBe(runs.length);
  });
});

describe("health()", () => {
  it("lists every configured agent in order, disabled ones too (stopped, enabled false, runCount 0)", async () => {
    const h = startGateway({
      agents: [
        { id: "alpha", every: "30m" },
        { id: "off", every: "30m", enabled: false },
        { id: "beta", every: "10m", sessionKey: "s1" },
        { id: "zero", every: "0m" },
      ],
    });
    const report = h.gw.health();
    expect(report.ok).toBe(true);
    expect(report.alerts).toEqual([]);
    expect(report.agents.map((a) => a.id)).toEqual(["alpha", "off", "beta", "zero"]);
    for (const id of ["off", "zero"]) {
      const a = h.agent(id);
      expect(a).toMatchObject({ state: "stopped", enabled: false, runCount: 0, skipCount: 0, consecutiveZeroWork: 0 });
      expect(a.nextDueAt).toBeUndefined();
      expect(a.lastRunAt).toBeUndefined();
      expect(h.gw.actor.system.get(`heartbeat:${id}`)).toBeUndefined();
    }
    for (const [id, every] of [["alpha", 30 * MIN], ["beta", 10 * MIN]] as const) {
      const a = h.agent(id);
      expect(a).toMatchObject({ state: "idle", enabled: true, runCount: 0, skipCount: 0, consecutiveZeroWork: 0 });
      expect(a.lastRunAt).toBeUndefined();
      expect(a.lastStatus).toBeUndefined();
      expect(a.nextDueAt).toBeGreaterThan(T0);
      expect(a.nextDueAt).toBeLessThanOrEqual(T0 + every);
      expect(h.gw.actor.system.get(`heartbeat:${id}`)).toBeDefined();
    }

    await vi.advanceTimersByTimeAsync(3 * HOUR);
    expect(h.agent("off")).toMatchObject({ state: "stopped", enabled: false, runCount: 0 });
    expect(h.agent("zero")).toMatchObject({ state: "stopped", enabled: false, runCount: 0 });
    expect(h.agent("alpha").runCount).toBe(6);
    expect(h.agent("beta").runCount).toBe(18);
  });

  it("nextDueAt is the first run's time, stays put while idle, and moves one cadence per scheduled run", async () => {
    const h = startGateway({ agents: [{ id: "alpha", every: "10m" }] });
    const due = h.agent("alpha").nextDueAt!;
    await vi.advanceTimersByTimeAsync(due - T0 - SEC);
    expect(h.agent("alpha").nextDueAt).toBe(due);
    expect(h.host.calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(SEC);
    expect(h.of("run-started")).toMatchObject([{ at: due, reasons: ["interval"] }]);
    await settle();
    expect(h.agent("alpha")).toMatchObject({ lastRunAt: due, nextDueAt: due + 10 * MIN, runCount: 1, lastStatus: "ran" });
  });

  it("state is 'running' while a run is in flight, then 'idle'", async () => {
    const host = new TestHost().set("alpha", "hold");
    const h = startGateway({ host, agents: [{ id: "alpha", every: "10m" }] });
    await vi.advanceTimersByTimeAsync(10 * MIN);
    expect(h.agent("alpha").state).toBe("running");
    expect(h.agent("alpha").runCount).toBe(0); // counted when it finishes
    host.open("alpha")[0]!.resolve(WORK);
    await settle();
    expect(h.agent("alpha")).toMatchObject({ state: "idle", runCount: 1, lastStatus: "ran" });
  });

  it("runCount, lastRunAt, lastStatus, skipCount and consecutiveZeroWork follow each outcome as documented", async () => {
    const script = [
      WORK,
      ZERO,
      ZERO,
      { status: "skipped" as const, reason: "no-session" },
      "throw" as const,
      { status: "ran" as const }, // no usage: unknown, not zero
      ZERO,
      WORK,
    ];
    let n = 0;
    const host = new TestHost().set("w", async () => {
      const step = script[n++] ?? WORK;
      if (step === "throw") throw new Error("host exploded");
      return step;
    });
    const h = startGateway({ host, agents: [{ id: "w", every: "10m" }] });
    const first = h.agent("w").nextDueAt!;
    const expected = [
      { runCount: 1, lastStatus: "ran", skipCount: 0, consecutiveZeroWork: 0, lastRunAt: 0 },
      { runCount: 2, lastStatus: "ran", skipCount: 0, consecutiveZeroWork: 1, lastRunAt: 1 },
      { runCount: 3, lastStatus: "ran", skipCount: 0, consecutiveZeroWork: 2, lastRunAt: 2 },
      // A host skip is not a run: runCount and lastRunAt stay.
      { runCount: 3, lastStatus: "skipped", skipCount: 1, consecutiveZeroWork: 2, lastRunAt: 2 },
      { runCount: 4, lastStatus: "failed", skipCount: 1, consecutiveZeroWork: 2, lastRunAt: 4 },
      { runCount: 5, lastStatus: "ran", skipCount: 1, consecutiveZeroWork: 2, lastRunAt: 5 },
      { runCount: 6, lastStatus: "ran", skipCount: 1, consecutiveZeroWork: 3, lastRunAt: 6 },
      { runCount: 7, lastStatus: "ran", skipCount: 1, consecutiveZeroWork: 0, lastRunAt: 7 },
    ];
    await vi.advanceTimersByTimeAsync(first - T0);
    for (const [i, exp] of expected.entries()) {
      await settle();
      const slotAt = first + i * 10 * MIN;
      expect(h.agent("w"), `after run #${i + 1}`).toMatchObject({
        ...exp,
        lastRunAt: first + exp.lastRunAt * 10 * MIN,
        nextDueAt: slotAt + 10 * MIN,
        state: "idle",
      });
      await vi.advanceTimersByTimeAsync(10 * MIN);
    }
    expect(h.of("run-finished").map((e) => e.status).slice(0, 8)).toEqual(["ran", "ran", "ran", "skipped", "failed", "ran", "ran", "ran"]);
  });

  it("each enabled agent is in the actor system as heartbeat:<id>, with the gateway actor as its parent", () => {
    const h = startGateway({ agents: ENABLED.map((id) => ({ id, every: "30m" })) });
    for (const id of ENABLED) {
      const ref = h.gw.actor.system.get(`heartbeat:${id}`);
      expect(ref, id).toBeDefined();
      expect(ref._parent).toBe(h.gw.actor);
      expect(ref.getSnapshot().status).toBe("active");
    }
    expect(h.gw.actor.system.get("heartbeat:nobody")).toBeUndefined();
  });
});
