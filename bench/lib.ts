/**
 * Shared helpers for the benchmarks: statistics, fresh child processes, garbage
 * collection, heap snapshots, event-loop delay. Nothing here times anything itself.
 */
import { execFileSync } from "node:child_process";
import { createReadStream, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeHeapSnapshot } from "node:v8";

export const benchDir = dirname(fileURLToPath(import.meta.url));
export const repoDir = join(benchDir, "..");

/** One measured figure, as written to bench/results/latest.json. */
export interface Figure {
  name: string;
  /** null when the figure cannot be measured yet (see `status`). */
  value: number | null;
  unit: string;
  /** null for figures reported for context, without a goal of their own. */
  goal: string | null;
  met: boolean | null;
  /** The primary baseline, measured in the same run. */
  baseline?: string;
  baselineValue?: number;
  /** value / baselineValue. */
  ratio?: number;
  /** Every baseline measured for this figure in the same run (the primary one included). */
  baselines?: { name: string; value: number | null; ratio: number | null; note?: string }[];
  /** How many fresh-process samples the median is taken over. */
  samples?: number;
  /** "pending: …" when the figure cannot be measured yet; otherwise absent. */
  status?: string;
  note?: string;
}

export interface BenchContext {
  readonly quick: boolean;
  /** Samples per figure (fresh processes): 1 in quick mode, 3 or more in the full run. */
  readonly runs: number;
  log(line: string): void;
}

export const median = (xs: readonly number[]): number => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** Nearest-rank percentile, p in [0, 100]. */
export const percentile = (xs: readonly number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[rank]!;
};

export const round = (x: number, digits = 2): number => (Number.isFinite(x) ? Number(x.toFixed(digits)) : x);

/** 1_000 → "1k", 100_000 → "100k". */
export const kLabel = (n: number): string => (n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n));

/**
 * Runs `bench/<script>` in a fresh Node process (`--expose-gc`, tsx) with the given
 * arguments, and returns the JSON object printed on its last stdout line.
 */
export function runChild<T>(script: string, args: readonly (string | number)[], opts: { timeoutMs?: number; nodeFlags?: readonly string[] } = {}): T {
  const out = execFileSync(
    process.execPath,
    ["--expose-gc", ...(opts.nodeFlags ?? []), "--import", "tsx", join(benchDir, script), ...args.map(String)],
    {
      cwd: repoDir,
      encoding: "utf8",
      maxBuffer: 64 << 20,
      timeout: opts.timeoutMs ?? 600_000,
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, HEARTBEAT_LOG_LEVEL: "silent" },
    },
  );
  const last = out.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(last) as T;
  } catch {
    throw new Error(`bench/${script} ${args.join(" ")}: no JSON result on stdout:\n${out.slice(-2000)}`);
  }
}

/** True when this module's importer is the entry point of the process (a benchmark child). */
export const isMain = (url: string): boolean => process.argv[1] === fileURLToPath(url);

/** Prints the child's result as the last stdout line and exits (a child never lingers on timers it measured). */
export function reply(result: unknown): never {
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

/** Full, synchronous collections until heapUsed stops shrinking (needs --expose-gc). */
export function fullGc(): number {
  const gc = (globalThis as { gc?: (opts?: unknown) => void }).gc;
  if (!gc) throw new Error("run with --expose-gc");
  let last = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 10; i++) {
    gc({ type: "major", execution: "sync" });
    const used = process.memoryUsage().heapUsed;
    if (used >= last - 1024) return used;
    last = used;
  }
  return last;
}

export interface HeapCensus {
  /** Sum of the self sizes of every node in the snapshot (live objects only: a snapshot collects garbage first). */
  readonly totalBytes: number;
  readonly nodeCount: number;
  /** Self size and count by "type:name" (strings grouped by type). */
  readonly byKind: Map<string, { bytes: number; count: number }>;
}

/**
 * Writes a V8 heap snapshot to a temporary file (v8.writeHeapSnapshot collects garbage
 * first and allocates nothing on the JS heap), returning its path. Parse it later with
 * heapCensusOfFile, after the measurement, so parsing never shows up in a snapshot.
 */
export function writeSnapshot(label: string): string {
  return writeHeapSnapshot(join(tmpdir(), `bench-${process.pid}-${label}.heapsnapshot`));
}

/**
 * Streams through a heap snapshot file without holding its JSON text, summing the
 * self size of every node, grouped by type and constructor name for the breakdown.
 * Deletes the file.
 */
export async function heapCensusOfFile(file: string): Promise<HeapCensus> {
  const stream = createReadStream(file, { encoding: "utf8", highWaterMark: 1 << 20 });
  let head = "";
  let phase: "head" | "nodes" | "skip" | "strings" = "head";
  let fields = 0;
  let typeField = 0;
  let nameField = 1;
  let sizeField = 3;
  let typeNames: string[] = [];
  let num = 0;
  let inNum = false;
  let fieldIdx = 0;
  let curType = 0;
  let curName = 0;
  let total = 0;
  let nodes = 0;
  // (type, name) → [bytes, count]; name index resolved after the strings table arrives.
  const agg = new Map<number, [number, number]>();
  let tail = "";
  let stringsText = "";
  const STRINGS = '"strings":[';

  const onNode = (type: number, name: number, size: number): void => {
    total += size;
    nodes++;
    const tn = typeNames[type] ?? "?";
    const key = tn.includes("string") || tn === "number" || tn === "bigint" ? type * 2 ** 32 + 0xffffffff : type * 2 ** 32 + name;
    const e = agg.get(key);
    if (e) {
      e[0] += size;
      e[1]++;
    } else agg.set(key, [size, 1]);
  };

  const parseNodes = (text: string, from: number): number => {
    for (let i = from; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c >= 48 && c <= 57) {
        num = num * 10 + (c - 48);
        inNum = true;
      } else if (inNum) {
        const f = fieldIdx % fields;
        if (f === typeField) curType = num;
        else if (f === nameField) curName = num;
        else if (f === sizeField) onNode(curType, curName, num);
        fieldIdx++;
        num = 0;
        inNum = false;
        if (c === 93) return i + 1; // ']'
      } else if (c === 93) return i + 1;
    }
    return -1;
  };

  for await (const chunk of stream as AsyncIterable<string>) {
    let text = chunk;
    if (phase === "head") {
      head += text;
      const at = head.indexOf('"nodes":[');
      if (at < 0) continue;
      const metaText = head.slice(head.indexOf("{") + 1, at).replace(/^\s*"snapshot"\s*:/, "").replace(/,\s*$/, "");
      const meta = JSON.parse(metaText) as { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
      const nf = meta.meta.node_fields;
      fields = nf.length;
      typeField = nf.indexOf("type");
      nameField = nf.indexOf("name");
      sizeField = nf.indexOf("self_size");
      typeNames = meta.meta.node_types[0];
      phase = "nodes";
      text = head.slice(at + '"nodes":['.length);
      head = "";
    }
    if (phase === "nodes") {
      const end = parseNodes(text, 0);
      if (end < 0) continue;
      phase = "skip";
      text = text.slice(end);
    }
    if (phase === "skip") {
      const joined = tail + text;
      const at = joined.indexOf(STRINGS);
      if (at < 0) {
        tail = joined.slice(-STRINGS.length);
        continue;
      }
      phase = "strings";
      text = joined.slice(at + STRINGS.length - 1);
    }
    stringsText += text;
  }
  const strings = JSON.parse(stringsText.slice(0, stringsText.lastIndexOf("]") + 1)) as string[];
  const byKind = new Map<string, { bytes: number; count: number }>();
  for (const [key, [bytes, count]] of agg) {
    const type = Math.floor(key / 2 ** 32);
    const name = key % 2 ** 32;
    const tn = typeNames[type] ?? "?";
    const label = name === 0xffffffff ? tn : `${tn}:${(strings[name] ?? "?").slice(0, 60)}`;
    const e = byKind.get(label);
    if (e) {
      e.bytes += bytes;
      e.count += count;
    } else byKind.set(label, { bytes, count });
  }
  rmSync(file, { force: true });
  return { totalBytes: total, nodeCount: nodes, byKind };
}

/** Per-unit difference of two censuses, largest first. */
export function censusDiff(before: HeapCensus, after: HeapCensus, per: number, top = 20): { kind: string; bytesPer: number; countPer: number }[] {
  const rows: { kind: string; bytesPer: number; countPer: number }[] = [];
  for (const [kind, a] of after.byKind) {
    const b = before.byKind.get(kind) ?? { bytes: 0, count: 0 };
    const d = a.bytes - b.bytes;
    if (d <= 0) continue;
    rows.push({ kind, bytesPer: round(d / per, 1), countPer: round((a.count - b.count) / per, 2) });
  }
  return rows.sort((x, y) => y.bytesPer - x.bytesPer).slice(0, top);
}

/** Resolves on the next turn of the event loop (after pending I/O and immediates). */
export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
