import { afterAll, beforeAll, describe, it, vi } from "vitest";
import { simulateForCi } from "../support/fleet-ci.ts";

/** The other half of the CI fleet simulation (seeds 6-10), in its own file so both halves run in parallel. */

beforeAll(() => void vi.spyOn(console, "warn").mockImplementation(() => {}));
afterAll(() => vi.restoreAllMocks());

describe("fleet simulator (CI share, 2 of 2)", () => {
  it("seeds 6-10: no invariant violated", { timeout: 600_000 }, async () => {
    await simulateForCi([6, 7, 8, 9, 10], 20, 5);
  });
});
