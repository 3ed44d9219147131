import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { backoffDelay } from "../../src/policy/backoff.ts";
import { DEFAULT_POLICY } from "../../src/policy/config.ts";

describe("backoffDelay, default retry (1 s doubling to 60 s)", () => {
  it.each<[number, number]>([
    [0, 1_000],
    [1, 2_000],
    [2, 4_000],
    [3, 8_000],
    [4, 16_000],
    [5, 32_000],
    [6, 60_000],
    [7, 60_000],
    [20, 60_000],
    [52, 60_000],
    [53, 60_000],
    [1_000_000, 60_000],
    [Number.MAX_SAFE_INTEGER, 60_000],
    [Number.POSITIVE_INFINITY, 60_000],
    // defensive inputs: a negative or fractional attempt is read as the nearest sane one
    [-1, 1_000],
    [-100, 1_000],
    [2.9, 4_000],
    [0.5, 1_000],
  ])("attempt %d → %d ms", (attempt, delay) => {
    expect(backoffDelay(DEFAULT_POLICY.retry, attempt)).toBe(delay);
  });
});

describe("backoffDelay, custom retry", () => {
  it.each<[{ initialMs: number; maxMs: number }, number, number]>([
    [{ initialMs: 250, maxMs: 1_000 }, 0, 250],
    [{ initialMs: 250, maxMs: 1_000 }, 1, 500],
    [{ initialMs: 250, maxMs: 1_000 }, 2, 1_000],
    [{ initialMs: 250, maxMs: 1_000 }, 3, 1_000],
    [{ initialMs: 300, maxMs: 1_000 }, 2, 1_000], // 1200 capped
    [{ initialMs: 5_000, maxMs: 5_000 }, 0, 5_000],
    [{ initialMs: 5_000, maxMs: 5_000 }, 9, 5_000],
    [{ initialMs: 1, maxMs: Number.MAX_SAFE_INTEGER }, 10, 1_024],
  ])("%j attempt %d → %d ms", (retry, attempt, delay) => {
    expect(backoffDelay(retry, attempt)).toBe(delay);
  });
});

describe("backoffDelay properties", () => {
  const retryArb = fc
    .tuple(fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 0, max: 10_000_000 }))
    .map(([a, b]) => ({ initialMs: a, maxMs: Math.max(a, b) }));

  it("stays within [initialMs, maxMs] and is finite", () => {
    fc.assert(
      fc.property(retryArb, fc.integer({ min: -10, max: 10_000 }), (retry, attempt) => {
        const d = backoffDelay(retry, attempt);
        return Number.isFinite(d) && d >= retry.initialMs && d <= retry.maxMs;
      }),
    );
  });

  it("never shrinks as the attempt grows, and doubles until the cap", () => {
    fc.assert(
      fc.property(retryArb, fc.integer({ min: 0, max: 200 }), (retry, attempt) => {
        const a = backoffDelay(retry, attempt);
        const b = backoffDelay(retry, attempt + 1);
        return b >= a && (b === retry.maxMs || b === 2 * a);
      }),
    );
  });
});
