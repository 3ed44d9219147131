/**
 * `npm run bench` (full, several minutes) and `npm run bench -- --quick` (under a
 * minute). Runs every benchmark, each measurement in a fresh child process, with its
 * baselines measured in the same run; prints a table; writes
 * bench/results/latest.json (full) or bench/results/quick.json (quick), and after a
 * full run rewrites the table in bench/README.md.
 *
 *   --quick          smaller sizes and one sample per figure (a smoke run)
 *   --only=a,b       run only these benchmarks (scale, storm, precision, latency, simulation, stores)
 *   --render         run nothing: rewrite bench/README.md's table from results/latest.json
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { benchDir, round, type BenchContext, type Figure } from "./lib.ts";
import * as latency from "./latency.ts";
import * as scale from "./scale.ts";
import * as simulation from "./simulation.ts";
import * as stores from "./stores.ts";
import * as precision from "./timer-precision.ts";
import * as storm from "./wake-storm.ts";

const quick = process.argv.includes("--quick");
const only = process.argv.find((a) => a.startsWith("--only="))?.slice("--only=".length).split(",");
const ctx: BenchContext = { quick, runs: quick ? 1 : 3, log: (line) => console.error(line) };

const benches: { key: string; run: () => Promise<Figure[]> }[] = [
  {
    key: "scale",
    run: async () => {
      const r = await scale.bench(ctx);
      if (r.breakdown.length) {
        mkdirSync(join(benchDir, "results"), { recursive: true });
        writeFileSync(join(benchDir, "results", quick ? "heap-breakdown.quick.json" : "heap-breakdown.json"), `${JSON.stringify(r.breakdown, null, 2)}\n`);
      }
      return r.figures;
    },
  },
  { key: "storm", run: () => storm.bench(ctx) },
  { key: "precision", run: () => precision.bench(ctx) },
  { key: "latency", run: () => latency.bench(ctx) },
  { key: "simulation", run: () => simulation.bench(ctx) },
  { key: "stores", run: () => stores.bench(ctx) },
];

const render = process.argv.includes("--render");

const cell = (f: Figure): string[] => {
  const value = f.value === null ? (f.status ?? "n/a") : `${f.value} ${f.unit}`;
  const met = f.met === null ? "" : f.met ? "met" : "MISSED";
  const base = f.baselines?.length
    ? f.baselines.map((b) => `${b.name}: ${b.value ?? "n/a"}${b.ratio === null || b.ratio === undefined ? "" : ` (×${b.ratio})`}`).join("; ")
    : f.baseline
      ? `${f.baseline}: ${f.baselineValue} (×${f.ratio})`
      : "";
  return [f.name, value, f.goal ?? "", met, base];
};

/** The README's table: every figure, then its notes. */
function writeReadmeTable(result: { date: string; node: string; machine: string; seconds: number; figures: Figure[] }): void {
  const rowsOf = result.figures.map(cell);
  const notes = result.figures.filter((f) => f.note).map((f) => `- *${f.name}*: ${f.note}`);
  const md = [
    `Full run of ${result.date} (node ${result.node}; ${result.machine}; ${result.seconds} s).`,
    "",
    "| figure | value | goal | met | baselines in the same run: value (gateway ÷ baseline) |",
    "|---|---|---|---|---|",
    ...rowsOf.map((r) => `| ${r.map((c) => c.replaceAll("|", "\\|")).join(" | ")} |`),
    "",
    "Notes:",
    "",
    ...notes,
  ].join("\n");
  const readme = join(benchDir, "README.md");
  let text = "";
  try {
    text = readFileSync(readme, "utf8");
  } catch {
    text = "# Benchmarks\n\n<!-- bench:table:start -->\n<!-- bench:table:end -->\n";
  }
  const start = "<!-- bench:table:start -->";
  const end = "<!-- bench:table:end -->";
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a >= 0 && b > a) {
    writeFileSync(readme, `${text.slice(0, a + start.length)}\n${md}\n${text.slice(b)}`);
    console.log(`written: ${readme} (table)`);
  }
}

if (render) {
  const latest = JSON.parse(readFileSync(join(benchDir, "results", "latest.json"), "utf8")) as Parameters<typeof writeReadmeTable>[0];
  writeReadmeTable(latest);
  process.exit(0);
}

const started = performance.now();
const load = loadavg().map((x) => round(x, 1));
const figures: Figure[] = [];
const timings: Record<string, number> = {};
for (const b of benches) {
  if (only && !only.includes(b.key)) continue;
  const t = performance.now();
  console.error(`${b.key}…`);
  try {
    figures.push(...(await b.run()));
  } catch (err) {
    console.error(`  ${b.key} failed: ${err instanceof Error ? err.message : String(err)}`);
    figures.push({ name: `${b.key}: benchmark failed`, value: null, unit: "", goal: null, met: false, status: `failed: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}` });
  }
  timings[b.key] = round((performance.now() - t) / 1000, 1);
}
const totalS = round((performance.now() - started) / 1000, 1);

const header = ["figure", "value", "goal", "", "baselines in the same run: value (gateway ÷ baseline)"];
const rows = figures.map(cell);
const widths = header.map((h, i) => Math.min(70, Math.max(h.length, ...rows.map((r) => r[i]!.length))));
const line = (r: string[]): string => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
const date = new Date().toISOString();
const node = process.version;
const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? "cpu"}, ${round(totalmem() / 2 ** 30, 1)} GiB, load ${load.join(" ")} at start`;
console.log(`\nheartbeat-runtime bench (${quick ? "quick" : "full"}; medians of ${ctx.runs} fresh-process samples where not noted) — ${date}, node ${node}, ${machine}\n`);
console.log(line(header));
for (const r of rows) console.log(line(r));
console.log(`\ntook ${totalS} s (${Object.entries(timings).map(([k, v]) => `${k} ${v} s`).join(", ")})`);

// ---- files ----
const resultsDir = join(benchDir, "results");
mkdirSync(resultsDir, { recursive: true });
const out = join(resultsDir, quick ? "quick.json" : "latest.json");
writeFileSync(out, `${JSON.stringify({ date, node, machine, quick, seconds: totalS, figures }, null, 2)}\n`);
console.log(`written: ${out}`);

if (!quick && !only) writeReadmeTable({ date, node, machine, seconds: totalS, figures });
