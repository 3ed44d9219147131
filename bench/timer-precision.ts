/**
 * Timer precision on the real clock: N agents on a short cadence (2 s), each with its
 * own phase, for ~D seconds. For every scheduled run: lateness = the moment the run
 * was handed to the host minus the moment it was due. Each structure in a fresh
 * process, interleaved rounds, medians over rounds:
 *
 *   gateway  every: "2s"; due time read from the agent's own actor (its slot moves by one
 *            cadence when a scheduled run starts, so the slot that ran is `due - every`)
 *   bare     the floor: one setTimeout loop per agent on the same grid and phases
 *   croner   one job per agent, "*\/2 * * * * *" (croner has whole-second slots and no
 *            per-job phase, so all jobs share each slot); lateness from the slot
 */
import { createGateway } from "../src/index.ts";
import { bareFleet, cronerFleet } from "./baselines.ts";
import { isMain, median, percentile, reply, round, runChild, sleep, type BenchContext, type Figure } from "./lib.ts";

type Structure = "gateway" | "bare" | "croner";

export interface PrecisionSample {
  structure: Structure;
  agents: number;
  seconds: number;
  runs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Runs whose due time could not be read (gateway only). */
  unmeasured: number;
}

const EVERY_MS = 2_000;

async function precision(structure: Structure, n: number, seconds: number): Promise<PrecisionSample> {
  const ids = Array.from({ length: n }, (_, i) => `agent-${i}`);
  const late: number[] = [];
  let unmeasured = 0;
  // Runs in the first cadence after start are skipped: start itself takes time.
  let measureFrom = Number.POSITIVE_INFINITY;
  let stop: () => unknown;
  if (structure === "gateway") {
    const gw = createGateway({
      agents: ids.map((id) => ({ id, every: "2s" })),
      runHeartbeat: async ({ agentId, reasons }) => {
        const now = performance.now();
        if (now >= measureFrom && reasons.length === 1 && reasons[0] === "interval") {
          const ref = gw.actor.system.get(`heartbeat:${agentId}`) as { getSnapshot(): { context?: { s?: { due?: { kind: string; at: number } } } } } | undefined;
          const due = ref?.getSnapshot().context?.s?.due;
          if (due?.kind === "mono") late.push(now - (due.at - EVERY_MS));
          else unmeasured++;
        }
        return { status: "ran" };
      },
      logger: false,
    });
    gw.start();
    stop = () => gw.stop();
  } else if (structure === "bare") {
    // The floor: lateness of the timer callback against its grid slot.
    const fleet = bareFleet({
      ids,
      everyMs: EVERY_MS,
      run: (_id, _reasons, slot) => {
        const now = performance.now();
        if (now >= measureFrom && slot !== undefined) late.push(now - slot);
      },
    });
    stop = () => fleet.stop();
  } else {
    const fleet = cronerFleet({
      ids,
      everyMs: EVERY_MS,
      run: () => {
        const wall = Date.now();
        if (performance.now() >= measureFrom) late.push(wall - Math.floor(wall / EVERY_MS) * EVERY_MS);
      },
    });
    stop = () => fleet.stop();
  }
  // croner's slots are whole seconds shared by every job, unaffected by how long start took.
  measureFrom = structure === "croner" ? performance.now() : performance.now() + EVERY_MS;
  await sleep(seconds * 1000);
  await stop();
  return {
    structure,
    agents: n,
    seconds,
    runs: late.length,
    p50Ms: percentile(late, 50),
    p99Ms: percentile(late, 99),
    maxMs: late.length ? Math.max(...late) : NaN,
    unmeasured,
  };
}

export async function bench(ctx: BenchContext): Promise<Figure[]> {
  const agents = 1_000;
  const seconds = ctx.quick ? 3 : 15;
  const rounds = ctx.quick ? 1 : 2;
  const structures: Structure[] = ["gateway", "bare", "croner"];
  const samples = new Map<Structure, PrecisionSample[]>();
  for (let r = 0; r < rounds; r++) {
    for (const s of structures) {
      if (ctx.quick && s === "croner") continue;
      const x = runChild<PrecisionSample>("timer-precision.ts", [s, agents, seconds], { timeoutMs: (seconds + 60) * 1000 });
      (samples.get(s) ?? samples.set(s, []).get(s)!).push(x);
      ctx.log(`  precision ${s} r${r}: p50 ${round(x.p50Ms, 2)} ms, p99 ${round(x.p99Ms, 2)} ms, max ${round(x.maxMs, 1)} ms over ${x.runs} runs${x.unmeasured ? ` (${x.unmeasured} unmeasured)` : ""}`);
    }
  }
  const med = (s: Structure, f: (x: PrecisionSample) => number): number => median((samples.get(s) ?? []).map(f));
  const gw50 = med("gateway", (x) => x.p50Ms);
  const gw99 = med("gateway", (x) => x.p99Ms);
  const bare50 = med("bare", (x) => x.p50Ms);
  const bare99 = med("bare", (x) => x.p99Ms);
  const cron50 = med("croner", (x) => x.p50Ms);
  const cron99 = med("croner", (x) => x.p99Ms);
  const limit = 1.2 * bare99 + 1;
  const runs = median((samples.get("gateway") ?? []).map((x) => x.runs));
  return [
    {
      name: "timer lateness p50 (1k agents, real clock)",
      value: round(gw50, 2),
      unit: "ms",
      goal: null,
      met: null,
      baseline: "bare setTimeout",
      baselineValue: round(bare50, 2),
      ...(bare50 > 0 ? { ratio: round(gw50 / bare50, 2) } : {}),
      baselines: [
        { name: "bare setTimeout", value: round(bare50, 2), ratio: bare50 > 0 ? round(gw50 / bare50, 2) : null },
        samples.has("croner")
          ? { name: "croner", value: round(cron50, 2), ratio: cron50 > 0 ? round(gw50 / cron50, 2) : null, note: "whole-second slots shared by all jobs" }
          : { name: "croner", value: null, ratio: null, note: "not run in the quick bench" },
      ],
      samples: rounds,
      note: `${runs} scheduled runs per sample over ${seconds} s, cadence 2 s`,
    },
    {
      name: "timer lateness p99 (1k agents, real clock)",
      value: round(gw99, 2),
      unit: "ms",
      goal: `<= 1.2 x bare + 1 ms (${round(limit, 2)} ms)`,
      met: gw99 <= limit,
      baseline: "bare setTimeout",
      baselineValue: round(bare99, 2),
      ratio: round(gw99 / bare99, 2),
      baselines: [
        { name: "bare setTimeout", value: round(bare99, 2), ratio: round(gw99 / bare99, 2) },
        samples.has("croner")
          ? { name: "croner", value: round(cron99, 2), ratio: round(gw99 / cron99, 2), note: "whole-second slots shared by all jobs" }
          : { name: "croner", value: null, ratio: null, note: "not run in the quick bench" },
      ],
      samples: rounds,
      note: `max ${round(med("gateway", (x) => x.maxMs), 1)} ms (bare ${round(med("bare", (x) => x.maxMs), 1)} ms)`,
    },
  ];
}

if (isMain(import.meta.url)) {
  const [structure, n, seconds] = process.argv.slice(2);
  reply(await precision(structure as Structure, Number(n), Number(seconds)));
}
