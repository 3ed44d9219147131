import fc from "fast-check";
import { expect } from "vitest";
import { assertNoViolations, scenario, setupWorld } from "./property-commands.ts";

export const STEPS = 100;

/**
 * Runs `numRuns` random sequences of STEPS commands from `seed` against fresh simulated
 * worlds (fc.asyncModelRun over the commands in property-commands.ts). A failure is
 * reported by fast-check with its seed, path and shrunk sequence.
 */
export async function checkWakePolicy(seed: number, numRuns: number): Promise<void> {
  let sequences = 0;
  let steps = 0;
  const tolerated = new Map<string, number>();
  await fc.assert(
    fc.asyncProperty(scenario(STEPS), async (s) => {
      const { model, real } = await setupWorld();
      await fc.asyncModelRun(() => ({ model, real }), s.cmds);
      await real.stop();
      assertNoViolations(real);
      sequences++;
      steps += s.cmds.length;
      for (const [k, n] of real.checker.tolerated) tolerated.set(k, (tolerated.get(k) ?? 0) + n);
    }),
    { seed, numRuns },
  );
  console.log(`property (seed ${seed}): ${sequences} sequences × ${STEPS} steps = ${steps} steps, no violation`);
  if (tolerated.size > 0) console.log(`  tolerated known runtime bugs (HEARTBEAT_STRICT=1 counts them): ${[...tolerated].map(([k, n]) => `${k}×${n}`).join(", ")}`);
  expect(sequences).toBe(numRuns);
}
