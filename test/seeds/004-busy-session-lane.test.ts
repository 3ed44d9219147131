import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { phaseOffset } from "../../src/policy/phase.ts";
import { useFakeTime } from "../support/fake-time.ts";
import { startHeartbeat } from "../support/heartbeat.ts";
import { advanceWhile, gaps, MIN, SEC, timesOf } from "../support/sim.ts";

/**
 * Seed 004 — "a heartbeat turn interrupted a user's streaming turn in the same session":
 * only the main lane was checked, so a heartbeat ran into a busy session lane.
 *
 * How the seed's buggy behaviour would fail these tests: runHeartbeat would be called
 * while sessionBusy("s1") is true (calls > 0 during the busy period) and no
 * "session-lane-busy" deferral would be recorded. The reviewers' follow-up bugs are
 * covered too: reporting the session case as the global "requests-in-flight" /
 * "main-lane-busy" would fail the reason check, holding other agents back would fail
 * the s2 test, and counting busy skips as runs (or letting them push the schedule)
 * would fail the runCount / due checks.
 */

const T0 = Date.UTC(2026, 0, 5, 12, 0, 0);
const SLOT = phaseOffset("a1", 30 * MIN);
/** Expected retry delays: 1 s doubling, capped at 60 s. */
const BACKOFF = [1, 2, 4, 8, 16, 32, 60, 60, 60].map((s) => s * SEC);
/**
 * Fail fast instead of grinding through a spin of deferrals. Regression: before 6d34ac3 the
 * deferred state's retry delay was min(backoff, untilDue(slot)) = 0 once the slot was due,
 * so a busy lane re-decided every 1 ms (~97 000 wake-deferred events in 2 minutes).
 */
const SANE = 50;

beforeEach(() => useFakeTime(T0));
afterEach(() => vi.useRealTimers());

function busyLanes() {
  const sessions = new Set<string>();
  let main = false;
  return {
    sessions,
    setMain: (v: boolean) => (main = v),
    lanes: { mainBusy: () => main, sessionBusy: (key: string) => sessions.has(key) },
  };
}

describe("busy session lane", () => {
  it("defers only that target with session-lane-busy, backs off 1 s → 60 s, never runs while busy, then runs", async () => {
    const lane = busyLanes();
    lane.sessions.add("s1");
    const h = startHeartbeat({ agent: { every: "30m", sessionKey: "s1" }, lanes: lane.lanes });
    const dueBefore = h.actor.getSnapshot().context.s.due;
    expect(dueBefore).toEqual({ kind: "mono", at: performance.now() + SLOT });

    const sane = await advanceWhile(SLOT + 200 * SEC, SEC, () => h.of("wake-deferred").length < SANE);
    const deferrals = h.of("wake-deferred");
    expect(sane, `${deferrals.length} deferrals: the busy retry is spinning instead of backing off`).toBe(true);
    expect(h.calls).toHaveLength(0);
    expect(new Set(deferrals.map((e) => e.reason))).toEqual(new Set(["session-lane-busy"]));
    const at = timesOf(h.events, "wake-deferred", T0);
    expect(at[0]).toBe(SLOT);
    expect(deferrals.map((e) => e.retryAt - e.at)).toEqual(BACKOFF);
    expect(gaps(at)).toEqual(BACKOFF.slice(0, -1));

    // Busy deferrals are not runs: no count, no cooldown consumed, the slot not moved.
    const s = h.actor.getSnapshot().context.s;
    expect(s.runCount).toBe(0);
    expect(s.lastRunAt).toBeUndefined();
    expect(s.lastRunStartMono).toBeUndefined();
    expect(s.runStarts).toEqual([]);
    expect(s.due).toEqual(dueBefore);
    expect(h.state()).toBe("deferred");

    // The lane frees: the next retry (at SLOT + 243 s) runs.
    lane.sessions.delete("s1");
    await vi.advanceTimersByTimeAsync(60 * SEC);
    expect(timesOf(h.events, "run-started", T0)).toEqual([SLOT + 243 * SEC]);
    expect(h.calls[0]).toMatchObject({ agentId: "a1", sessionKey: "s1", reasons: ["interval"] });
    const after = h.actor.getSnapshot().context.s;
    expect(after.runCount).toBe(1);
    expect(after.busy).toBeUndefined();
    // The grid is kept: the next slot is a full cadence after the original one.
    expect(after.due).toEqual({ kind: "mono", at: (dueBefore as { at: number }).at + 30 * MIN });
    h.actor.send({ type: "STOP" });
    expect(vi.getTimerCount()).toBe(0);
  });

  it("another agent on session s2 (its own actor) runs normally meanwhile", async () => {
    const lane = busyLanes();
    lane.sessions.add("s1");
    // s1's wake is held by its busy lane (its slot is an hour away); s2 is not affected.
    const busy = startHeartbeat({ agent: { id: "a1", every: "1h", sessionKey: "s1" }, lanes: lane.lanes });
    const free = startHeartbeat({ agent: { id: "b1", every: "1m", sessionKey: "s2" }, lanes: lane.lanes });
    busy.wake("wake");
    const sane = await advanceWhile(15 * MIN, SEC, () => busy.of("wake-deferred").length < SANE);
    expect(sane, "the busy agent is spinning").toBe(true);
    expect(busy.calls).toHaveLength(0);
    expect(busy.of("wake-deferred").every((e) => e.reason === "session-lane-busy")).toBe(true);
    expect(busy.state()).toBe("deferred");
    // b1 ran every minute, never held by s1's lane.
    expect(free.calls.length).toBeGreaterThanOrEqual(14);
    expect(free.calls.every((c) => c.sessionKey === "s2")).toBe(true);
    expect(free.of("wake-deferred")).toHaveLength(0);
    expect(new Set(gaps(timesOf(free.events, "run-started")))).toEqual(new Set([MIN]));
    lane.sessions.clear();
    await vi.advanceTimersByTimeAsync(MIN);
    expect(busy.calls.map((c) => c.reasons)).toEqual([["wake"]]);
    busy.actor.send({ type: "STOP" });
    free.actor.send({ type: "STOP" });
    expect(vi.getTimerCount()).toBe(0);
  });

  it("a busy main lane is reported as main-lane-busy (and wins over a busy session)", async () => {
    const lane = busyLanes();
    lane.setMain(true);
    lane.sessions.add("s1");
    const h = startHeartbeat({ agent: { every: "30m", sessionKey: "s1" }, lanes: lane.lanes });
    const sane = await advanceWhile(SLOT + 10 * SEC, SEC, () => h.of("wake-deferred").length < SANE);
    expect(sane, "the busy retry is spinning").toBe(true);
    const deferrals = h.of("wake-deferred");
    expect(deferrals.map((e) => e.reason)).toEqual(["main-lane-busy", "main-lane-busy", "main-lane-busy", "main-lane-busy"]);
    expect(gaps(timesOf(h.events, "wake-deferred"))).toEqual([1, 2, 4].map((s) => s * SEC));
    expect(h.calls).toHaveLength(0);
    lane.setMain(false);
    lane.sessions.clear();
    await vi.advanceTimersByTimeAsync(10 * SEC);
    expect(h.calls).toHaveLength(1);
    h.actor.send({ type: "STOP" });
  });

  it("a manual wake into a busy session lane is deferred too, and runs once the lane frees", async () => {
    const lane = busyLanes();
    lane.sessions.add("s1");
    const h = startHeartbeat({ agent: { every: "30m", sessionKey: "s1" }, lanes: lane.lanes });
    h.wake("manual");
    const sane = await advanceWhile(20 * SEC, SEC, () => h.of("wake-deferred").length < SANE);
    expect(sane, "the busy retry is spinning").toBe(true);
    expect(h.calls).toHaveLength(0);
    expect(h.of("wake-deferred")[0]).toMatchObject({ reason: "session-lane-busy", reasons: ["manual"] });
    lane.sessions.delete("s1");
    await vi.advanceTimersByTimeAsync(20 * SEC);
    expect(h.calls.map((c) => c.reasons)).toEqual([["manual"]]);
    h.actor.send({ type: "STOP" });
  });
});
