import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { HeartbeatEvent } from "../../src/events.ts";
import { useFakeTime } from "../support/fake-time.ts";
import { startHeartbeat } from "../support/heartbeat.ts";
import { alertTrail, gaps, HOUR, MIN, SEC, timesOf } from "../support/sim.ts";

/**
 * Seed 002 — "a `30m` heartbeat fired every ~10 s": only `reason === "interval"` was
 * gated by the cooldown, so every `exec-event` wake ran at once.
 *
 * How the seed's buggy behaviour would fail these tests: with exec-event bypassing the
 * due check, 2 h of wakes every 10 s would produce ~720 runs instead of ≤ 6, no
 * `wake-deferred` "not-due" would be recorded, and there was no flood guard (20 `wake`
 * wakes in 20 s would give 20 runs and no "flood" alert). Conversely, an over-eager fix
 * that deferred everything would fail the manual-wake test.
 */

const T0 = Date.UTC(2026, 0, 5, 12, 0, 0);

beforeEach(() => useFakeTime(T0));
afterEach(() => vi.useRealTimers());

/** Send one wake and return the events it caused (after microtasks settle). */
async function wakeAndSee(h: ReturnType<typeof startHeartbeat>, reason: string): Promise<HeartbeatEvent[]> {
  const before = h.events.length;
  h.wake(reason);
  await vi.advanceTimersByTimeAsync(0);
  return h.events.slice(before);
}

describe("exec-event storm on a 30m heartbeat", () => {
  it("at most one run per interval plus the bootstrap; every held wake is recorded and folded", async () => {
    const h = startHeartbeat({ agent: { every: "30m" } });
    let sent = 0;
    let ranAtOnce = 0;
    for (let t = 10 * SEC; t <= 2 * HOUR; t += 10 * SEC) {
      await vi.advanceTimersByTimeAsync(10 * SEC);
      const caused = await wakeAndSee(h, "exec-event");
      sent++;
      if (caused.some((e) => e.type === "run-started")) {
        ranAtOnce++;
        continue;
      }
      // Held: recorded as a deferral that carries the wake, never dropped silently.
      const deferral = caused.find((e) => e.type === "wake-deferred");
      expect(deferral, `wake #${sent} at ${t} ms left no record`).toMatchObject({ reason: "not-due" });
      expect(deferral?.type === "wake-deferred" && deferral.reasons).toContain("exec-event");
    }
    expect(sent).toBe(720);

    const runs = h.of("run-started");
    expect(runs.length).toBeLessThanOrEqual((2 * HOUR) / (30 * MIN) + 1 + 1);
    expect(runs.length).toBeGreaterThanOrEqual(4);
    // Bootstrap: the first event wake, with no run before it, ran immediately.
    expect(ranAtOnce).toBe(1);
    expect(runs[0]).toMatchObject({ at: T0 + 10 * SEC, reasons: ["exec-event"] });
    // Every later run is a scheduled one that carries the folded exec-event.
    for (const run of runs.slice(1)) expect(run.reasons).toEqual(["interval", "exec-event"]);
    for (const g of gaps(timesOf(h.events, "run-started"))) expect(g).toBeGreaterThanOrEqual(30 * MIN);
    // One deferral record per held wake; no other reason was needed.
    const deferrals = h.of("wake-deferred");
    expect(deferrals.filter((e) => e.reason === "not-due")).toHaveLength(sent - ranAtOnce);
    expect(new Set(deferrals.map((e) => e.reason))).toEqual(new Set(["not-due"]));
    // Counters: only runs that reached the host count.
    expect(h.actor.getSnapshot().context.s.runCount).toBe(runs.length);
    h.actor.send({ type: "STOP" });
    expect(vi.getTimerCount()).toBe(0);
  });

  it("manual (and other immediate) wakes still run at once in the middle of the storm", async () => {
    const h = startHeartbeat({ agent: { every: "30m" } });
    for (let t = 10 * SEC; t <= 20 * MIN; t += 10 * SEC) {
      await vi.advanceTimersByTimeAsync(10 * SEC);
      h.wake("exec-event");
    }
    const manual = await wakeAndSee(h, "manual");
    const started = manual.find((e) => e.type === "run-started");
    expect(started).toMatchObject({ at: T0 + 20 * MIN });
    // The held exec-event is folded into it, not lost.
    expect(started?.type === "run-started" && started.reasons).toEqual(["exec-event", "manual"]);
    await vi.advanceTimersByTimeAsync(10 * SEC);
    const hook = await wakeAndSee(h, "hook:wake");
    expect(hook.find((e) => e.type === "run-started")).toMatchObject({ reasons: ["hook:wake"] });
    // And an exec-event right after is held again (not-due), not run.
    await vi.advanceTimersByTimeAsync(10 * SEC);
    const again = await wakeAndSee(h, "exec-event");
    expect(again.map((e) => e.type)).toEqual(["wake-deferred"]);
    h.actor.send({ type: "STOP" });
  });
});

describe("flood guard", () => {
  /** For each run start, how many starts fall in the 60 s window opening at it. */
  function maxPerWindow(starts: readonly number[], windowMs = 60 * SEC): number {
    return Math.max(0, ...starts.map((s) => starts.filter((t) => t >= s && t < s + windowMs).length));
  }

  it("20 `wake` wakes 1 s apart: at most 5 runs per 60 s, one flood alert, held wakes run when the window allows", async () => {
    const h = startHeartbeat({ agent: { every: "30m" } });
    for (let i = 0; i < 20; i++) {
      h.wake("wake");
      await vi.advanceTimersByTimeAsync(SEC);
    }
    await vi.advanceTimersByTimeAsync(2 * MIN);
    const starts = timesOf(h.events, "run-started", T0);
    expect(maxPerWindow(starts)).toBeLessThanOrEqual(5);
    expect(starts.slice(0, 5)).toEqual([0, 1, 2, 3, 4].map((s) => s * SEC));
    // The held wakes were folded into one run as soon as the window allowed it.
    expect(starts.slice(5)).toEqual([60 * SEC]);
    expect(h.of("run-started")[5]!.reasons).toEqual(["wake"]);
    const held = h.of("wake-deferred");
    expect(held.length).toBe(15);
    expect(held.every((e) => e.reason === "flood")).toBe(true);
    // One alert for the whole episode, raised on the first held wake.
    const opened = h.of("alert").filter((e) => e.kind === "flood" && e.state === "open");
    expect(opened).toHaveLength(1);
    expect(opened[0]!.at - T0).toBe(5 * SEC);
    // At the latest the next scheduled run ends the episode.
    await vi.advanceTimersByTimeAsync(30 * MIN);
    expect(alertTrail(h.events, "flood")).toEqual(["open", "resolved"]);
    h.actor.send({ type: "STOP" });
  });

  // Regression: before df9e14e openAgentAlerts kept "flood" open while floodHeldMono was set at all,
  // so neither the gateway sweep (CHECK) nor time could end the episode; only a later run did.
  it("the flood alert resolves after a quiet window (detector sweep), and a new episode raises a new one", async () => {
    const h = startHeartbeat({ agent: { every: "30m" } });
    for (let i = 0; i < 20; i++) {
      h.wake("wake");
      await vi.advanceTimersByTimeAsync(SEC);
    }
    // Last held wake at 19 s; a full 60 s window without a held wake ends the episode.
    await vi.advanceTimersByTimeAsync(2 * MIN);
    h.actor.send({ type: "CHECK" }); // the gateway's detector sweep
    expect(alertTrail(h.events, "flood")).toEqual(["open", "resolved"]);
    expect(h.actor.getSnapshot().context.alerts).not.toContain("flood");

    for (let i = 0; i < 20; i++) {
      h.wake("wake");
      await vi.advanceTimersByTimeAsync(SEC);
    }
    expect(alertTrail(h.events, "flood")).toEqual(["open", "resolved", "open"]);
    h.actor.send({ type: "STOP" });
  });

  it("manual wakes are never held by the flood guard", async () => {
    const h = startHeartbeat({ agent: { every: "30m" } });
    for (let i = 0; i < 20; i++) {
      h.wake("manual");
      await vi.advanceTimersByTimeAsync(SEC);
    }
    expect(h.calls).toHaveLength(20);
    expect(h.of("wake-deferred")).toHaveLength(0);
    expect(alertTrail(h.events, "flood")).toEqual([]);
    h.actor.send({ type: "STOP" });
  });
});
