import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { phaseOffset } from "../../src/policy/phase.ts";
import { systemClock } from "../../src/runtime/clock.ts";
import { Coalescer } from "../../src/runtime/coalescer.ts";
import { HandlerSlot } from "../../src/runtime/handler-slot.ts";
import { useFakeTime } from "../support/fake-time.ts";
import { startHeartbeat } from "../support/heartbeat.ts";
import { advanceTo, gaps, HOUR, MIN, scriptedHost, timesOf, type Scripted } from "../support/sim.ts";

/**
 * Seed 000 — "the heartbeat scheduler silently stops firing after 1-3 hours".
 *
 * How the seed's buggy behaviour would fail these tests:
 * (a) a global `setHeartbeatWakeHandler(null)` from runner A's cleanup clears runner B's
 *     handler: B's handler would receive nothing and `installed` would be false; with no
 *     handler, calls returned silently (dropped) instead of being queued and replayed.
 * (b) `schedule()` did `if (timer) return;`: the 0.5 s request would be ignored and the
 *     wake delivered at 10 s (or its reason lost).
 * (c) the next interval was armed only inside run(), via the wake callback: with no wake
 *     delivered, or a host that throws or hangs, the run count would stop rising.
 */

const T0 = Date.UTC(2026, 0, 5, 12, 0, 0);

beforeEach(() => useFakeTime(T0));
afterEach(() => vi.useRealTimers());

describe("(a) HandlerSlot: ownership by generation", () => {
  it("a stale disposer from runner A cannot clear runner B's handler", () => {
    const slot = new HandlerSlot<string>();
    const a: string[] = [];
    const b: string[] = [];
    const disposeA = slot.install((x) => a.push(x));
    slot.call("first");
    const disposeB = slot.install((x) => b.push(x)); // reload: runner B takes over
    disposeA(); // runner A's late cleanup
    disposeA(); // and again: still a no-op
    expect(slot.installed).toBe(true);
    slot.call("after-reload");
    expect(a).toEqual(["first"]);
    expect(b).toEqual(["after-reload"]);
    disposeB();
    expect(slot.installed).toBe(false);
  });

  it("calls with no handler are queued and replayed in order on the next install, not dropped", () => {
    const slot = new HandlerSlot<string>();
    const dispose = slot.install(() => {});
    dispose();
    expect(slot.call("w1")).toBe(true);
    expect(slot.call("w2")).toBe(true);
    expect(slot.queued).toBe(2);
    const got: string[] = [];
    slot.install((x) => got.push(x));
    expect(got).toEqual(["w1", "w2"]);
    expect(slot.queued).toBe(0);
    slot.call("w3");
    expect(got).toEqual(["w1", "w2", "w3"]);
  });

  it("a full queue is reported (false), never silently dropped", () => {
    const slot = new HandlerSlot<number>(2);
    expect([slot.call(1), slot.call(2), slot.call(3)]).toEqual([true, true, false]);
    const got: number[] = [];
    slot.install((x) => got.push(x));
    expect(got).toEqual([1, 2]);
  });

  it("each install gets a new generation", () => {
    const slot = new HandlerSlot<number>();
    const g0 = slot.currentGeneration;
    slot.install(() => {});
    slot.install(() => {});
    expect(slot.currentGeneration).toBe(g0 + 2);
  });
});

describe("(b) Coalescer: an earlier due time preempts a later pending one", () => {
  function coalescer() {
    const delivered: { at: number; target: string; reasons: string[]; count: number }[] = [];
    const merged: string[][] = [];
    const c = new Coalescer(
      systemClock,
      (target, reasons, count) => delivered.push({ at: Date.now() - T0, target, reasons, count }),
      (_t, reasons) => merged.push(reasons),
    );
    return { c, delivered, merged };
  }

  it("a wake due in 10 s is preempted by a request due in 0.5 s: delivered at 0.5 s with both reasons", async () => {
    const { c, delivered, merged } = coalescer();
    c.request("a1", "exec-event", 10_000);
    c.request("a1", "manual", 500);
    expect(merged).toEqual([["exec-event", "manual"]]);
    expect(c.nextDueMono("a1")).toBe(performance.now() + 500);
    await vi.advanceTimersByTimeAsync(499);
    expect(delivered).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(delivered).toEqual([{ at: 500, target: "a1", reasons: ["exec-event", "manual"], count: 2 }]);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(delivered).toHaveLength(1); // no second, late delivery at 10 s
    expect(c.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("a later request never postpones an earlier pending delivery", async () => {
    const { c, delivered } = coalescer();
    c.request("a1", "wake", 500);
    await vi.advanceTimersByTimeAsync(300);
    c.request("a1", "exec-event", 10_000);
    await vi.advanceTimersByTimeAsync(200);
    expect(delivered).toEqual([{ at: 500, target: "a1", reasons: ["wake", "exec-event"], count: 2 }]);
  });

  it("coalesceMs 0 delivers at once, carrying what was pending; targets are independent", async () => {
    const { c, delivered } = coalescer();
    c.request("a1", "exec-event", 10_000);
    c.request("b1", "wake", 250);
    c.request("a1", "manual", 0);
    expect(delivered).toEqual([{ at: 0, target: "a1", reasons: ["exec-event", "manual"], count: 2 }]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(delivered.map((d) => [d.at, d.target])).toEqual([
      [0, "a1"],
      [250, "b1"],
    ]);
  });
});

describe("(c) the interval timer lives in the machine", () => {
  it("with no wake ever delivered and a host that throws or hangs, the next interval is always armed", async () => {
    const script: Scripted[] = [];
    for (let i = 0; i < 100; i++) script.push(i % 3 === 0 ? "throw" : i % 3 === 1 ? "hang" : { status: "ran" });
    const h = startHeartbeat({ agent: { every: "10m", runTimeout: "1m" }, run: scriptedHost(script) });
    const counts: number[] = [];
    for (let hour = 1; hour <= 6; hour++) {
      await advanceTo(T0 + hour * HOUR, 10 * MIN);
      counts.push(h.calls.length);
      expect(h.state()).toBe("idle");
      expect(vi.getTimerCount()).toBe(1); // the due timer is armed
    }
    // Keeps rising hour after hour: 6 runs an hour.
    expect(gaps([0, ...counts])).toEqual([6, 6, 6, 6, 6, 6]);
    const starts = timesOf(h.events, "run-started", T0);
    expect(starts[0]).toBe(phaseOffset("a1", 10 * MIN));
    expect(new Set(gaps(starts))).toEqual(new Set([10 * MIN]));
    const statuses = new Set(h.of("run-finished").map((e) => e.status));
    expect(statuses).toEqual(new Set(["failed", "timed-out", "ran"]));
    expect(h.of("run-started").every((e) => e.reasons.join() === "interval")).toBe(true);
    h.actor.send({ type: "STOP" });
    expect(vi.getTimerCount()).toBe(0);
  });
});
