import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Cron } from "croner";
import { ConfigError } from "../../src/errors.ts";
import { cronPattern, cronPatternCacheSize, nextCronSlot } from "../../src/policy/cron.ts";

describe("nextCronSlot", () => {
  it.each<[string, string, string | undefined, number, number | undefined]>([
    ["daily 09:00 UTC", "0 9 * * *", "UTC", Date.UTC(2026, 0, 15, 8, 0), Date.UTC(2026, 0, 15, 9, 0)],
    ["strictly after: at the slot → the next one", "0 9 * * *", "UTC", Date.UTC(2026, 0, 15, 9, 0), Date.UTC(2026, 0, 16, 9, 0)],
    ["1 ms before the slot → the slot", "0 9 * * *", "UTC", Date.UTC(2026, 0, 15, 8, 59, 59, 999), Date.UTC(2026, 0, 15, 9, 0)],
    ["1 ms after the slot → the next one", "0 9 * * *", "UTC", Date.UTC(2026, 0, 15, 9, 0, 0, 1), Date.UTC(2026, 0, 16, 9, 0)],
    ["every 5 minutes", "*/5 * * * *", "UTC", Date.UTC(2026, 0, 15, 9, 3, 20), Date.UTC(2026, 0, 15, 9, 5)],
    ["six fields (seconds)", "*/10 * * * * *", "UTC", Date.UTC(2026, 0, 15, 9, 0, 3), Date.UTC(2026, 0, 15, 9, 0, 10)],
    ["nickname", "@hourly", "UTC", Date.UTC(2026, 0, 15, 9, 30), Date.UTC(2026, 0, 15, 10, 0)],
    // America/New_York spring forward, 2026-03-08 02:00 EST → 03:00 EDT: 02:30 does not exist,
    // so a fixed-time job runs when the clock resumes (03:00 EDT = 07:00Z).
    ["NY 02:30 the day before spring forward", "30 2 * * *", "America/New_York", Date.UTC(2026, 2, 7, 0, 0), Date.UTC(2026, 2, 7, 7, 30)],
    ["NY 02:30 on spring forward", "30 2 * * *", "America/New_York", Date.UTC(2026, 2, 7, 8, 0), Date.UTC(2026, 2, 8, 7, 0)],
    ["NY 02:30 the day after spring forward", "30 2 * * *", "America/New_York", Date.UTC(2026, 2, 8, 7, 0), Date.UTC(2026, 2, 9, 6, 30)],
    // Fall back, 2026-11-01 02:00 EDT → 01:00 EST: 02:30 happens once (EST); 01:30 happens twice
    // and a fixed-time job runs only at the first.
    ["NY 02:30 on fall back", "30 2 * * *", "America/New_York", Date.UTC(2026, 9, 31, 12, 0), Date.UTC(2026, 10, 1, 7, 30)],
    ["NY 01:30 on fall back: first occurrence", "30 1 * * *", "America/New_York", Date.UTC(2026, 9, 31, 12, 0), Date.UTC(2026, 10, 1, 5, 30)],
    ["NY 01:30 on fall back: not again an hour later", "30 1 * * *", "America/New_York", Date.UTC(2026, 10, 1, 5, 30), Date.UTC(2026, 10, 2, 6, 30)],
    ["NY every 30 min runs both passes of the repeated hour", "*/30 * * * *", "America/New_York", Date.UTC(2026, 10, 1, 5, 45), Date.UTC(2026, 10, 1, 6, 0)],
    // Europe/Berlin: spring forward 2026-03-29 02:00 CET → 03:00 CEST; fall back 2026-10-25 03:00 CEST → 02:00 CET.
    ["Berlin 02:30 on spring forward", "30 2 * * *", "Europe/Berlin", Date.UTC(2026, 2, 28, 12, 0), Date.UTC(2026, 2, 29, 1, 0)],
    ["Berlin 02:30 on fall back: first occurrence (CEST)", "30 2 * * *", "Europe/Berlin", Date.UTC(2026, 9, 24, 12, 0), Date.UTC(2026, 9, 25, 0, 30)],
    ["Berlin 09:00 winter", "0 9 * * *", "Europe/Berlin", Date.UTC(2026, 0, 15, 0, 0), Date.UTC(2026, 0, 15, 8, 0)],
    ["Kolkata 09:00 (UTC+5:30)", "0 9 * * *", "Asia/Kolkata", Date.UTC(2026, 0, 15, 0, 0), Date.UTC(2026, 0, 15, 3, 30)],
    ["Kolkata weekdays 09:00 from a Friday evening", "0 9 * * 1-5", "Asia/Kolkata", Date.UTC(2026, 0, 16, 12, 0), Date.UTC(2026, 0, 19, 3, 30)],
    ["no slot ever (Feb 30)", "0 0 30 2 *", "UTC", Date.UTC(2026, 0, 1), undefined],
    ["no slot after its year", "0 0 0 1 1 * 2020", "UTC", Date.UTC(2026, 0, 1), undefined],
  ])("%s", (_label, expression, tz, after, expected) => {
    expect(nextCronSlot(cronPattern(expression, tz, "cron"), after)).toBe(expected);
  });
});

describe("cronPattern", () => {
  it("shares one object per (expression, zone)", () => {
    const before = cronPatternCacheSize();
    const a = cronPattern("17 4 * * *", "Europe/Berlin", "agents[0].cron");
    const b = cronPattern("17 4 * * *", "Europe/Berlin", "agents[1].cron");
    expect(b).toBe(a);
    expect(cronPatternCacheSize()).toBe(before + 1);

    const otherZone = cronPattern("17 4 * * *", "Asia/Kolkata", "cron");
    const hostZone = cronPattern("17 4 * * *", undefined, "cron");
    const otherExpression = cronPattern("18 4 * * *", "Europe/Berlin", "cron");
    expect(new Set([a, otherZone, hostZone, otherExpression]).size).toBe(4);
    expect(cronPatternCacheSize()).toBe(before + 4);
  });

  it("never schedules itself", () => {
    const pattern = cronPattern("* * * * * *", "UTC", "cron");
    expect(pattern.isRunning()).toBe(false);
  });

  it("uses the host zone when none is given", () => {
    const after = Date.UTC(2026, 0, 15, 12, 0);
    const slot = nextCronSlot(cronPattern("0 9 * * *", undefined, "cron"), after);
    expect(slot).toBeDefined();
    const local = new Date(slot ?? 0);
    expect([local.getHours(), local.getMinutes()]).toEqual([9, 0]);
  });

  it.each<[string, string]>([
    [
      "banana",
      `agents[2].cron: "banana" is not a cron expression: CronPattern: invalid configuration format ('banana'), exactly five, six, or seven space separated parts are required.`,
    ],
    ["61 * * * *", `agents[2].cron: "61 * * * *" is not a cron expression: CronPattern: Invalid value for minute: 61`],
    [
      "",
      `agents[2].cron: "" is not a cron expression: CronPattern: invalid configuration format (''), exactly five, six, or seven space separated parts are required.`,
    ],
    [
      "2030-01-23T00:00:00",
      `agents[2].cron: "2030-01-23T00:00:00" is not a cron expression: a one-off date, not a repeating pattern`,
    ],
  ])("rejects %j naming the field", (expression, message) => {
    const attempt = () => cronPattern(expression, "UTC", "agents[2].cron");
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(message);
  });

  it("rejects an unknown zone at parse time and caches nothing", () => {
    const before = cronPatternCacheSize();
    expect(() => cronPattern("0 9 * * *", "Mars/Olympus", "cron")).toThrow(/^cron: "0 9 \* \* \*" is not a cron expression: .*Mars\/Olympus/);
    expect(cronPatternCacheSize()).toBe(before);
  });
});

describe("nextCronSlot's shared answers", () => {
  // The look-up cache must never change an answer, whatever order agents ask in (across DST too).
  it("answers exactly as a fresh croner look-up, for any order of questions", () => {
    const specs: [string, string][] = [
      ["*/30 * * * *", "America/New_York"],
      ["30 1 * * *", "America/New_York"],
      ["30 2 * * *", "Europe/Berlin"],
      ["0 9 * * 1-5", "Asia/Kolkata"],
      ["*/10 * * * * *", "UTC"],
    ];
    const from = Date.UTC(2026, 9, 30);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(specs.length - 1), fc.integer({ min: 0, max: 5 * 86_400_000 })), { minLength: 1, maxLength: 60 }),
        (questions) => {
          for (const [i, offset] of questions) {
            const [expression, timezone] = specs[i]!;
            const wall = from + offset;
            const fresh = new Cron(expression, { timezone, paused: true }).nextRun(new Date(wall))?.getTime();
            expect(nextCronSlot(cronPattern(expression, timezone, "f"), wall)).toBe(fresh);
          }
        },
      ),
      { seed: 20261127, numRuns: 200 },
    );
  });
});
