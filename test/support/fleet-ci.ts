import { expect } from "vitest";
import { FAULTS } from "../../src/sim/faults.ts";
import { runFleet, type FleetResult } from "../../src/sim/fleet.ts";
import { fmtMs } from "../../src/sim/world.ts";

/**
 * The CI share of the fleet simulator: seeds × agents × days of simulated fleet with
 * every fault on, through the real runtime. Zero violations expected (the known runtime
 * bugs of src/sim/rules.ts are tolerated and listed; HEARTBEAT_STRICT=1 counts them).
 */
export async function simulateForCi(seeds: readonly number[], agents: number, days: number): Promise<FleetResult[]> {
  const results: FleetResult[] = [];
  for (const seed of seeds) {
    results.push(await runFleet({ seed, agents, days, faults: new Set(FAULTS), strict: process.env.HEARTBEAT_STRICT === "1" }));
  }
  const failures = results.filter((r) => r.violations.length > 0);
  for (const r of failures) {
    const v = r.violations[0]!;
    console.log(
      `FAIL seed ${r.seed}: ${r.violations.length} violation(s); first at t+${fmtMs(v.mono)} ${v.rule} ${v.agentId ?? ""}: ${v.detail}\n` +
        `  replay: npm run simulate -- --agents ${agents} --days ${days} --faults all --seed ${r.seed}\n  ` +
        r.trace.filter((l) => !l.includes(" wake {") || l.includes(`"${v.agentId}"`)).slice(-15).join("\n  "),
    );
  }
  const simMs = results.reduce((n, r) => n + r.simMs, 0);
  const realMs = results.reduce((n, r) => n + r.realMs, 0);
  const tolerated = new Map<string, number>();
  for (const r of results) for (const [k, n] of Object.entries(r.tolerated)) tolerated.set(k, (tolerated.get(k) ?? 0) + n);
  console.log(
    `fleet: ${seeds.length} seeds × ${agents} agents × ${days} days = ${seeds.length * agents * days} agent-days ` +
      `(${results.reduce((n, r) => n + r.runs, 0)} runs, faults: all) in ${(realMs / 1000).toFixed(1)} s = ${Math.round(simMs / realMs).toLocaleString("en-US")}× real time; ` +
      `seeds: ${results.length}, violations: ${results.reduce((n, r) => n + r.violations.length, 0)}`,
  );
  if (tolerated.size > 0) console.log(`  tolerated known runtime bugs: ${[...tolerated].map(([k, n]) => `${k}×${n}`).join(", ")}`);
  expect(failures.map((r) => r.seed)).toEqual([]);
  return results;
}
