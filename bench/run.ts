/**
 * `npm run bench` (full) and `npm run bench -- --quick`. Prints a table and writes
 * bench/results/latest.json. Every figure is a median of several fresh-process runs,
 * with a baseline measured in the same run where one applies.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { sampleInChild, type ScaleSample } from "./scale.ts";

interface Figure {
  name: string;
  value: number;
  unit: string;
  goal?: string;
  met?: boolean;
  baseline?: string;
  baselineValue?: number;
  ratio?: number;
}

const quick = process.argv.includes("--quick");
const runs = quick ? 1 : 3;
const sizes = quick ? [1_000, 10_000] : [1_000, 10_000, 100_000];
const naiveSizes = quick ? [1_000] : [1_000, 5_000];

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};
const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

function medianSample(structure: ScaleSample["structure"], n: number): ScaleSample {
  const samples = Array.from({ length: runs }, () => sampleInChild(structure, n));
  return {
    structure,
    agents: n,
    startMs: median(samples.map((s) => s.startMs)),
    stopMs: median(samples.map((s) => s.stopMs)),
    heapPerAgentKiB: median(samples.map((s) => s.heapPerAgentKiB)),
  };
}

const figures: Figure[] = [];
const naive = new Map<number, ScaleSample>();
for (const n of naiveSizes) naive.set(n, medianSample("naive-spawn", n));
for (const n of sizes) {
  const s = medianSample("gateway", n);
  const base = naive.get(n);
  const k = n >= 1000 ? `${n / 1000}k` : String(n);
  figures.push({ name: `heap per idle agent @${k}`, value: round(s.heapPerAgentKiB), unit: "KiB", goal: "<= 3 KiB", met: s.heapPerAgentKiB <= 3 });
  figures.push({
    name: `start ${k} agents`,
    value: round(s.startMs, 0),
    unit: "ms",
    ...(n === 100_000 ? { goal: "<= 2000 ms", met: s.startMs <= 2000 } : {}),
    ...(base ? { baseline: "naive spawn", baselineValue: round(base.startMs, 0), ratio: round(s.startMs / base.startMs) } : {}),
  });
  figures.push({
    name: `stop ${k} agents`,
    value: round(s.stopMs, 0),
    unit: "ms",
    ...(n === 100_000 ? { goal: "<= 500 ms", met: s.stopMs <= 500 } : {}),
    ...(base ? { baseline: "naive spawn", baselineValue: round(base.stopMs, 0), ratio: round(s.stopMs / base.stopMs, 3) } : {}),
  });
}
for (const [n, b] of naive) {
  if (!sizes.includes(n)) {
    figures.push({ name: `naive spawn: stop ${n} agents`, value: round(b.stopMs, 0), unit: "ms" });
    figures.push({ name: `naive spawn: start ${n} agents`, value: round(b.startMs, 0), unit: "ms" });
  }
}

const table = figures.map((f) =>
  [f.name.padEnd(28), `${f.value} ${f.unit}`.padEnd(14), (f.goal ?? "").padEnd(12), f.met === undefined ? "" : f.met ? "met" : "MISSED",
    f.baseline ? `${f.baseline}: ${f.baselineValue} (ratio ${f.ratio})` : ""].join("  "),
);
console.log(`heartbeat-runtime bench (${quick ? "quick" : "full"}, median of ${runs})\n`);
console.log(table.join("\n"));

const out = join(dirname(fileURLToPath(import.meta.url)), "results", quick ? "quick.json" : "latest.json");
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, machine: `${cpus().length} cpus, ${round(totalmem() / 2 ** 30, 1)} GiB`, quick, figures }, null, 2)}\n`,
);
console.log(`\nwritten: ${out}`);
