import { afterAll, beforeAll, describe, it, vi } from "vitest";
import { checkWakePolicy, STEPS } from "../support/wake-policy-property.ts";

/** The other half of the property runs (the next seed), in its own file so the halves run in parallel. */

const RUNS = Number(process.env.HEARTBEAT_PROPERTY_RUNS ?? 1_000);
const SEED = Number(process.env.HEARTBEAT_PROPERTY_SEED ?? 20_260_105) + 1;

beforeAll(() => void vi.spyOn(console, "warn").mockImplementation(() => {}));
afterAll(() => vi.restoreAllMocks());

describe("wake policy and run invariants under random command sequences (2 of 2)", () => {
  it(`hold for ${Math.floor(RUNS / 2)} sequences of ${STEPS} steps (seed ${SEED})`, { timeout: 600_000 }, async () => {
    await checkWakePolicy(SEED, Math.floor(RUNS / 2));
  });
});
