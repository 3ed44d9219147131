import { SimulatedClock } from "xstate";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { phaseOffset } from "../../src/policy/phase.ts";
import { MAX_TIMER_MS } from "../../src/policy/time.ts";
import { simulatedClock } from "../../src/runtime/clock.ts";
import type { RunContext } from "../../src/runtime/host.ts";
import { useFakeTime } from "../support/fake-time.ts";
import { startHeartbeat } from "../support/heartbeat.ts";
import { advanceTo, advanceWhile, controlledHost, DAY, gaps, HOUR, localHM, MIN, scriptedHost, SEC, timesOf, type Scripted } from "../support/sim.ts";

/**
 * Machine tests of machines/heartbeat.ts driving the real actor on simulated time
 * (vitest fake timers with fake Date and performance, or xstate's SimulatedClock).
 * `fromPromise` settles on microtasks, so time only moves through the async advance
 * variants, which flush microtasks between timers.
 */

const T0 = Date.UTC(2026, 0, 5, 12, 0, 0);

beforeEach(() => useFakeTime(T0));
afterEach(() => vi.useRealTimers());

describe("cadence", () => {
  it("every 30m for 3 days: 144 ± 1 runs, first after a phase offset in (0, 30m], gaps exactly 30m", async () => {
    const h = startHeartbeat({ agent: { every: "30m" } });
    await vi.advanceTimersByTimeAsync(0);
    expect(h.calls).toHaveLength(0); // never at start
    await advanceTo(T0 + 3 * DAY, 10 * MIN);

    const starts = timesOf(h.events, "run-started", T0);
    expect(Math.abs(starts.length - 144)).toBeLessThanOrEqual(1);
    const first = starts[0]!;
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThanOrEqual(30 * MIN);
    expect(first).toBe(phaseOffset("a1", 30 * MIN));
    expect(new Set(gaps(starts))).toEqual(new Set([30 * MIN]));
    expect(h.of("run-finished").every((e) => e.status === "ran")).toBe(true);
    expect(h.of("run-started").every((e) => e.reasons.join() === "interval")).toBe(true);
    expect(h.actor.getSnapshot().context.s.runCount).toBe(starts.length);
    h.actor.send({ type: "STOP" });
    expect(vi.getTimerCount()).toBe(0);
  });

  it("drives the same cadence on xstate's SimulatedClock (small steps, microtasks flushed)", async () => {
    vi.useRealTimers(); // this test owns time through the SimulatedClock alone
    const sim = new SimulatedClock();
    const h = startHeartbeat({ agent: { every: "1m" }, clock: simulatedClock(sim, T0) });
    const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
    for (let t = 0; t < HOUR; t += SEC) {
      sim.increment(SEC);
      await flush();
    }
    const starts = timesOf(h.events, "run-started", T0);
    // Runs at phase + k·60 s, seen at the first 1 s step at or after each slot.
    expect(starts).toHaveLength(60);
    expect(starts[0]).toBe(Math.ceil(phaseOffset("a1", MIN) / SEC) * SEC);
    for (const g of gaps(starts)) expect(Math.abs(g - MIN)).toBeLessThanOrEqual(SEC);
    expect(h.of("run-finished").every((e) => e.status === "ran")).toBe(true);
    h.actor.send({ type: "STOP" });
    expect(h.actor.getSnapshot().status).toBe("done");
  });

  it("a 30d interval never fires early past the 2^31-1 ms timer limit, then runs once at its due time", async () => {
    // Pick an id whose first slot is past 24.86 days, so the limit matters for the first wait too.
    const id = ["slow", "m1", "m4", "long-0"].find((x) => phaseOffset(x, 30 * DAY) > 25 * DAY)!;
    const phase = phaseOffset(id, 30 * DAY);
    expect(MAX_TIMER_MS).toBeLessThan(24.86 * DAY);
    const h = startHeartbeat({ agent: { id, every: "30d" } });
    let transitions = 0;
    h.actor.subscribe(() => transitions++);
    // An over-limit timeout would fire after 1 ms and spin: catch that in fine steps first.
    const calm = await advanceWhile(MIN, SEC, () => transitions < 5);
    expect(calm, `${transitions} transitions in the first minute: the wait fired early`).toBe(true);

    await advanceTo(T0 + 24.86 * DAY);
    expect(h.calls).toHaveLength(0);
    await advanceTo(T0 + phase - 1, 6 * HOUR);
    expect(h.calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(timesOf(h.events, "run-started", T0)).toEqual([phase]);

    // The next wait is a full 30 days: again nothing at 24.86 days, one run at 30.
    await advanceTo(T0 + phase + 24.86 * DAY);
    expect(h.calls).toHaveLength(1);
    await advanceTo(T0 + phase + 30 * DAY, 6 * HOUR);
    expect(timesOf(h.events, "run-started", T0)).toEqual([phase, phase + 30 * DAY]);
    h.actor.send({ type: "STOP" });
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("wall-clock jumps and intervals", () => {
  it("a wall-clock jump neither silences nor storms an interval (measured on the monotonic clock)", async () => {
    const h = startHeartbeat({ agent: { every: "30m" } });
    const slot = phaseOffset("a1", 30 * MIN);
    await vi.advanceTimersByTimeAsync(slot);
    expect(h.calls).toHaveLength(1);
    vi.setSystemTime(Date.now() + 25 * DAY); // forward: no catch-up storm
    await vi.advanceTimersByTimeAsync(29 * MIN);
    expect(h.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(MIN);
    expect(h.calls).toHaveLength(2);
    vi.setSystemTime(Date.now() - 30 * DAY); // backward: not silenced
    await vi.advanceTimersByTimeAsync(30 * MIN);
    expect(h.calls).toHaveLength(3);
    h.actor.send({ type: "STOP" });
  });
});

describe("STOP", () => {
  // xstate warns (dev mode) when an event reaches a stopped actor; that warning is the harmless path.
  beforeEach(() => void vi.spyOn(console, "warn").mockImplementation(() => {}));
  afterEach(() => vi.restoreAllMocks());

  // `due` is transient: its `always` transitions resolve in the same macrostep, so no
  // observer (and no STOP) ever sees the actor resting in it. The first test checks that.
  it("from idle leaves no timer; twice is harmless; `due` is never observed", async () => {
    const h = startHeartbeat({ agent: { every: "1m" } });
    const seen = new Set<string>();
    h.actor.subscribe((s) => seen.add(String(s.value)));
    await vi.advanceTimersByTimeAsync(5 * MIN);
    expect(h.calls.length).toBeGreaterThan(0);
    expect(seen.has("due")).toBe(false);
    expect(h.state()).toBe("idle");
    expect(vi.getTimerCount()).toBe(1);
    h.actor.send({ type: "STOP" });
    h.actor.send({ type: "STOP" });
    expect(h.actor.getSnapshot().status).toBe("done");
    expect(vi.getTimerCount()).toBe(0);
  });

  it("from deferred cancels the retry timer", async () => {
    const h = startHeartbeat({ agent: { every: "30m" } });
    h.wake("exec-event"); // the first event wake runs (bootstrap)
    await vi.advanceTimersByTimeAsync(10 * SEC);
    h.wake("exec-event"); // later ones wait for the slot
    expect(h.state()).toBe("deferred");
    expect(h.of("wake-deferred").at(-1)?.reason).toBe("not-due");
    h.actor.send({ type: "STOP" });
    expect(h.state()).toBe("stopped");
    expect(vi.getTimerCount()).toBe(0);
    h.actor.send({ type: "STOP" });
    expect(vi.getTimerCount()).toBe(0);
  });

  it("from running aborts the signal, records run-finished aborted, and clears the watchdog", async () => {
    const host = controlledHost();
    const h = startHeartbeat({ agent: { every: "1m" }, run: host.run });
    await vi.advanceTimersByTimeAsync(MIN);
    expect(h.state()).toBe("running");
    const { signal } = host.runs[0]!.ctx;
    expect(signal.aborted).toBe(false);
    h.actor.send({ type: "STOP" });
    expect(signal.aborted).toBe(true);
    expect(h.of("run-finished").map((e) => [e.status, e.reason])).toEqual([["aborted", "stopped"]]);
    expect(vi.getTimerCount()).toBe(0);
    h.actor.send({ type: "STOP" });
    expect(h.of("run-finished")).toHaveLength(1);
  });

  it("after final: STOP and WAKE are no-ops, nothing re-arms", async () => {
    const h = startHeartbeat({ agent: { every: "1m" } });
    h.actor.send({ type: "STOP" });
    const before = h.events.length;
    h.actor.send({ type: "STOP" });
    h.wake("manual");
    await vi.advanceTimersByTimeAsync(10 * MIN);
    expect(h.events.length).toBe(before);
    expect(h.calls).toHaveLength(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("every path out of running re-arms", () => {
  const cases: [string, Scripted, Record<string, unknown>][] = [
    ["ran", { status: "ran", usage: { inputTokens: 3, outputTokens: 4 } }, { status: "ran" }],
    ["host skipped", { status: "skipped", reason: "nothing-to-do" }, { status: "skipped", reason: "nothing-to-do" }],
    ["thrown error", "throw", { status: "failed", error: "host blew up on call 1" }],
    [
      "synchronous throw",
      () => {
        throw new Error("sync boom");
      },
      { status: "failed", error: "sync boom" },
    ],
    ["unreadable result", () => Promise.resolve({ nope: 1 } as never), { status: "failed" }],
    ["hung run", "hang", { status: "timed-out" }],
  ];

  it.each(cases)("%s → back in idle with a timer armed, next run on schedule", async (_name, first, expected) => {
    const seen: RunContext[] = [];
    const host = scriptedHost([first]);
    const h = startHeartbeat({
      agent: { every: "1m", runTimeout: "10s" },
      run: (ctx) => (seen.push(ctx), host(ctx)),
    });
    const slot = phaseOffset("a1", MIN);
    await vi.advanceTimersByTimeAsync(slot);
    expect(h.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(10 * SEC); // covers the watchdog of a hung run
    const finished = h.of("run-finished");
    expect(finished).toHaveLength(1);
    expect(finished[0]).toMatchObject(expected);
    if (expected["status"] === "timed-out") {
      expect(finished[0]!.at - T0).toBe(slot + 10 * SEC);
      expect(seen[0]!.signal.aborted).toBe(true);
    }
    expect(h.state()).toBe("idle");
    expect(vi.getTimerCount()).toBe(1);

    await vi.advanceTimersByTimeAsync(MIN - 10 * SEC);
    expect(timesOf(h.events, "run-started", T0)).toEqual([slot, slot + MIN]);
    await vi.advanceTimersByTimeAsync(MIN);
    expect(timesOf(h.events, "run-started", T0)).toEqual([slot, slot + MIN, slot + 2 * MIN]);
    h.actor.send({ type: "STOP" });
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("wakes during a run", () => {
  it("fold into exactly one follow-up run carrying all their reasons", async () => {
    const host = controlledHost();
    const h = startHeartbeat({ agent: { every: "30m" }, run: host.run });
    const slot = phaseOffset("a1", 30 * MIN);
    await vi.advanceTimersByTimeAsync(slot);
    expect(h.state()).toBe("running");
    for (const r of ["manual", "wake", "hook:wake", "background-task", "wake", "cron:daily-report"]) {
      h.wake(r);
      await vi.advanceTimersByTimeAsync(SEC);
    }
    expect(h.calls).toHaveLength(1);
    host.runs[0]!.resolve({ status: "ran" });
    await vi.advanceTimersByTimeAsync(0);
    expect(h.calls).toHaveLength(2);
    expect(h.calls[1]!.reasons).toEqual(["manual", "wake", "hook:wake", "background-task", "cron:daily-report"]);
    host.runs[1]!.resolve({ status: "ran" });
    // Nothing else until the slot: the follow-up was the only one.
    await vi.advanceTimersByTimeAsync(25 * MIN);
    expect(h.calls).toHaveLength(2);
    expect(h.state()).toBe("idle");
    h.actor.send({ type: "STOP" });
  });
});

describe("cron and wall time", () => {
  it("runs at 09:00 Europe/Berlin every day across the spring-forward DST change", async () => {
    vi.setSystemTime(Date.UTC(2026, 2, 27, 0, 0));
    const start = Date.now();
    const h = startHeartbeat({ agent: { cron: "0 9 * * *", timezone: "Europe/Berlin" } });
    await advanceTo(Date.UTC(2026, 3, 1, 0, 0));
    const starts = h.of("run-started").map((e) => e.at);
    expect(starts).toEqual([
      Date.UTC(2026, 2, 27, 8), // CET, UTC+1
      Date.UTC(2026, 2, 28, 8),
      Date.UTC(2026, 2, 29, 7), // CEST from 29 March, UTC+2
      Date.UTC(2026, 2, 30, 7),
      Date.UTC(2026, 2, 31, 7),
    ]);
    expect(starts.every((at) => localHM(at, "Europe/Berlin") === "09:00")).toBe(true);
    expect(h.of("run-started").every((e) => e.reasons.join() === "cron-slot")).toBe(true);
    expect(start).toBeLessThan(starts[0]!);
    h.actor.send({ type: "STOP" });
    expect(vi.getTimerCount()).toBe(0);
  });

  it("a wall-clock jump of +25 days runs the missed slot once within 30 s, not a backfill", async () => {
    const h = startHeartbeat({ agent: { cron: "0 9 * * *", timezone: "Europe/Berlin" } });
    await vi.advanceTimersByTimeAsync(MIN); // 13:01 Berlin: today's slot has passed
    expect(h.calls).toHaveLength(0);
    const jumpedTo = Date.now() + 25 * DAY;
    vi.setSystemTime(jumpedTo); // the host slept; monotonic time did not move
    await vi.advanceTimersByTimeAsync(30 * SEC);
    expect(h.calls).toHaveLength(1);
    const [run] = h.of("run-started");
    expect(run!.at - jumpedTo).toBeLessThanOrEqual(30 * SEC);
    expect(run!.reasons).toEqual(["cron-slot"]);
    await vi.advanceTimersByTimeAsync(HOUR);
    expect(h.calls).toHaveLength(1); // 24 missed slots, one run
    // The schedule continues from the new wall time: the next slot is tomorrow's 09:00 Berlin.
    expect(h.actor.getSnapshot().context.s.due).toEqual({ kind: "wall", at: Date.UTC(2026, 0, 31, 8) });
    expect(h.state()).toBe("idle");
    h.actor.send({ type: "STOP" });
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("active hours", () => {
  it("skips slots outside the window as quiet-hours and runs next at the window opening", async () => {
    vi.setSystemTime(Date.UTC(2026, 0, 5, 16, 30));
    const h = startHeartbeat({
      agent: { every: "1h", activeHours: { start: "09:00", end: "17:00", timezone: "UTC" } },
    });
    await advanceTo(Date.UTC(2026, 0, 7, 16, 30));

    const starts = h.of("run-started").map((e) => e.at);
    for (const at of starts) expect(new Date(at).getUTCHours()).toBeGreaterThanOrEqual(9);
    for (const at of starts) expect(new Date(at).getUTCHours()).toBeLessThan(17);
    const skips = h.of("wake-skipped");
    expect(skips.map((e) => [e.reason, e.reasons])).toEqual([
      ["quiet-hours", ["interval"]],
      ["quiet-hours", ["interval"]],
    ]);
    // Each skip is followed by a run exactly at the next day's 09:00 opening.
    for (const skip of skips) {
      const next = starts.find((at) => at > skip.at)!;
      const d = new Date(skip.at);
      expect(next).toBe(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1, 9));
    }
    // Inside the window the hourly cadence resumes from the opening.
    const day2 = starts.filter((at) => at >= Date.UTC(2026, 0, 6) && at < Date.UTC(2026, 0, 7));
    expect(day2).toEqual([9, 10, 11, 12, 13, 14, 15, 16].map((hr) => Date.UTC(2026, 0, 6, hr)));
    expect(h.actor.getSnapshot().context.s.skipCount).toBe(2);
    expect(h.actor.getSnapshot().context.s.runCount).toBe(starts.length);
    h.actor.send({ type: "STOP" });
    expect(vi.getTimerCount()).toBe(0);
  });
});
