import { describe, expect, it } from "vitest";
import { SimClock } from "../../src/sim/clock.ts";
import { parseFaults } from "../../src/sim/faults.ts";
import { runFleet } from "../../src/sim/fleet.ts";
import { Rng } from "../../src/sim/rng.ts";

/** The discrete-event clock and the determinism the whole simulator rests on. */

describe("SimClock", () => {
  it("fires timers in (due, insertion) order, moving time to each, and settles promises between them", async () => {
    const clock = new SimClock(0);
    const seen: string[] = [];
    clock.setTimeout("x", () => seen.push(`b@${clock.monoNow}`), 20);
    clock.setTimeout("x", () => {
      seen.push(`a@${clock.monoNow}`);
      void Promise.resolve().then(() => seen.push(`a-microtask@${clock.monoNow}`));
    }, 10);
    clock.setTimeout("x", () => seen.push(`c@${clock.monoNow}`), 20);
    await clock.runUntil(100);
    expect(seen).toEqual(["a@10", "a-microtask@10", "b@20", "c@20"]);
    expect(clock.monoNow).toBe(100);
  });

  it("follows Node: below 1 ms fires after 1 ms; above 2^31-1 ms fires after 1 ms and is recorded", async () => {
    const clock = new SimClock(0);
    const at: number[] = [];
    clock.setTimeout("x", () => at.push(clock.monoNow), 0);
    clock.setTimeout("x", () => at.push(clock.monoNow), 2 ** 31);
    await clock.runUntil(10);
    expect(at).toEqual([1, 1]);
    expect(clock.overLimit).toEqual([{ owner: "x", ms: 2 ** 31, at: 0 }]);
  });

  it("counts and cancels timers by owner; a killed owner schedules nothing more", async () => {
    const clock = new SimClock(0);
    const fired: string[] = [];
    const id = clock.setTimeout("gw", () => fired.push("gw1"), 5);
    clock.setTimeout("gw", () => fired.push("gw2"), 5);
    clock.setTimeout("host", () => fired.push("host"), 5);
    clock.clearTimeout(id);
    expect(clock.pending("gw")).toBe(1);
    clock.kill("gw");
    clock.setTimeout("gw", () => fired.push("gw3"), 1);
    expect(clock.pending("gw")).toBe(0);
    await clock.runUntil(10);
    expect(fired).toEqual(["host"]);
  });

  it("jumps wall time only: monotonic time and timers are unaffected", async () => {
    const clock = new SimClock(1_000_000);
    const fired: number[] = [];
    clock.setTimeout("x", () => fired.push(clock.monoNow), 100);
    clock.jumpWall(-3_600_000);
    expect(clock.now()).toEqual({ wall: 1_000_000 - 3_600_000, mono: 0 });
    await clock.runUntil(100);
    expect(fired).toEqual([100]);
    expect(clock.now()).toEqual({ wall: 1_000_000 - 3_600_000 + 100, mono: 100 });
  });

  it("runs an async driver action atomically in simulated time", async () => {
    const clock = new SimClock(0);
    const log: string[] = [];
    clock.setTimeout("driver", async () => {
      log.push(`start@${clock.monoNow}`);
      await Promise.resolve();
      await new Promise<void>((r) => setImmediate(r));
      log.push(`end@${clock.monoNow}`);
    }, 10);
    clock.setTimeout("x", () => log.push(`other@${clock.monoNow}`), 10);
    await clock.runUntil(20);
    expect(log).toEqual(["start@10", "end@10", "other@10"]);
  });
});

describe("determinism", () => {
  it("the PRNG is a function of its seed", () => {
    const draw = (seed: number) => Array.from({ length: 5 }, ((r) => () => r.next())(new Rng(seed)));
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
  });

  it("a fleet seed replays exactly (same runs, events, timers, violations)", { timeout: 60_000 }, async () => {
    const run = async (seed: number) => {
      const r = await runFleet({ seed, agents: 6, days: 1, faults: parseFaults("all") });
      return { runs: r.runs, events: r.events, timers: r.timersFired, faults: r.faults, violations: r.violations, tolerated: r.tolerated };
    };
    const a = await run(17);
    expect(await run(17)).toEqual(a);
    expect((await run(18)).events).not.toBe(a.events);
    expect(a.runs).toBeGreaterThan(50);
  });
});
