/**
 * Scale: heap per idle agent, start and stop time for N agents, each N in a fresh
 * process (`--expose-gc`), medians of several runs. Baseline in the same run: the
 * naive structure (every agent `spawn`ed as a child of one machine), at sizes it can
 * finish. Run through bench/run.ts.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createActor, setup, assign } from "xstate";
import { heartbeatMachine } from "../machines/heartbeat.ts";
import { createGateway } from "../src/index.ts";
import { resolveAgents, resolvePolicy } from "../src/policy/config.ts";
import { systemClock } from "../src/runtime/clock.ts";

export interface ScaleSample {
  structure: "gateway" | "naive-spawn";
  agents: number;
  startMs: number;
  stopMs: number;
  heapPerAgentKiB: number;
}

const gc = (): void => {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) {
    g();
    g();
  }
};

async function measureGateway(n: number): Promise<ScaleSample> {
  const agents = Array.from({ length: n }, (_, i) => ({ id: `agent-${i}`, every: "30m" }));
  const gw = createGateway({ agents, runHeartbeat: async () => ({ status: "ran" as const }), logger: false });
  gc();
  const before = process.memoryUsage().heapUsed;
  let t = performance.now();
  gw.start();
  const startMs = performance.now() - t;
  gc();
  const heap = process.memoryUsage().heapUsed - before;
  t = performance.now();
  await gw.stop();
  const stopMs = performance.now() - t;
  return { structure: "gateway", agents: n, startMs, stopMs, heapPerAgentKiB: heap / n / 1024 };
}

/** Every agent a spawned child of one machine: what XState suggests first, and O(N²) to stop. */
async function measureNaive(n: number): Promise<ScaleSample> {
  const [agent] = resolveAgents([{ id: "x", every: "30m" }]);
  const policy = resolvePolicy({});
  const deps = { clock: systemClock, runHeartbeat: async () => ({ status: "ran" as const }), lanes: {}, onLateSettlement: () => {} };
  const parent = setup({ actors: { heartbeat: heartbeatMachine } }).createMachine({
    context: {},
    entry: assign(({ spawn }) => {
      for (let i = 0; i < n; i++) {
        spawn("heartbeat", { id: `a${i}`, systemId: `heartbeat:a${i}`, input: { agent: { ...agent!, id: `a${i}` }, policy, deps } });
      }
      return {};
    }),
  });
  gc();
  const before = process.memoryUsage().heapUsed;
  let t = performance.now();
  const actor = createActor(parent).start();
  const startMs = performance.now() - t;
  gc();
  const heap = process.memoryUsage().heapUsed - before;
  t = performance.now();
  actor.stop();
  const stopMs = performance.now() - t;
  return { structure: "naive-spawn", agents: n, startMs, stopMs, heapPerAgentKiB: heap / n / 1024 };
}

/** Run one measurement in a fresh child process so heaps do not mix. */
export function sampleInChild(structure: ScaleSample["structure"], n: number): ScaleSample {
  const out = execFileSync(
    process.execPath,
    ["--expose-gc", "--import", "tsx", fileURLToPath(import.meta.url), structure, String(n)],
    { encoding: "utf8", maxBuffer: 1 << 20, timeout: 600_000 },
  );
  return JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as ScaleSample;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const structure = process.argv[2] as ScaleSample["structure"];
  const n = Number(process.argv[3]);
  const sample = structure === "naive-spawn" ? await measureNaive(n) : await measureGateway(n);
  console.log(JSON.stringify(sample));
}
