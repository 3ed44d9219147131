import { afterAll, beforeAll, describe, it, vi } from "vitest";
import { simulateForCi } from "../support/fleet-ci.ts";

/**
 * The bulk of the CI fleet simulation by seed-days (2 of 2): 25 seeds × 5 agents × 19 days
 * with every fault. Small fleets reach corners big ones rarely do (a reload that leaves no
 * agent; one agent holding a lane for hours). With fleet.test.ts and fleet-2.test.ts
 * (10 seeds × 20 agents × 5 days) CI simulates 1 000 seed-days. Replay one with
 * `npm run simulate -- --agents 5 --days 19 --faults all --seed N`.
 */

beforeAll(() => void vi.spyOn(console, "warn").mockImplementation(() => {}));
afterAll(() => vi.restoreAllMocks());

describe("fleet simulator (CI share, small fleets 2 of 2)", () => {
  it("seeds 126-150: no invariant violated", { timeout: 900_000 }, async () => {
    await simulateForCi(Array.from({ length: 25 }, (_, i) => 126 + i), 5, 19);
  });
});
