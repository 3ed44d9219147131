/**
 * Runs per second persisted: K agents woken by hand (`manual`, coalesceMs 0) in rounds
 * (every agent once, then wait for every run to finish), for D seconds on the real
 * clock, then stop() (which flushes). "Persisted" counts the run records the store
 * accepted (appendRuns returned true), read through a counting wrapper around the
 * store. Each store in a fresh process:
 *
 *   memory    memoryStore() (the library default): the same work without a disk
 *   sqlite    sqliteStore({ path }) on a fresh file in the OS temp dir
 *   sqlite-floor  the floor: better-sqlite3 inserting the same run rows directly, one
 *             statement per run (WAL), with no runtime around it
 *   postgres  postgresStore(...) on BENCH_POSTGRES_URL, or on a throwaway cluster this bench
 *             starts (initdb + pg_ctl, as the tests do) when Postgres is installed
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as api from "../src/index.ts";
import { postgresBinDir, startTestPostgres } from "../test/support/postgres.ts";
import { isMain, median, reply, round, runChild, type BenchContext, type Figure } from "./lib.ts";

type Structure = "memory" | "sqlite" | "sqlite-floor" | "postgres";

export interface StoreSample {
  structure: Structure;
  runs: number;
  persisted: number;
  seconds: number;
  persistedPerSec: number;
  pending?: string;
}

type AnyStore = Record<string, unknown> & { appendRuns?: (...a: unknown[]) => unknown };
type StoreFactory = (o: unknown) => AnyStore;

/** A store wrapped so every run record it accepts is counted. */
function counting(store: AnyStore, onPersist: (n: number) => void): AnyStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (prop !== "appendRuns" || typeof v !== "function") return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      return (records: readonly unknown[], ...rest: unknown[]) => {
        const out = (v as (...a: unknown[]) => unknown).call(target, records, ...rest);
        const count = (ok: unknown): unknown => {
          if (ok === true) onPersist(records.length);
          return ok;
        };
        return out instanceof Promise ? out.then(count) : count(out);
      };
    },
  });
}

async function measure(structure: Structure, k: number, seconds: number): Promise<StoreSample> {
  const dir = mkdtempSync(join(tmpdir(), "bench-store-"));
  try {
    if (structure === "sqlite-floor") return floor(join(dir, "floor.db"), k, seconds);
    const factories = api as unknown as Record<string, StoreFactory | undefined>;
    let store: AnyStore;
    if (structure === "memory") {
      if (!factories.memoryStore) return pending(structure, "pending: memoryStore not built");
      store = factories.memoryStore({});
    } else if (structure === "sqlite") {
      if (!factories.sqliteStore) return pending(structure, "pending: store not built");
      store = factories.sqliteStore({ path: join(dir, "state.db") });
    } else {
      const why = pendingPostgres();
      if (why || !factories.postgresStore) return pending(structure, why ?? "pending: store not built");
      store = factories.postgresStore({ connectionString: process.env.BENCH_POSTGRES_URL });
    }
    let persisted = 0;
    const wrapped = counting(store, (n) => (persisted += n));
    const ids = Array.from({ length: k }, (_, i) => `agent-${i}`);
    let finished = 0;
    let waitFor = 0;
    let wake: (() => void) | undefined;
    const gw = api.createGateway({
      agents: ids.map((id) => ({ id, every: "30m" })),
      runHeartbeat: async () => ({ status: "ran", usage: { inputTokens: 10, outputTokens: 5 } }),
      onEvent: (e) => {
        if (e.type === "run-finished" && ++finished >= waitFor) wake?.();
      },
      logger: false,
      store: wrapped as never,
    } as Parameters<typeof api.createGateway>[0]);
    gw.start();
    await new Promise((r) => setTimeout(r, 100));
    const t0 = performance.now();
    let runs = 0;
    while (performance.now() - t0 < seconds * 1000) {
      waitFor = finished + k;
      const all = new Promise<void>((r) => (wake = r));
      for (const id of ids) if (gw.requestWake({ reason: "manual", agentId: id, coalesceMs: 0 }).accepted) runs++;
      await Promise.race([all, new Promise((r) => setTimeout(r, 5_000))]);
    }
    await gw.stop();
    const elapsed = (performance.now() - t0) / 1000;
    const close = (store as { close?: () => unknown }).close;
    if (typeof close === "function") await close.call(store);
    return { structure, runs, persisted, seconds: elapsed, persistedPerSec: persisted / elapsed };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function pendingPostgres(): string | undefined {
  if (typeof (api as unknown as Record<string, unknown>).postgresStore !== "function") return "pending: store not built";
  if (!process.env.BENCH_POSTGRES_URL) return "pending: no Postgres server (set BENCH_POSTGRES_URL)";
  return undefined;
}

function pending(structure: Structure, why: string): StoreSample {
  return { structure, runs: 0, persisted: 0, seconds: 0, persistedPerSec: NaN, pending: why };
}

/** The floor: the same run rows inserted straight into SQLite, one statement per run. */
function floor(path: string, k: number, seconds: number): StoreSample {
  const require = createRequire(import.meta.url);
  type Db = { pragma(s: string): unknown; exec(s: string): unknown; prepare(s: string): { run(...a: unknown[]): unknown }; close(): void };
  const Database = require("better-sqlite3") as new (p: string) => Db;
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.exec("CREATE TABLE runs (agent_id TEXT, run_id INTEGER, started_at INTEGER, finished_at INTEGER, duration_ms INTEGER, status TEXT, reasons TEXT, usage TEXT, reason TEXT, error TEXT, PRIMARY KEY (agent_id, run_id))");
  const insert = db.prepare("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < seconds * 1000) {
    for (let i = 0; i < k; i++, n++) {
      const now = Date.now();
      insert.run(`agent-${i}`, n, now, now, 0, "ran", '["manual"]', '{"inputTokens":10,"outputTokens":5}', null, null);
    }
  }
  const elapsed = (performance.now() - t0) / 1000;
  db.close();
  return { structure: "sqlite-floor", runs: n, persisted: n, seconds: elapsed, persistedPerSec: n / elapsed };
}

export async function bench(ctx: BenchContext): Promise<Figure[]> {
  // No server given: start a throwaway cluster when Postgres is installed (as the tests do).
  const own = !process.env.BENCH_POSTGRES_URL && postgresBinDir() !== undefined ? await startTestPostgres("bench") : undefined;
  if (own) process.env.BENCH_POSTGRES_URL = own.url;
  try {
    return await storeFigures(ctx);
  } finally {
    if (own) {
      delete process.env.BENCH_POSTGRES_URL;
      await own.dispose();
    }
  }
}

async function storeFigures(ctx: BenchContext): Promise<Figure[]> {
  const k = 100;
  const seconds = ctx.quick ? 1 : 5;
  const structures: Structure[] = ["memory", "sqlite", "sqlite-floor", "postgres"];
  const got = new Map<Structure, StoreSample[]>();
  for (let r = 0; r < ctx.runs; r++) {
    for (const s of structures) {
      if (r > 0 && got.get(s)?.[0]?.pending) continue;
      const why = s === "postgres" ? pendingPostgres() : undefined;
      const x = why ? pending(s, why) : runChild<StoreSample>("stores.ts", [s, k, seconds], { timeoutMs: 120_000 });
      (got.get(s) ?? got.set(s, []).get(s)!).push(x);
      ctx.log(`  stores ${s} r${r}: ${x.pending ?? `${round(x.persistedPerSec, 0)} runs/s persisted (${x.persisted} of ${x.runs} runs in ${round(x.seconds, 1)} s)`}`);
    }
  }
  const med = (s: Structure): number => median((got.get(s) ?? []).map((x) => x.persistedPerSec));
  const pend = (s: Structure): string | undefined => got.get(s)?.[0]?.pending;
  const mem = med("memory");
  const fig = (s: Structure, name: string): Figure => {
    const why = pend(s);
    if (why) return { name, value: null, unit: "runs/s", goal: null, met: null, status: why };
    const v = med(s);
    const floorV = med("sqlite-floor");
    return {
      name,
      value: round(v, 0),
      unit: "runs/s",
      goal: null,
      met: null,
      baseline: "memoryStore (same run)",
      baselineValue: round(mem, 0),
      ratio: round(v / mem, 2),
      baselines: [
        { name: "memoryStore (same run)", value: round(mem, 0), ratio: round(v / mem, 2) },
        ...(s === "sqlite" ? [{ name: "better-sqlite3 insert per run (floor)", value: round(floorV, 0), ratio: round(v / floorV, 3) }] : []),
      ],
      samples: got.get(s)?.length ?? 0,
      note: `${k} agents woken by hand in rounds for ${seconds} s; run records the store accepted`,
    };
  };
  return [fig("sqlite", "runs persisted per second: SQLite"), fig("postgres", "runs persisted per second: Postgres")];
}

if (isMain(import.meta.url)) {
  const [structure, k, seconds] = process.argv.slice(2);
  reply(await measure(structure as Structure, Number(k), Number(seconds)));
}
