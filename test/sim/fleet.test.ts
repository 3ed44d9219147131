import { afterAll, beforeAll, describe, it, vi } from "vitest";
import { simulateForCi } from "../support/fleet-ci.ts";

/**
 * The fleet simulator in CI (half of it; fleet-2.test.ts runs the other half in
 * parallel): 5 seeds × 20 agents × 5 days with every fault, 500 agent-days. Each seed
 * replays with `npm run simulate -- --agents 20 --days 5 --faults all --seed N`.
 */

beforeAll(() => void vi.spyOn(console, "warn").mockImplementation(() => {}));
afterAll(() => vi.restoreAllMocks());

describe("fleet simulator (CI share, 1 of 2)", () => {
  it("seeds 1-5: no invariant violated", { timeout: 600_000 }, async () => {
    await simulateForCi([1, 2, 3, 4, 5], 20, 5);
  });
});
