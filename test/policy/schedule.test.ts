import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { phaseOffset } from "../../src/policy/phase.ts";
import {
  cadenceMs,
  dueMono,
  dueWall,
  firstDue,
  isDue,
  nextDueAfterRun,
  nextDueAfterSkip,
  untilDue,
} from "../../src/policy/schedule.ts";
import type { Due } from "../../src/policy/state.ts";
import { DAY, HOUR, type Instant, MAX_TIMER_MS, MINUTE, SECOND, WALL_RECHECK_MS } from "../../src/policy/time.ts";
import type { ResolvedAgent } from "../../src/policy/types.ts";
import { agentOf, mono, never, utc, wall } from "./fixtures.ts";

const START: Instant = { wall: utc(12, 30), mono: 5_000_000 };

describe("firstDue", () => {
  it.each<[string, number]>([
    ["a1", 30 * MINUTE],
    ["a1", SECOND],
    ["agent-2", 90 * SECOND],
    ["b", 2 * HOUR],
    ["long", 30 * DAY],
  ])("interval: %j every %d ms is due at start + phase, within (0, every]", (id, every) => {
    const agent = agentOf({ id, every });
    const due = firstDue(agent, START);
    expect(due).toEqual({ kind: "mono", at: START.mono + phaseOffset(id, every) });
    if (due.kind !== "mono") throw new Error("expected a mono due");
    expect(due.at - START.mono).toBeGreaterThan(0);
    expect(due.at - START.mono).toBeLessThanOrEqual(every);
    expect(isDue(due, START)).toBe(false);
  });

  it("interval: the first slot is in (0, every] for any id and start", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }).filter((s) => s.trim() !== ""),
        fc.integer({ min: SECOND, max: 40 * DAY }),
        fc.integer({ min: 0, max: 2 ** 40 }),
        (id, every, startMono) => {
          const due = firstDue(agentOf({ id, every }), { wall: utc(0), mono: startMono });
          return due.kind === "mono" && due.at > startMono && due.at <= startMono + every;
        },
      ),
      { numRuns: 300 },
    );
  });

  it.each<[string, Parameters<typeof agentOf>[0], Instant, Due]>([
    ["cron hourly at 12:30 → 13:00", { cron: "0 * * * *", timezone: "UTC" }, { wall: utc(12, 30), mono: 7 }, wall(utc(13))],
    ["cron hourly exactly at 13:00 → 14:00 (strictly after)", { cron: "0 * * * *", timezone: "UTC" }, { wall: utc(13), mono: 7 }, wall(utc(14))],
    ["cron every 5 min", { cron: "*/5 * * * *", timezone: "UTC" }, { wall: utc(12, 31, 20), mono: 0 }, wall(utc(12, 35))],
    ["cron 09:00 Kolkata from 12:30 UTC → next day 03:30 UTC", { cron: "0 9 * * *", timezone: "Asia/Kolkata" }, { wall: utc(12, 30), mono: 0 }, wall(Date.UTC(2026, 0, 16, 3, 30))],
    ["disabled interval", { every: "30m", enabled: false }, START, never],
    ["disabled cron", { cron: "0 * * * *", timezone: "UTC", enabled: false }, START, never],
    ["every 0m (off)", { every: "0m" }, START, never],
  ])("%s", (_name, config, now, expected) => {
    expect(firstDue(agentOf(config), now)).toEqual(expected);
  });
});

describe("isDue", () => {
  const now: Instant = { wall: utc(12), mono: 1_000_000 };
  it.each<[string, Due, boolean]>([
    ["mono before", mono(1_000_001), false],
    ["mono exactly now", mono(1_000_000), true],
    ["mono past", mono(999_999), true],
    ["wall before", wall(utc(12) + 1), false],
    ["wall exactly now", wall(utc(12)), true],
    ["wall past", wall(utc(11, 59)), true],
    // the two clocks are independent: a mono due is never read against wall time and vice versa
    ["mono due compared to mono, not wall", mono(utc(12) - 1), false],
    ["wall due compared to wall, not mono", wall(999_999), true],
    ["never", never, false],
  ])("%s: %j → %s", (_name, due, expected) => {
    expect(isDue(due, now)).toBe(expected);
  });
});

describe("untilDue", () => {
  const now: Instant = { wall: utc(12), mono: 1_000_000 };
  it.each<[string, Due, number]>([
    ["mono in 5 s", mono(1_005_000), 5_000],
    ["mono fractional rounds up (never fire early)", mono(1_000_000.2), 1],
    ["mono due now", mono(1_000_000), 0],
    ["mono overdue → 0", mono(10), 0],
    ["mono exactly at the timer limit", mono(1_000_000 + MAX_TIMER_MS), MAX_TIMER_MS],
    ["mono 30 d away → capped at 2^31−1", mono(1_000_000 + 30 * DAY), MAX_TIMER_MS],
    ["wall in 10 s", wall(utc(12, 0, 10)), 10_000],
    ["wall in exactly 30 s", wall(utc(12, 0, 30)), WALL_RECHECK_MS],
    ["wall in 1 h → capped at 30 000 (re-check the wall clock)", wall(utc(13)), 30_000],
    ["wall in 40 d → 30 000", wall(utc(12) + 40 * DAY), 30_000],
    ["wall overdue → 0", wall(utc(11)), 0],
    ["never → the timer limit", never, MAX_TIMER_MS],
  ])("%s: %j → %d ms", (_name, due, expected) => {
    expect(untilDue(due, now)).toBe(expected);
  });

  it("a 30 d interval is waited out in capped steps and is never due before the real time", () => {
    const start: Instant = { wall: utc(0), mono: 0 };
    const due = mono(30 * DAY);
    const waits: number[] = [];
    let now = start;
    while (!isDue(due, now)) {
      const wait = untilDue(due, now);
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(MAX_TIMER_MS);
      waits.push(wait);
      now = { wall: now.wall + wait, mono: now.mono + wait };
      if (waits.length > 10) throw new Error("did not converge");
    }
    expect(waits).toEqual([MAX_TIMER_MS, 30 * DAY - MAX_TIMER_MS]);
    expect(now.mono).toBe(30 * DAY);
  });

  it.each<[string, number, boolean]>([
    ["at start + 2^31−1 (first capped wake-up)", MAX_TIMER_MS, false],
    ["1 ms before the real due", 30 * DAY - 1, false],
    ["at the real due", 30 * DAY, true],
  ])("30 d interval, %s (elapsed %d ms) → isDue %s", (_name, elapsed, expected) => {
    expect(isDue(mono(30 * DAY), { wall: utc(0) + elapsed, mono: elapsed })).toBe(expected);
  });

  it("cron waits re-check at least every 30 s for any future slot", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 365 * DAY }), (ahead) => {
        const now: Instant = { wall: utc(12), mono: 42 };
        const wait = untilDue(wall(now.wall + ahead), now);
        return wait === Math.min(ahead, WALL_RECHECK_MS);
      }),
    );
  });
});

describe("nextDueAfterRun", () => {
  const every30m = agentOf({ every: "30m" });
  const E = 30 * MINUTE;
  const hourlyCron = agentOf({ cron: "0 * * * *", timezone: "UTC" });

  it.each<[string, ResolvedAgent, Due, Instant, boolean, Due]>([
    // interval: keep the grid when the slot ran on time (or a little late)
    ["slot on time keeps the grid", every30m, mono(100_000), { wall: utc(12), mono: 100_000 }, true, mono(100_000 + E)],
    ["slot 5 min late keeps the grid", every30m, mono(100_000), { wall: utc(12), mono: 100_000 + 5 * MINUTE }, true, mono(100_000 + E)],
    ["slot run just before the next grid point keeps it", every30m, mono(100_000), { wall: utc(12), mono: 100_000 + E - 1 }, true, mono(100_000 + E)],
    // interval: a late slot (next grid point passed) restarts from now, never backfills
    ["slot run exactly one cadence late restarts from now", every30m, mono(100_000), { wall: utc(12), mono: 100_000 + E }, true, mono(100_000 + 2 * E)],
    ["slot run 3 h late restarts from now", every30m, mono(100_000), { wall: utc(12), mono: 100_000 + 3 * HOUR }, true, mono(100_000 + 3 * HOUR + E)],
    // interval: a wake-driven run restarts the interval from its start
    ["wake run restarts the interval", every30m, mono(100_000 + 20 * MINUTE), { wall: utc(12), mono: 100_000 }, false, mono(100_000 + E)],
    // interval: after a quiet-hours skip the due is a wall window opening
    ["slot due at a window opening (wall) restarts from now", every30m, wall(utc(9)), { wall: utc(9), mono: 777 }, true, mono(777 + E)],
    ["never due (e.g. re-enabled) restarts from now", every30m, never, { wall: utc(9), mono: 777 }, false, mono(777 + E)],
    // cron: the slot moves only when it ran
    ["cron slot ran → next slot after now", hourlyCron, wall(utc(12)), { wall: utc(12, 0, 1), mono: 1 }, true, wall(utc(13))],
    ["cron wake run keeps the slot", hourlyCron, wall(utc(13)), { wall: utc(12, 20), mono: 1 }, false, wall(utc(13))],
    ["cron never → next slot", hourlyCron, never, { wall: utc(12, 20), mono: 1 }, false, wall(utc(13))],
    ["cron host slept 5 h: the missed slot runs once, the next is after now (no backfill)", hourlyCron, wall(utc(7)), { wall: utc(12, 10), mono: 1 }, true, wall(utc(13))],
    // disabled
    ["disabled → never", agentOf({ every: "30m", enabled: false }), mono(100_000), { wall: utc(12), mono: 100_000 }, true, never],
    ["off → never", agentOf({ every: "0m" }), mono(100_000), { wall: utc(12), mono: 100_000 }, true, never],
  ])("%s", (_name, agent, due, now, ranSlot, expected) => {
    expect(nextDueAfterRun(agent, due, now, ranSlot)).toEqual(expected);
  });

  it("an interval's next slot is always in the future and at most one cadence after now", () => {
    // a slot that ran was due (offset <= 0); a wake-driven run may happen with the slot anywhere
    fc.assert(
      fc.property(
        fc.integer({ min: SECOND, max: DAY }),
        fc.integer({ min: 0, max: 10 * DAY }),
        fc.integer({ min: -2 * DAY, max: 2 * DAY }),
        fc.boolean(),
        (every, nowMono, offset, ranSlot) => {
          fc.pre(!ranSlot || offset <= 0);
          const agent = agentOf({ every });
          const next = nextDueAfterRun(agent, mono(nowMono + offset), { wall: utc(0), mono: nowMono }, ranSlot);
          return next.kind === "mono" && next.at > nowMono && next.at <= nowMono + every;
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("nextDueAfterSkip", () => {
  const officeUtc = agentOf({ every: "30m", activeHours: { start: "09:00", end: "17:00", timezone: "UTC" } });
  const officeBerlinAgentZone = agentOf({ every: "30m", timezone: "Europe/Berlin", activeHours: { start: "09:00", end: "17:00" } });
  const cronOffice = agentOf({ cron: "0 * * * *", timezone: "UTC", activeHours: { start: "09:00", end: "17:00" } });
  const neverOpen = agentOf({ every: "30m", activeHours: { start: "09:00", end: "09:00", timezone: "UTC" } });
  const E = 30 * MINUTE;

  it.each<[string, ResolvedAgent, Due, Instant, boolean, Due]>([
    ["quiet at 20:00 UTC → tomorrow's 09:00 opening (wall)", officeUtc, mono(500), { wall: utc(20), mono: 500 }, true, wall(Date.UTC(2026, 0, 16, 9))],
    ["quiet at 06:00 UTC → today's 09:00 opening", officeUtc, mono(500), { wall: utc(6), mono: 500 }, true, wall(utc(9))],
    ["agent zone Berlin (UTC+1 in January): opening is 08:00 UTC", officeBerlinAgentZone, mono(500), { wall: utc(6), mono: 500 }, true, wall(utc(8))],
    ["cron agent: opening in the cron zone", cronOffice, wall(utc(20)), { wall: utc(20), mono: 500 }, true, wall(Date.UTC(2026, 0, 16, 9))],
    ["not a quiet-hours skip → as after a slot run", officeUtc, mono(500), { wall: utc(20), mono: 500 }, false, mono(500 + E)],
    ["quiet hours but no active hours → as after a slot run", agentOf({ every: "30m" }), mono(500), { wall: utc(20), mono: 500 }, true, mono(500 + E)],
    ["an empty window never opens → as after a slot run", neverOpen, mono(500), { wall: utc(20), mono: 500 }, true, mono(500 + E)],
  ])("%s", (_name, agent, due, now, quiet, expected) => {
    expect(nextDueAfterSkip(agent, due, now, quiet)).toEqual(expected);
  });
});

describe("dueMono / dueWall", () => {
  const now: Instant = { wall: utc(12), mono: 1_000 };
  it.each<[string, Due, number | undefined, number | undefined]>([
    ["mono in 4 s", mono(5_000), 5_000, utc(12) + 4_000],
    ["mono 1 s ago", mono(0), 0, utc(12) - 1_000],
    ["wall in 7 s", wall(utc(12) + 7_000), 8_000, utc(12) + 7_000],
    ["wall 1 h ago", wall(utc(11)), 1_000 - HOUR, utc(11)],
    ["never", never, undefined, undefined],
  ])("%s: %j → mono %s, wall %s", (_name, due, expectedMono, expectedWall) => {
    expect(dueMono(due, now)).toBe(expectedMono);
    expect(dueWall(due, now)).toBe(expectedWall);
  });

  it("mono → wall → mono round-trips at the same instant", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: -(2 ** 35), max: 2 ** 35 }), (w, m, d) => {
        const at: Instant = { wall: w, mono: m };
        const wallAt = dueWall(mono(m + d), at);
        return wallAt !== undefined && dueMono(wall(wallAt), at) === m + d;
      }),
    );
  });
});

describe("cadenceMs", () => {
  it.each<[string, ResolvedAgent, number | undefined]>([
    ["interval 30m", agentOf({ every: "30m" }), 30 * MINUTE],
    ["interval 90s", agentOf({ every: "90s" }), 90 * SECOND],
    ["cron every 5 min", agentOf({ cron: "*/5 * * * *", timezone: "UTC" }), 5 * MINUTE],
    ["cron hourly", agentOf({ cron: "0 * * * *", timezone: "UTC" }), HOUR],
    ["cron daily", agentOf({ cron: "0 9 * * *", timezone: "UTC" }), DAY],
    ["off", agentOf({ every: "0m" }), undefined],
  ])("%s", (_name, agent, expected) => {
    expect(cadenceMs(agent.schedule, utc(12, 1))).toBe(expected);
  });
});
