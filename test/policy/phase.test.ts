import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { phaseOffset, stableFraction } from "../../src/policy/phase.ts";
import { DAY, MAX_TIMER_MS, MINUTE, SECOND } from "../../src/policy/time.ts";

describe("phaseOffset", () => {
  it.each<[string, number]>([
    ["a", 30 * MINUTE],
    ["agent-1", 30 * MINUTE],
    ["agent-2", 30 * MINUTE],
    ["ünïcødé 🫀", SECOND],
    ["", 5 * SECOND],
    ["x", 1],
    ["long", 40 * DAY],
  ])("%j every %d ms: integer in [1, every], same on every call", (id, every) => {
    const offset = phaseOffset(id, every);
    expect(Number.isInteger(offset)).toBe(true);
    expect(offset).toBeGreaterThanOrEqual(1);
    expect(offset).toBeLessThanOrEqual(every);
    expect(phaseOffset(id, every)).toBe(offset);
  });

  it("is pinned for known ids (a change would reshuffle every deployment's phases)", () => {
    const pinned = ["agent-1", "agent-2", "agent-3"].map((id) => phaseOffset(id, 30 * MINUTE));
    expect(pinned).toEqual([899_746, 709_077, 138_517]);
  });

  it("stays within (0, every] for any id and cadence", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), fc.integer({ min: 1, max: 10 * MAX_TIMER_MS }), (id, every) => {
        const offset = phaseOffset(id, every);
        return Number.isInteger(offset) && offset >= 1 && offset <= every && phaseOffset(id, every) === offset;
      }),
      { numRuns: 2_000 },
    );
  });

  it("stays within (0, every] for a non-integer cadence", () => {
    fc.assert(
      fc.property(fc.string(), fc.double({ min: 1, max: 1e9, noNaN: true }), (id, every) => {
        const offset = phaseOffset(id, every);
        return Number.isInteger(offset) && offset >= 1 && offset <= every;
      }),
    );
  });

  it("spreads sequential ids evenly over the cadence (no thundering herd)", () => {
    const every = 30 * MINUTE;
    const bins = new Array<number>(10).fill(0);
    for (let i = 0; i < 10_000; i++) {
      const bin = Math.floor(((phaseOffset(`agent-${i}`, every) - 1) / every) * 10);
      bins[bin] = (bins[bin] ?? 0) + 1;
    }
    for (const count of bins) expect(count).toBeGreaterThan(900); // expected 1000 each
    for (const count of bins) expect(count).toBeLessThan(1100);
  });

  it("spreads random ids: a chi-square test over 20 bins passes", () => {
    const ids = fc.sample(fc.string({ minLength: 1, maxLength: 24 }), { numRuns: 20_000, seed: 42 });
    const unique = [...new Set(ids)];
    const bins = new Array<number>(20).fill(0);
    for (const id of unique) {
      const bin = Math.floor(((phaseOffset(id, 60 * MINUTE) - 1) / (60 * MINUTE)) * 20);
      bins[bin] = (bins[bin] ?? 0) + 1;
    }
    const expected = unique.length / 20;
    const chi2 = bins.reduce((sum, n) => sum + (n - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(43.8); // p = 0.001 for 19 degrees of freedom
  });

  it.each([0, 0.5, -1, Number.NaN, Number.POSITIVE_INFINITY])("rejects a cadence of %d", (every) => {
    expect(() => phaseOffset("a", every)).toThrow(RangeError);
  });
});

describe("stableFraction", () => {
  it("is in [0, 1) and stable for any id and salt", () => {
    fc.assert(
      fc.property(fc.string(), fc.option(fc.string(), { nil: undefined }), (id, salt) => {
        const f = stableFraction(id, salt);
        return f >= 0 && f < 1 && stableFraction(id, salt) === f;
      }),
    );
  });

  it("a salt gives an independent draw", () => {
    expect(stableFraction("agent-1", "jitter")).not.toBe(stableFraction("agent-1"));
    expect(stableFraction("agent-1", "a")).not.toBe(stableFraction("agent-1", "b"));
  });
});
