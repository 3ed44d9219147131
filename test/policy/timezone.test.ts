import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.ts";
import { assertTimezone, minuteOfDay } from "../../src/policy/timezone.ts";

describe("assertTimezone", () => {
  it.each(["UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Etc/GMT+5", "america/new_york"])(
    "accepts %s and returns it unchanged",
    (tz) => {
      expect(assertTimezone(tz, "timezone")).toBe(tz);
    },
  );

  it.each<[unknown, string]>([
    ["Mars/Olympus", `agents[0].timezone: unknown time zone "Mars/Olympus"`],
    ["+05:30", `agents[0].timezone: unknown time zone "+05:30"`],
    [" Europe/Berlin", `agents[0].timezone: unknown time zone " Europe/Berlin"`],
    ["", `agents[0].timezone: expected an IANA time zone name (e.g. "Europe/Berlin"), got ""`],
    [42, `agents[0].timezone: expected an IANA time zone name (e.g. "Europe/Berlin"), got 42`],
  ])("rejects %j", (tz, message) => {
    const attempt = () => assertTimezone(tz as string, "agents[0].timezone");
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(message);
  });
});

describe("minuteOfDay", () => {
  it.each<[string, number, string, number]>([
    ["UTC midnight", Date.UTC(2026, 0, 15, 0, 0), "UTC", 0],
    ["UTC last minute", Date.UTC(2026, 0, 15, 23, 59, 59, 999), "UTC", 1439],
    ["New York winter (EST, UTC-5)", Date.UTC(2026, 0, 15, 14, 30), "America/New_York", 9 * 60 + 30],
    ["New York summer (EDT, UTC-4)", Date.UTC(2026, 6, 15, 14, 30), "America/New_York", 10 * 60 + 30],
    ["New York local midnight", Date.UTC(2026, 0, 15, 5, 0), "America/New_York", 0],
    ["New York before spring forward", Date.UTC(2026, 2, 8, 6, 59), "America/New_York", 60 + 59],
    ["New York after spring forward", Date.UTC(2026, 2, 8, 7, 0), "America/New_York", 3 * 60],
    ["New York fall back, first 01:30", Date.UTC(2026, 10, 1, 5, 30), "America/New_York", 90],
    ["New York fall back, second 01:30", Date.UTC(2026, 10, 1, 6, 30), "America/New_York", 90],
    ["Berlin winter (CET, UTC+1)", Date.UTC(2026, 0, 15, 23, 30), "Europe/Berlin", 30],
    ["Berlin summer (CEST, UTC+2)", Date.UTC(2026, 6, 15, 22, 15), "Europe/Berlin", 15],
    ["Berlin after spring forward", Date.UTC(2026, 2, 29, 1, 0), "Europe/Berlin", 3 * 60],
    ["Kolkata (UTC+5:30)", Date.UTC(2026, 0, 15, 3, 30), "Asia/Kolkata", 9 * 60],
    ["Kolkata wraps to the next day", Date.UTC(2026, 0, 15, 18, 45), "Asia/Kolkata", 15],
  ])("%s", (_label, wall, tz, expected) => {
    expect(minuteOfDay(wall, tz)).toBe(expected);
  });

  it("uses the host's zone when none is given", () => {
    const wall = Date.UTC(2026, 4, 5, 13, 7);
    const local = new Date(wall);
    expect(minuteOfDay(wall, undefined)).toBe(local.getHours() * 60 + local.getMinutes());
  });

  it("is consistent across repeated (cached) calls", () => {
    const wall = Date.UTC(2026, 0, 15, 14, 30);
    const first = minuteOfDay(wall, "America/New_York");
    for (let i = 0; i < 3; i++) expect(minuteOfDay(wall, "America/New_York")).toBe(first);
  });
});
