import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { KNOWN_BUGS, type KnownBug } from "../../src/sim/rules.ts";
import type { Repro } from "../support/sim-repro.ts";

/**
 * Runtime bugs found by the fleet simulator and the property suite, each reduced to a
 * deterministic reproduction on the real runtime (createGateway on the simulated clock).
 *
 * For each bug: a scenario, a check that the scenario really sets the trap (a normal
 * test), and the CORRECT behaviour, marked `it.fails` while the bug is open. The suite
 * stays green; the day a fix lands the `it.fails` test starts failing — then drop the
 * `.fails`, and the bug's entry in src/sim/rules.ts KNOWN_BUGS (the simulator and the
 * property suite then count that bug's symptoms as violations again).
 */

// None open: every bug found so far is fixed (their reproductions are in fixed-bugs.test.ts).
const REPROS: Record<KnownBug, Repro> = {};

beforeAll(() => void vi.spyOn(console, "warn").mockImplementation(() => {}));
afterAll(() => vi.restoreAllMocks());

describe("known runtime bugs (reproductions; see src/sim/rules.ts)", () => {
  it("every known bug has a reproduction", () => {
    expect(Object.keys(REPROS).sort()).toEqual(Object.keys(KNOWN_BUGS).sort());
  });
  for (const [bug, repro] of Object.entries(REPROS) as [KnownBug, Repro][]) {
    const text: string = KNOWN_BUGS[bug];
    it(`${bug}: the reproduction sets the trap`, async () => repro.trap(await repro.run()));
    it.fails(`${bug}: ${text.slice(0, 80)}… (fixed when this fails)`, async () => repro.correct(await repro.run()));
  }
});
