import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { HostResult } from "../../src/policy/outcome.ts";
import { phaseOffset } from "../../src/policy/phase.ts";
import type { RunContext } from "../../src/runtime/host.ts";
import { useFakeTime } from "../support/fake-time.ts";
import { startHeartbeat } from "../support/heartbeat.ts";
import { advanceTo, advanceWhile, alertTrail, controlledHost, DAY, gaps, MIN, scriptedHost, SEC, timesOf, type Scripted } from "../support/sim.ts";

/**
 * Seed 001 — "heartbeat cron silently silent for ~35h while process alive": a run that
 * never settled wedged the busy flag, every later fire was skipped with no record, and
 * run_count kept rising; five 0/0-token fires in a row went unnoticed.
 *
 * How the seed's buggy behaviour would fail these tests: with no watchdog the hung run
 * never leaves `running` (no run-finished "timed-out", signal never aborted, calls stay
 * at 1 for 3 days); counting skipped fires would move runCount/lastRunAt on host skips
 * and deferrals; with no detectors no "run-timed-out", "zero-work-streak" or "past-due"
 * alert opens (and a naive detector would raise one alert per run instead of one per
 * episode); a late settlement would be counted as a run or silently ignored.
 */

const T0 = Date.UTC(2026, 0, 5, 12, 0, 0);

beforeEach(() => useFakeTime(T0));
afterEach(() => vi.useRealTimers());

const zero: HostResult = { status: "ran", usage: { inputTokens: 0, outputTokens: 0 } };
const work: HostResult = { status: "ran", usage: { inputTokens: 6_700_000, outputTokens: 78_000 } };
const unknown: HostResult = { status: "ran" };

describe("watchdog", () => {
  it("a run that never settles is aborted at runTimeout; runs continue on schedule for 3 days", async () => {
    const seen: RunContext[] = [];
    const host = scriptedHost(["hang"]);
    const h = startHeartbeat({ agent: { every: "30m" }, run: (ctx) => (seen.push(ctx), host(ctx)) });
    const slot = phaseOffset("a1", 30 * MIN);
    await vi.advanceTimersByTimeAsync(slot + 10 * MIN - 1);
    expect(h.state()).toBe("running");
    expect(seen[0]!.signal.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1); // default runTimeout: 10m
    expect(seen[0]!.signal.aborted).toBe(true);
    expect(h.of("run-finished")).toMatchObject([{ status: "timed-out", at: T0 + slot + 10 * MIN, durationMs: 10 * MIN }]);
    expect(h.of("alert")).toMatchObject([{ kind: "run-timed-out", state: "open", at: T0 + slot + 10 * MIN }]);
    expect(h.state()).toBe("idle");

    await advanceTo(T0 + 3 * DAY, 10 * MIN);
    const starts = timesOf(h.events, "run-started", T0);
    expect(Math.abs(starts.length - 144)).toBeLessThanOrEqual(1);
    expect(new Set(gaps(starts))).toEqual(new Set([30 * MIN]));
    // The episode ended with the next run that finished otherwise: one open, one resolve.
    expect(alertTrail(h.events, "run-timed-out")).toEqual(["open", "resolved"]);
    expect(h.of("run-finished").filter((e) => e.status === "timed-out")).toHaveLength(1);
    h.actor.send({ type: "STOP" });
    expect(vi.getTimerCount()).toBe(0);
  });

  it("a host that hangs on every run still gets every slot, with one alert for the episode", async () => {
    const h = startHeartbeat({ agent: { every: "30m", runTimeout: "5m" }, run: scriptedHost([], "hang") });
    await advanceTo(T0 + DAY, 10 * MIN);
    const finished = h.of("run-finished");
    expect(finished.length).toBeGreaterThanOrEqual(47);
    expect(finished.every((e) => e.status === "timed-out" && e.durationMs === 5 * MIN)).toBe(true);
    expect(new Set(gaps(timesOf(h.events, "run-started")))).toEqual(new Set([30 * MIN]));
    expect(alertTrail(h.events, "run-timed-out")).toEqual(["open"]);
    h.actor.send({ type: "STOP" });
  });

  it("a late settlement of a timed-out run emits run-settled-late and is not counted", async () => {
    const host = controlledHost();
    const h = startHeartbeat({ agent: { every: "30m", runTimeout: "1m" }, run: host.run });
    await vi.advanceTimersByTimeAsync(phaseOffset("a1", 30 * MIN) + MIN);
    expect(h.of("run-finished")).toMatchObject([{ status: "timed-out", runId: 1 }]);
    const counted = h.actor.getSnapshot().context.s;
    host.runs[0]!.resolve(work);
    await vi.advanceTimersByTimeAsync(SEC);
    expect(h.of("run-settled-late")).toMatchObject([{ runId: 1, settled: "resolved", agentId: "a1" }]);
    expect(h.of("run-finished")).toHaveLength(1);
    const after = h.actor.getSnapshot().context.s;
    expect(after.runCount).toBe(counted.runCount);
    expect(after.lastRunAt).toBe(counted.lastRunAt);
    expect(after.consecutiveZeroWork).toBe(counted.consecutiveZeroWork);
    expect(h.state()).toBe("idle");

    // A rejection after the deadline is recorded the same way.
    await vi.advanceTimersByTimeAsync(30 * MIN);
    expect(h.of("run-finished").at(-1)).toMatchObject({ status: "timed-out", runId: 2 });
    host.runs[1]!.reject(new Error("too late"));
    await vi.advanceTimersByTimeAsync(SEC);
    expect(h.of("run-settled-late").map((e) => [e.runId, e.settled])).toEqual([
      [1, "resolved"],
      [2, "rejected"],
    ]);
    expect(h.of("run-finished")).toHaveLength(2);
    h.actor.send({ type: "STOP" });
  });
});

describe("counters", () => {
  it("runCount and lastRunAt never move on host-skipped runs or deferrals", async () => {
    const script: Scripted[] = [work, { status: "skipped", reason: "no-session" }, { status: "skipped", reason: "busy" }, work];
    const h = startHeartbeat({ agent: { every: "30m" }, run: scriptedHost(script) });
    const snap = () => h.actor.getSnapshot().context.s;
    const slot = phaseOffset("a1", 30 * MIN);

    await vi.advanceTimersByTimeAsync(slot);
    expect(snap()).toMatchObject({ runCount: 1, lastRunAt: T0 + slot, skipCount: 0 });
    for (let i = 0; i < 5; i++) {
      await vi.advanceTimersByTimeAsync(MIN);
      h.wake("exec-event"); // deferred: not-due
    }
    expect(h.of("wake-deferred")).toHaveLength(5);
    expect(snap()).toMatchObject({ runCount: 1, lastRunAt: T0 + slot, skipCount: 0 });

    await advanceTo(T0 + slot + 30 * MIN, MIN); // host skips
    expect(h.of("run-finished").at(-1)).toMatchObject({ status: "skipped", reason: "no-session" });
    expect(snap()).toMatchObject({ runCount: 1, lastRunAt: T0 + slot, skipCount: 1, lastStatus: "skipped" });
    await advanceTo(T0 + slot + 60 * MIN, MIN); // host skips again
    expect(snap()).toMatchObject({ runCount: 1, lastRunAt: T0 + slot, skipCount: 2 });
    await advanceTo(T0 + slot + 90 * MIN, MIN); // ran
    expect(snap()).toMatchObject({ runCount: 2, lastRunAt: T0 + slot + 90 * MIN, skipCount: 2, lastStatus: "ran" });
    h.actor.send({ type: "STOP" });
  });
});

describe("detectors", () => {
  it("3 consecutive zero-work runs open one zero-work-streak alert; a run with work resolves it; it re-arms", async () => {
    const script = [zero, zero, zero, zero, zero, work, zero, zero, zero];
    const h = startHeartbeat({ agent: { every: "1m" }, run: scriptedHost(script, work) });
    const slot = phaseOffset("a1", MIN);
    const trailAfter = async (runs: number) => {
      await advanceTo(T0 + slot + (runs - 1) * MIN + SEC, 10 * SEC);
      expect(h.calls).toHaveLength(runs);
      return alertTrail(h.events, "zero-work-streak");
    };
    expect(await trailAfter(2)).toEqual([]);
    expect(await trailAfter(3)).toEqual(["open"]);
    expect(h.of("alert").find((e) => e.kind === "zero-work-streak")?.at).toBe(T0 + slot + 2 * MIN);
    expect(await trailAfter(5)).toEqual(["open"]); // not one per run
    expect(await trailAfter(6)).toEqual(["open", "resolved"]);
    expect(h.actor.getSnapshot().context.s.consecutiveZeroWork).toBe(0);
    expect(await trailAfter(9)).toEqual(["open", "resolved", "open"]);
    h.actor.send({ type: "STOP" });
  });

  it("usage absent is unknown, not zero", async () => {
    const h = startHeartbeat({ agent: { every: "1m" }, run: scriptedHost([zero, zero, unknown, unknown, unknown, unknown]) });
    await advanceTo(T0 + phaseOffset("a1", MIN) + 5 * MIN + SEC, 10 * SEC);
    expect(h.calls).toHaveLength(6);
    expect(alertTrail(h.events, "zero-work-streak")).toEqual([]);
    expect(h.actor.getSnapshot().context.s.consecutiveZeroWork).toBeLessThan(3);
    h.actor.send({ type: "STOP" });
  });

  it("a due run held more than 2 cadences raises one past-due alert, resolved when it runs", async () => {
    let busy = true;
    const h = startHeartbeat({ agent: { every: "1m" }, lanes: { mainBusy: () => busy } });
    const slot = phaseOffset("a1", MIN);
    const sane = await advanceWhile(slot + 200 * SEC, SEC, () => h.of("wake-deferred").length < 50);
    expect(sane, "the busy retry is spinning").toBe(true);
    expect(h.calls).toHaveLength(0);
    expect(alertTrail(h.events, "past-due")).toEqual(["open"]);
    const opened = h.of("alert").find((e) => e.kind === "past-due")!;
    expect(opened.at - T0 - slot).toBeGreaterThan(2 * MIN);
    expect(opened.at - T0 - slot).toBeLessThanOrEqual(2 * MIN + 60 * SEC);
    expect(alertTrail(h.events, "busy-wedged")).toEqual(["open"]);
    busy = false;
    await vi.advanceTimersByTimeAsync(60 * SEC);
    expect(h.calls).toHaveLength(1);
    expect(alertTrail(h.events, "past-due")).toEqual(["open", "resolved"]);
    expect(alertTrail(h.events, "busy-wedged")).toEqual(["open", "resolved"]);
    h.actor.send({ type: "STOP" });
  });
});
