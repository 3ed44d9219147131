import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.ts";
import { isWithinActiveHours, nextWindowOpening, parseActiveHours } from "../../src/policy/active-hours.ts";
import type { ActiveHours } from "../../src/policy/types.ts";

const window = (start: number, end: number, timezone?: string): ActiveHours => ({
  startMinute: start,
  endMinute: end,
  timezone,
});
const hm = (h: number, m = 0) => h * 60 + m;

describe("parseActiveHours", () => {
  it.each<[unknown, ActiveHours]>([
    [{ start: "09:00", end: "17:00" }, window(540, 1020)],
    [{ start: "00:00", end: "24:00" }, window(0, 1440)],
    [{ start: "22:00", end: "06:00" }, window(1320, 360)],
    [{ start: "23:59", end: "00:00" }, window(1439, 0)],
    [{ start: " 09:30 ", end: "10:45" }, window(570, 645)],
    [{ start: "09:00", end: "09:00" }, window(540, 540)],
    [{ start: "09:00", end: "17:00", timezone: "Asia/Kolkata" }, window(540, 1020, "Asia/Kolkata")],
    [{ start: "09:00", end: "17:00", timezone: undefined }, window(540, 1020)],
  ])("%j", (input, expected) => {
    expect(parseActiveHours(input, "activeHours")).toEqual(expected);
  });

  const F = "agents[2].activeHours";
  it.each<[unknown, string]>([
    [{ start: "25:00", end: "17:00" }, `${F}.start: "25:00" is not a time of day (use "HH:MM", 00:00 to 23:59)`],
    [{ start: "24:00", end: "17:00" }, `${F}.start: "24:00" is only valid as an end time; a start must be 00:00 to 23:59`],
    [{ start: "09:00", end: "24:30" }, `${F}.end: "24:30" is past the end of the day (use "HH:MM", 00:00 to 24:00)`],
    [{ start: "09:60", end: "17:00" }, `${F}.start: "09:60" is not a time of day (use "HH:MM", 00:00 to 23:59)`],
    [{ start: "9:00", end: "17:00" }, `${F}.start: "9:00" is not a time of day (use "HH:MM", 00:00 to 23:59)`],
    [{ start: "09:00", end: "5pm" }, `${F}.end: "5pm" is not a time of day (use "HH:MM", 00:00 to 24:00)`],
    [{ start: "09:00", end: "25:00" }, `${F}.end: "25:00" is not a time of day (use "HH:MM", 00:00 to 24:00)`],
    [{ end: "17:00" }, `${F}.start: required`],
    [{ start: "09:00" }, `${F}.end: required`],
    [{ start: 9, end: "17:00" }, `${F}.start: expected a string "HH:MM", got number`],
    [{ start: "09:00", end: "17:00", timezone: "Mars/Olympus" }, `${F}.timezone: unknown time zone "Mars/Olympus"`],
    [{ start: "09:00", end: "17:00", timezone: 1 }, `${F}.timezone: expected a string, got number`],
    [{ start: "09:00", end: "17:00", tz: "UTC" }, `${F}.tz: unknown key`],
    ["09:00-17:00", `${F}: expected an object { start: "HH:MM", end: "HH:MM", timezone? }, got string`],
    [null, `${F}: expected an object { start: "HH:MM", end: "HH:MM", timezone? }, got null`],
    [[], `${F}: expected an object { start: "HH:MM", end: "HH:MM", timezone? }, got array`],
  ])("rejects %j", (input, message) => {
    const attempt = () => parseActiveHours(input, F);
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(message);
  });
});

describe("isWithinActiveHours", () => {
  const day = (h: number, m = 0) => Date.UTC(2026, 0, 15, h, m);
  it.each<[string, ActiveHours, number, boolean]>([
    ["09–17 UTC, 08:59", window(hm(9), hm(17), "UTC"), day(8, 59), false],
    ["09–17 UTC, 09:00 (start is inside)", window(hm(9), hm(17), "UTC"), day(9, 0), true],
    ["09–17 UTC, 16:59", window(hm(9), hm(17), "UTC"), day(16, 59), true],
    ["09–17 UTC, 17:00 (end is outside)", window(hm(9), hm(17), "UTC"), day(17, 0), false],
    ["overnight 22–06, 21:59", window(hm(22), hm(6), "UTC"), day(21, 59), false],
    ["overnight 22–06, 22:00", window(hm(22), hm(6), "UTC"), day(22, 0), true],
    ["overnight 22–06, 00:00", window(hm(22), hm(6), "UTC"), day(0, 0), true],
    ["overnight 22–06, 05:59", window(hm(22), hm(6), "UTC"), day(5, 59), true],
    ["overnight 22–06, 06:00", window(hm(22), hm(6), "UTC"), day(6, 0), false],
    ["overnight 22–06, noon", window(hm(22), hm(6), "UTC"), day(12, 0), false],
    ["18–24:00, 23:59", window(hm(18), 1440, "UTC"), day(23, 59), true],
    ["18–24:00, 00:00", window(hm(18), 1440, "UTC"), day(0, 0), false],
    ["00:00–24:00, 00:00", window(0, 1440, "UTC"), day(0, 0), true],
    ["00:00–24:00, 23:59", window(0, 1440, "UTC"), day(23, 59), true],
    ["23:59–00:00, 23:59", window(hm(23, 59), 0, "UTC"), day(23, 59), true],
    ["23:59–00:00, 00:00", window(hm(23, 59), 0, "UTC"), day(0, 0), false],
    ["Kolkata 09–17 at 03:29Z (08:59 IST)", window(hm(9), hm(17), "Asia/Kolkata"), day(3, 29), false],
    ["Kolkata 09–17 at 03:30Z (09:00 IST)", window(hm(9), hm(17), "Asia/Kolkata"), day(3, 30), true],
    ["Kolkata 09–17 at 11:30Z (17:00 IST)", window(hm(9), hm(17), "Asia/Kolkata"), day(11, 30), false],
    ["Berlin 09–17 at 08:00Z (09:00 CET)", window(hm(9), hm(17), "Europe/Berlin"), day(8, 0), true],
    ["Berlin 09–17 summer at 07:00Z (09:00 CEST)", window(hm(9), hm(17), "Europe/Berlin"), Date.UTC(2026, 6, 15, 7), true],
    ["NY 02:30–05:00 on spring forward, 03:00 EDT", window(hm(2, 30), hm(5), "America/New_York"), Date.UTC(2026, 2, 8, 7, 0), true],
    ["NY 02:30–05:00 on spring forward, 01:59 EST", window(hm(2, 30), hm(5), "America/New_York"), Date.UTC(2026, 2, 8, 6, 59), false],
  ])("%s → %s", (_label, ah, wall, expected) => {
    expect(isWithinActiveHours(ah, wall, undefined)).toBe(expected);
  });

  it("start == end is never active", () => {
    for (let minute = 0; minute < 1440; minute += 7) {
      expect(isWithinActiveHours(window(hm(9), hm(9), "UTC"), day(0) + minute * 60_000, undefined)).toBe(false);
      expect(isWithinActiveHours(window(0, 0, "UTC"), day(0) + minute * 60_000, undefined)).toBe(false);
    }
  });

  it("uses the window's zone, else the fallback zone", () => {
    const at = day(3, 30); // 09:00 in Kolkata, 03:30 in UTC
    expect(isWithinActiveHours(window(hm(9), hm(17)), at, "Asia/Kolkata")).toBe(true);
    expect(isWithinActiveHours(window(hm(9), hm(17)), at, "UTC")).toBe(false);
    expect(isWithinActiveHours(window(hm(9), hm(17), "UTC"), at, "Asia/Kolkata")).toBe(false);
  });
});

describe("nextWindowOpening", () => {
  const ny = (start: number, end: number) => window(start, end, "America/New_York");
  it.each<[string, ActiveHours, number, number | undefined]>([
    ["before today's opening", window(hm(9), hm(17), "UTC"), Date.UTC(2026, 0, 15, 8, 0), Date.UTC(2026, 0, 15, 9, 0)],
    ["inside the window → tomorrow's", window(hm(9), hm(17), "UTC"), Date.UTC(2026, 0, 15, 12, 0), Date.UTC(2026, 0, 16, 9, 0)],
    ["exactly at the opening → tomorrow's", window(hm(9), hm(17), "UTC"), Date.UTC(2026, 0, 15, 9, 0), Date.UTC(2026, 0, 16, 9, 0)],
    ["after the close → tomorrow's", window(hm(9), hm(17), "UTC"), Date.UTC(2026, 0, 15, 18, 0), Date.UTC(2026, 0, 16, 9, 0)],
    ["overnight, afternoon → tonight", window(hm(22), hm(6), "UTC"), Date.UTC(2026, 0, 15, 12, 0), Date.UTC(2026, 0, 15, 22, 0)],
    ["overnight, inside after midnight → tonight", window(hm(22), hm(6), "UTC"), Date.UTC(2026, 0, 15, 2, 0), Date.UTC(2026, 0, 15, 22, 0)],
    ["start == end never opens", window(hm(9), hm(9), "UTC"), Date.UTC(2026, 0, 15, 8, 0), undefined],
    ["Kolkata 09:00", window(hm(9), hm(17), "Asia/Kolkata"), Date.UTC(2026, 0, 15, 0, 0), Date.UTC(2026, 0, 15, 3, 30)],
    ["NY 02:30 the day before spring forward", ny(hm(2, 30), hm(5)), Date.UTC(2026, 2, 7, 0, 0), Date.UTC(2026, 2, 7, 7, 30)],
    ["NY 02:30 on spring forward opens at 03:00 EDT", ny(hm(2, 30), hm(5)), Date.UTC(2026, 2, 7, 12, 0), Date.UTC(2026, 2, 8, 7, 0)],
    ["NY 02:30 the day after spring forward (EDT)", ny(hm(2, 30), hm(5)), Date.UTC(2026, 2, 8, 9, 0), Date.UTC(2026, 2, 9, 6, 30)],
    ["NY 02:30 on fall back (EST)", ny(hm(2, 30), hm(5)), Date.UTC(2026, 9, 31, 12, 0), Date.UTC(2026, 10, 1, 7, 30)],
    ["NY 01:30 on fall back opens once, at the first 01:30", ny(hm(1, 30), hm(5)), Date.UTC(2026, 9, 31, 12, 0), Date.UTC(2026, 10, 1, 5, 30)],
    ["Berlin 02:30 on spring forward opens at 03:00 CEST", window(hm(2, 30), hm(6), "Europe/Berlin"), Date.UTC(2026, 2, 28, 12, 0), Date.UTC(2026, 2, 29, 1, 0)],
    ["Berlin 02:30 on fall back, first occurrence (CEST)", window(hm(2, 30), hm(6), "Europe/Berlin"), Date.UTC(2026, 9, 24, 12, 0), Date.UTC(2026, 9, 25, 0, 30)],
  ])("%s", (_label, ah, wall, expected) => {
    const opening = nextWindowOpening(ah, wall, undefined);
    expect(opening).toBe(expected);
    if (opening !== undefined) expect(opening).toBeGreaterThan(wall);
  });

  it("uses the fallback zone when the window has none", () => {
    const ah = window(hm(9), hm(17));
    expect(nextWindowOpening(ah, Date.UTC(2026, 0, 15, 0, 0), "Asia/Kolkata")).toBe(Date.UTC(2026, 0, 15, 3, 30));
    expect(nextWindowOpening(ah, Date.UTC(2026, 0, 15, 0, 0), "Europe/Berlin")).toBe(Date.UTC(2026, 0, 15, 8, 0));
  });

  it("the opening is inside the window (when the window is not wholly skipped by DST)", () => {
    const cases: Array<[ActiveHours, number]> = [
      [window(hm(9), hm(17), "Asia/Kolkata"), Date.UTC(2026, 0, 15)],
      [window(hm(22), hm(6), "Europe/Berlin"), Date.UTC(2026, 2, 28)],
      [ny(hm(2, 30), hm(5)), Date.UTC(2026, 2, 7, 12)],
      [window(hm(18), 1440, "UTC"), Date.UTC(2026, 0, 15)],
    ];
    for (const [ah, wall] of cases) {
      const opening = nextWindowOpening(ah, wall, undefined) ?? Number.NaN;
      expect(isWithinActiveHours(ah, opening, undefined)).toBe(true);
      expect(isWithinActiveHours(ah, opening - 60_000, undefined)).toBe(false);
    }
  });
});
