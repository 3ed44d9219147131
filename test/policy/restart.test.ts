import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_POLICY } from "../../src/policy/config.ts";
import { admitRestart } from "../../src/policy/restart.ts";

const LIMIT = DEFAULT_POLICY.restart; // 3 in 60 s

describe("admitRestart, default intensity (3 in 60 s)", () => {
  it.each<[string, number[], number, { ok: boolean; recent: number[] }]>([
    ["first restart", [], 1_000, { ok: true, recent: [1_000] }],
    ["second", [1_000], 2_000, { ok: true, recent: [1_000, 2_000] }],
    ["third", [1_000, 2_000], 3_000, { ok: true, recent: [1_000, 2_000, 3_000] }],
    ["fourth within 60 s is refused", [1_000, 2_000, 3_000], 4_000, { ok: false, recent: [1_000, 2_000, 3_000] }],
    ["refused at 59.999 s after the oldest", [1_000, 2_000, 3_000], 60_999, { ok: false, recent: [1_000, 2_000, 3_000] }],
    ["admitted once the oldest is exactly 60 s old", [1_000, 2_000, 3_000], 61_000, { ok: true, recent: [2_000, 3_000, 61_000] }],
    ["old restarts are pruned", [0, 10_000, 20_000], 200_000, { ok: true, recent: [200_000] }],
    ["pruning keeps only the window", [0, 100_000, 150_000], 159_000, { ok: true, recent: [100_000, 150_000, 159_000] }],
  ])("%s", (_name, previous, now, expected) => {
    expect(admitRestart(previous, now, LIMIT)).toEqual(expected);
  });
});

describe("admitRestart, custom intensity", () => {
  it.each<[{ maxRestarts: number; windowMs: number }, number[], number, boolean]>([
    [{ maxRestarts: 0, windowMs: 60_000 }, [], 0, false],
    [{ maxRestarts: 1, windowMs: 1_000 }, [0], 999, false],
    [{ maxRestarts: 1, windowMs: 1_000 }, [0], 1_000, true],
    [{ maxRestarts: 5, windowMs: 10_000 }, [1, 2, 3, 4], 5, true],
    [{ maxRestarts: 5, windowMs: 10_000 }, [1, 2, 3, 4, 5], 6, false],
  ])("%j after %j at %d → ok %s", (limit, previous, now, ok) => {
    expect(admitRestart(previous, now, limit).ok).toBe(ok);
  });

  it("does not mutate the input", () => {
    const previous = [1_000, 2_000];
    admitRestart(previous, 3_000, LIMIT);
    expect(previous).toEqual([1_000, 2_000]);
  });
});

describe("admitRestart property", () => {
  it("a sequence of admitted restarts never has more than maxRestarts in any window", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5_000 }), { maxLength: 60 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 20_000 }),
        (gaps, maxRestarts, windowMs) => {
          const limit = { maxRestarts, windowMs };
          let recent: number[] = [];
          const admitted: number[] = [];
          let now = 0;
          for (const gap of gaps) {
            now += gap;
            const r = admitRestart(recent, now, limit);
            recent = r.recent;
            if (r.ok) admitted.push(now);
          }
          for (const t of admitted) {
            const inWindow = admitted.filter((u) => u <= t && t - u < windowMs).length;
            if (inWindow > maxRestarts) return false;
          }
          return true;
        },
      ),
    );
  });
});
