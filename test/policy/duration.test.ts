import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.ts";
import { formatDuration, parseDuration } from "../../src/policy/duration.ts";

function thrown(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("parseDuration", () => {
  it.each<[unknown, number]>([
    [0, 0],
    [1500, 1500],
    [1500.4, 1500],
    [1500.5, 1501],
    ["250ms", 250],
    ["90s", 90_000],
    ["30m", 1_800_000],
    ["1.5h", 5_400_000],
    ["1d", 86_400_000],
    [".5s", 500],
    ["30", 1_800_000], // a bare number is minutes
    ["2.5", 150_000],
    ["  30m\t", 1_800_000],
    ["90 s", 90_000],
    ["0m", 0],
    ["0", 0],
    ["0ms", 0],
    ["1h30m", 5_400_000],
    ["1d2h3m4s5ms", 93_784_005],
    ["1h 30m", 5_400_000],
  ])("%j → %d ms", (input, expected) => {
    expect(parseDuration(input, "every")).toBe(expected);
  });

  it.each<[unknown, string]>([
    ["banana", `every: "banana" is not a duration (use e.g. "90s", "30m", "1.5h")`],
    ["30x", `every: "30x" is not a duration (use e.g. "90s", "30m", "1.5h")`],
    ["1h30", `every: "1h30" is not a duration (use e.g. "90s", "30m", "1.5h")`],
    ["30M", `every: "30M" is not a duration (use e.g. "90s", "30m", "1.5h")`],
    ["1e3", `every: "1e3" is not a duration (use e.g. "90s", "30m", "1.5h")`],
    ["Infinity", `every: "Infinity" is not a duration (use e.g. "90s", "30m", "1.5h")`],
    ["NaN", `every: "NaN" is not a duration (use e.g. "90s", "30m", "1.5h")`],
    ["", `every: empty duration (use e.g. "90s", "30m", "1.5h")`],
    ["   ", `every: empty duration (use e.g. "90s", "30m", "1.5h")`],
    ["-5m", `every: "-5m" is negative; a duration must be >= 0`],
    [-1, "every: -1 is negative; a duration must be >= 0"],
    [Number.NaN, "every: expected a finite number of milliseconds, got NaN"],
    [Number.POSITIVE_INFINITY, "every: expected a finite number of milliseconds, got Infinity"],
    [2 ** 60, `every: ${2 ** 60} is too large for a duration`],
    ["99999999999d", `every: "99999999999d" is too large for a duration`],
    [true, "every: expected a duration string or a number of milliseconds, got boolean"],
    [null, "every: expected a duration string or a number of milliseconds, got null"],
    [undefined, "every: expected a duration string or a number of milliseconds, got undefined"],
    [{ ms: 5 }, "every: expected a duration string or a number of milliseconds, got object"],
    [[5], "every: expected a duration string or a number of milliseconds, got array"],
  ])("%j is rejected", (input, message) => {
    const error = thrown(() => parseDuration(input, "every"));
    expect(error.message).toBe(message);
    expect(error.field).toBe("every");
  });

  it("names the field it was given", () => {
    expect(thrown(() => parseDuration("x", "agents[3].runTimeout")).field).toBe("agents[3].runTimeout");
  });

  it("returns 0, never -0", () => {
    expect(Object.is(parseDuration(-0, "f"), 0)).toBe(true);
  });
});

describe("formatDuration", () => {
  it.each<[number, string]>([
    [0, "0ms"],
    [250, "250ms"],
    [1_000, "1s"],
    [1_500, "1s500ms"],
    [45_000, "45s"],
    [90_000, "1m30s"],
    [1_800_000, "30m"],
    [5_400_000, "1h30m"],
    [86_400_000, "1d"],
    [93_784_005, "1d2h3m4s5ms"],
    [-90_000, "-1m30s"],
    [249.6, "250ms"],
    [Number.NaN, "NaN"],
  ])("%d → %s", (ms, expected) => {
    expect(formatDuration(ms)).toBe(expected);
  });

  it("round-trips through parseDuration", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 * 365 * 86_400_000 }), (ms) => {
        expect(parseDuration(formatDuration(ms), "f")).toBe(ms);
      }),
    );
  });
});
