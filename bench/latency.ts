/**
 * Wake-to-run latency on an idle fleet of N agents: from the wake call to the host's
 * run callback being called, one wake at a time (each waits for the previous run to
 * finish and the loop to go idle), S samples spread over the agents. Each structure in
 * a fresh process:
 *
 *   gateway      requestWake({ reason: "manual", agentId, coalesceMs: 0 }) → runHeartbeat called
 *   bare         the floor: the wake clears nothing, runs at once (coalesceMs 0) → run called
 *   croner       job.trigger() → job function called
 *   naive-spawn  WAKE (manual) sent to the child actor → runHeartbeat called
 */
import { createGateway } from "../src/index.ts";
import { bareFleet, cronerFleet, naiveFleet, type Fleet } from "./baselines.ts";
import { isMain, median, nextTurn, percentile, reply, round, runChild, sleep, type BenchContext, type Figure } from "./lib.ts";

type Structure = "gateway" | "bare" | "croner" | "naive-spawn";

export interface LatencySample {
  structure: Structure;
  samples: number;
  p50Ms: number;
  p99Ms: number;
  missed: number;
}

async function latency(structure: Structure, n: number, samples: number): Promise<LatencySample> {
  const ids = Array.from({ length: n }, (_, i) => `agent-${i}`);
  let t0 = 0;
  let waiting = false;
  const lat: number[] = [];
  const onRun = (): void => {
    if (!waiting) return;
    lat.push(performance.now() - t0);
    waiting = false;
  };
  let fleet: Fleet;
  if (structure === "gateway") {
    const gw = createGateway({
      agents: ids.map((id) => ({ id, every: "30m" })),
      runHeartbeat: async () => {
        onRun();
        return { status: "ran" };
      },
      logger: false,
    });
    gw.start();
    fleet = { wake: (agentId, reason) => gw.requestWake({ reason, agentId, coalesceMs: 0 }).accepted, stop: () => gw.stop() };
  } else {
    const opts = { ids, everyMs: 30 * 60_000, run: onRun };
    fleet = structure === "bare" ? bareFleet(opts) : structure === "croner" ? cronerFleet(opts) : naiveFleet(opts);
  }
  await sleep(100);
  let missed = 0;
  for (let i = 0; i < samples; i++) {
    waiting = true;
    t0 = performance.now();
    if (!fleet.wake(ids[(i * 7919) % n]!, "manual", 0)) throw new Error("wake rejected");
    // Let the run happen and the agent go back to idle.
    for (let k = 0; k < 50 && waiting; k++) await nextTurn();
    if (waiting) {
      missed++;
      waiting = false;
    }
    await nextTurn();
  }
  await fleet.stop();
  return { structure, samples: lat.length, p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99), missed };
}

export async function bench(ctx: BenchContext): Promise<Figure[]> {
  const agents = 1_000;
  const samples = ctx.quick ? 200 : 2_000;
  const structures: Structure[] = ["gateway", "bare", "croner", "naive-spawn"];
  const got = new Map<Structure, LatencySample[]>();
  for (let r = 0; r < ctx.runs; r++) {
    for (const s of structures) {
      if (ctx.quick && s === "croner") continue;
      const x = runChild<LatencySample>("latency.ts", [s, agents, samples], { timeoutMs: 120_000 });
      (got.get(s) ?? got.set(s, []).get(s)!).push(x);
      ctx.log(`  latency ${s} r${r}: p50 ${round(x.p50Ms, 3)} ms, p99 ${round(x.p99Ms, 3)} ms${x.missed ? `, ${x.missed} missed` : ""}`);
    }
  }
  const med = (s: Structure, f: (x: LatencySample) => number): number => median((got.get(s) ?? []).map(f));
  const names: Record<Structure, string> = { gateway: "gateway", bare: "bare setTimeout", croner: "croner", "naive-spawn": "naive XState" };
  const list = (f: (x: LatencySample) => number, v: number): NonNullable<Figure["baselines"]> =>
    (["bare", "croner", "naive-spawn"] as Structure[]).map((s) =>
      got.has(s) ? { name: names[s], value: round(med(s, f), 3), ratio: round(v / med(s, f), 2) } : { name: names[s], value: null, ratio: null, note: "not run in the quick bench" },
    );
  const p50 = med("gateway", (x) => x.p50Ms);
  const p99 = med("gateway", (x) => x.p99Ms);
  const missed = med("gateway", (x) => x.missed);
  return [
    {
      name: "wake-to-run latency median (manual, coalesceMs 0)",
      value: round(p50, 3),
      unit: "ms",
      goal: "<= 1 ms",
      met: p50 <= 1 && missed === 0,
      baseline: names["naive-spawn"],
      baselineValue: round(med("naive-spawn", (x) => x.p50Ms), 3),
      ratio: round(p50 / med("naive-spawn", (x) => x.p50Ms), 2),
      baselines: list((x) => x.p50Ms, p50),
      samples: ctx.runs,
      note: `${samples} wakes over ${agents} idle agents per sample${missed ? `; ${missed} wakes never reached the host` : ""}`,
    },
    {
      name: "wake-to-run latency p99",
      value: round(p99, 3),
      unit: "ms",
      goal: null,
      met: null,
      baseline: names["naive-spawn"],
      baselineValue: round(med("naive-spawn", (x) => x.p99Ms), 3),
      ratio: round(p99 / med("naive-spawn", (x) => x.p99Ms), 2),
      baselines: list((x) => x.p99Ms, p99),
      samples: ctx.runs,
    },
  ];
}

if (isMain(import.meta.url)) {
  const [structure, n, samples] = process.argv.slice(2);
  reply(await latency(structure as Structure, Number(n), Number(samples)));
}
