import { fork, type ChildProcess } from "node:child_process";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { FAULT_HELP, FAULTS, parseFaults } from "./faults.ts";
import { runFleet, type FleetOptions, type FleetResult } from "./fleet.ts";
import type { Rule } from "./invariants.ts";
import { fmtMs } from "./world.ts";

/**
 * The fleet simulator's command line:
 *
 *   npm run simulate -- --agents 50 --days 30 --seeds 100 [--faults all] [--seed N] [--jobs N]
 *
 * Seeds run in parallel worker processes (one per core by default); each seed is a
 * deterministic simulation, so a failing seed replays exactly with `--seed N`.
 */

const HELP = `usage: npm run simulate -- [options]
  --agents N       agents per simulated fleet (default 50)
  --days N         simulated days per seed (default 30)
  --seeds N        how many seeds to run (default 100)
  --first-seed N   first seed of the range (default 1)
  --seed N         run this one seed and print its violations and the actions before them
  --faults LIST    all | none | comma list of: ${FAULTS.join(", ")} (default none)
  --jobs N         worker processes (default: cores)
  --no-store       restart after a crash with fresh state (no shared memoryStore)
  --strict         count violations of the known runtime bugs too (they are tolerated and listed by default)
  --tolerate LIST  rules not to count at all
  --json           one JSON line per seed instead of text
faults:
${FAULTS.map((f) => `  ${f.padEnd(12)} ${FAULT_HELP[f]}`).join("\n")}`;

interface Args {
  agents: number;
  days: number;
  seeds: number[];
  faults: string;
  jobs: number;
  durable: boolean;
  tolerate: Rule[];
  strict: boolean;
  json: boolean;
  single: boolean;
}

function parse(argv: string[]): Args {
  const { values } = parseArgs({
    args: argv,
    options: {
      agents: { type: "string", default: "50" },
      days: { type: "string", default: "30" },
      seeds: { type: "string", default: "100" },
      "first-seed": { type: "string", default: "1" },
      seed: { type: "string" },
      faults: { type: "string", default: "none" },
      jobs: { type: "string" },
      "no-store": { type: "boolean", default: false },
      tolerate: { type: "string", default: "" },
      strict: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const int = (name: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: expected an integer >= ${min}, got ${JSON.stringify(v)}`);
    return n;
  };
  parseFaults(values.faults);
  const single = values.seed !== undefined;
  const first = int("first-seed", values["first-seed"], 0);
  const seeds = single ? [int("seed", values.seed!, 0)] : Array.from({ length: int("seeds", values.seeds, 1) }, (_, i) => first + i);
  return {
    agents: int("agents", values.agents, 1),
    days: Number(values.days) > 0 ? Number(values.days) : int("days", values.days, 1),
    seeds,
    faults: values.faults,
    jobs: values.jobs === undefined ? Math.min(seeds.length, availableParallelism()) : int("jobs", values.jobs, 1),
    durable: !values["no-store"],
    tolerate: values.tolerate ? (values.tolerate.split(",") as Rule[]) : [],
    strict: values.strict,
    json: values.json,
    single,
  };
}

function fleetOptions(a: Args, seed: number): FleetOptions {
  return {
    seed,
    agents: a.agents,
    days: a.days,
    faults: parseFaults(a.faults),
    durable: a.durable,
    strict: a.strict,
    ...(a.tolerate.length ? { tolerate: new Set(a.tolerate) } : {}),
  };
}

export function replayCommand(a: Pick<Args, "agents" | "days" | "faults" | "durable" | "strict">, seed: number): string {
  const faults = a.faults === "none" ? "" : ` --faults ${a.faults}`;
  return `npm run simulate -- --agents ${a.agents} --days ${a.days}${faults}${a.durable ? "" : " --no-store"}${a.strict ? " --strict" : ""} --seed ${seed}`;
}

function summarize(r: FleetResult): string {
  const rules = new Map<string, number>();
  for (const v of r.violations) rules.set(v.rule, (rules.get(v.rule) ?? 0) + 1);
  return [...rules].map(([k, n]) => `${k}×${n}`).join(", ");
}

function report(a: Args, r: FleetResult): void {
  if (a.json) {
    console.log(JSON.stringify({ ...r, replay: replayCommand(a, r.seed) }));
    return;
  }
  if (r.violations.length === 0 && !a.single) return;
  if (r.violations.length > 0) {
    const v = r.violations[0]!;
    console.log(
      `FAIL seed ${r.seed}: ${r.violations.length} violation(s) [${summarize(r)}]; first at t+${fmtMs(v.mono)} ` +
        `(${new Date(v.wall).toISOString()}) ${v.rule} ${v.agentId ?? ""}: ${v.detail} — replay: ${replayCommand(a, r.seed)}`,
    );
  }
  if (a.single) {
    for (const v of r.violations) console.log(`  t+${fmtMs(v.mono)} ${v.rule} ${v.agentId ?? "-"}: ${v.detail}`);
    console.log(`runs ${r.runs}, events ${r.events}, timers fired ${r.timersFired}, faults ${JSON.stringify(r.faults)}`);
    if (r.violations.length > 0) {
      // Faults, reloads and restarts, and the wakes of the agent concerned (storms elsewhere are left out).
      const who = r.violations[0]!.agentId;
      const relevant = r.trace.filter((line) => !line.includes(" wake {") || (who !== undefined && line.includes(`"${who}"`)));
      console.log(`actions before the first violation (${who ?? "fleet"}):\n  ${relevant.slice(-30).join("\n  ")}`);
    }
  }
}

async function runWorkers(a: Args, argv: string[], onResult: (r: FleetResult) => void): Promise<void> {
  const queue = [...a.seeds];
  const self = fileURLToPath(import.meta.url);
  const workers: Promise<void>[] = [];
  for (let i = 0; i < a.jobs; i++) {
    workers.push(
      new Promise<void>((resolve, reject) => {
        const child: ChildProcess = fork(self, ["--worker", ...argv], { execArgv: process.execArgv, stdio: ["ignore", "inherit", "inherit", "ipc"] });
        const next = (): void => {
          const seed = queue.shift();
          if (seed === undefined) child.send({ done: true });
          else child.send({ seed });
        };
        child.on("message", (msg: { result?: FleetResult; ready?: boolean }) => {
          if (msg.result) onResult(msg.result);
          next();
        });
        child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`simulator worker exited with ${code}`))));
      }),
    );
  }
  await Promise.all(workers);
}

async function worker(a: Args): Promise<void> {
  process.on("message", (msg: { seed?: number; done?: boolean }) => {
    if (msg.done || msg.seed === undefined) {
      process.disconnect?.();
      return;
    }
    void runFleet(fleetOptions(a, msg.seed)).then((result) => process.send?.({ result }));
  });
  process.send?.({ ready: true });
}

async function main(): Promise<void> {
  const raw = process.argv.slice(2);
  const isWorker = raw[0] === "--worker";
  const argv = isWorker ? raw.slice(1) : raw;
  let a: Args;
  try {
    a = parse(argv);
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n\n${HELP}`);
    process.exit(2);
  }
  if (isWorker) return worker(a);

  const started = performance.now();
  const results: FleetResult[] = [];
  const onResult = (r: FleetResult): void => {
    results.push(r);
    report(a, r);
  };
  if (a.jobs <= 1) for (const seed of a.seeds) onResult(await runFleet(fleetOptions(a, seed)));
  else await runWorkers(a, argv, onResult);
  const wallMs = performance.now() - started;

  const violations = results.reduce((n, r) => n + r.violations.length, 0);
  const simMs = results.reduce((n, r) => n + r.simMs, 0);
  const cpuMs = results.reduce((n, r) => n + r.cpuMs, 0);
  const seedMs = results.reduce((n, r) => n + r.realMs, 0);
  const tolerated = new Map<string, number>();
  for (const r of results) for (const [k, n] of Object.entries(r.tolerated)) tolerated.set(k, (tolerated.get(k) ?? 0) + n);
  const x = (n: number): string => `${Math.round(n).toLocaleString("en-US")}×`;
  console.log(
    `simulated ${results.length} seed(s) × ${a.days} day(s) × ${a.agents} agents (${(simMs / 86_400_000).toLocaleString("en-US")} seed-days, ` +
      `${results.reduce((n, r) => n + r.runs, 0).toLocaleString("en-US")} runs, faults: ${a.faults}) in ${(wallMs / 1000).toFixed(1)} s on ${a.jobs} job(s): ` +
      `${x(simMs / wallMs)} real time overall, ${x(simMs / seedMs)} per seed, ${x(simMs / cpuMs)} per CPU-second`,
  );
  if (tolerated.size > 0) {
    console.log(`tolerated, not counted (known runtime bugs; --strict counts them): ${[...tolerated].map(([k, n]) => `${k}×${n}`).join(", ")}`);
  }
  const stalls = results.reduce((n, r) => n + r.stalls, 0);
  if (stalls > 0) console.log(`driver actions that did not settle without simulated time: ${stalls}`);
  console.log(`seeds: ${results.length}, violations: ${violations}`);
  process.exitCode = violations > 0 ? 1 : 0;
}

await main();
