import Database from "better-sqlite3";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it } from "vitest";
import { removeTempDirs, tempDir } from "../support/temp-db.ts";

/**
 * Crash tests with real processes, on real time.
 *
 * Each lane is one SQLite file. A child process (fixtures/crash-host.ts, under
 * `node --import tsx`) runs a gateway on it: 4 agents every 1 s, leaseTtl 1 s (renewed
 * every 333 ms, reaper every 1 s), runs that take 0-600 ms and log to a JSONL file. The
 * parent kills it with SIGKILL at a random point, restarts it, and repeats. Lanes run in
 * parallel; at least 20 kills in all.
 *
 * When a process is killed:
 * - a kill lands 0.3-2.5 s after the process is ready (so, with 4 agents on 1 s cadences and
 *   runs of up to 600 ms, most land mid-run), but not before the claims its predecessor left
 *   open were reaped (that is what is being checked); every 5th kill is an early one,
 *   50-300 ms after ready, in the middle of recovery, and its inherited claims pass on to the
 *   next process;
 * - before anything reopens the file the WAL is inspected: frames of a transaction that was
 *   being written and never committed mean the kill landed mid-write (counted; SQLite drops
 *   them on recovery).
 *
 * Checks after each kill / restart:
 * 1. the database opens cleanly: a new connection recovers the WAL and
 *    PRAGMA integrity_check says "ok";
 * 2. no schedule lost: every agent has a stored state with a next due time, its stored
 *    runCount never goes backwards, and every process that lived 2.5 s ran every agent;
 * 3. claims the killed process left open are reaped (aborted, lease-expired) within 2×TTL
 *    of the start of the process that reaps them;
 * 4. no slot ran twice. The claim table's primary key (agent_id, slot_key) makes a double
 *    claim impossible, so the check is on what the host did and on the slot keys: every
 *    host call in the JSONL maps to its own claim row — (agentId, owner, runId) → the row,
 *    the run id taken from the run-started event the runtime emits just before it calls the
 *    host — so no host call ran unclaimed and no claim served two calls; and two scheduled
 *    claims of one agent are never closer than half a cadence, so one logical slot never ran
 *    under two keys (e.g. a stored due time that rounds to another millisecond after a
 *    restart). Runs refused as "slot-taken" are counted: each one is a double run prevented.
 * At the end the last process is stopped gracefully: nothing is left open.
 */

const HOST = resolve(import.meta.dirname, "fixtures/crash-host.ts");
const REPO = resolve(import.meta.dirname, "../..");
const TTL = 1_000;
const AGENTS = 4;
const CADENCE = 1_000;
const LANES = 3;
const KILLS_PER_LANE = 7;
const READY_TIMEOUT_MS = 20_000;
/** Slack on top of 2×TTL for polling the file and a loaded CI machine, when waiting (not when checking). */
const WAIT_SLACK_MS = 1_500;

interface Proc {
  readonly owner: string;
  readonly readyAt: number;
  killedAt: number;
  early: boolean;
}

interface ClaimRow {
  agent_id: string;
  slot_key: string;
  run_id: number;
  owner: string;
  claimed_at: number;
  lease_expires_at: number | null;
  status: string;
  reason: string | null;
  finished_at: number | null;
}

interface KillReport {
  lane: number;
  n: number;
  owner: string;
  afterMs: number;
  early: boolean;
  hostCallsInFlight: number;
  openClaims: number;
  uncommittedWalFrames: number;
  integrity: string;
}

interface LaneResult {
  kills: KillReport[];
  reapLatencies: number[];
  reaped: number;
  slotTaken: number;
  hostCalls: number;
  claims: number;
  failures: string[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function readJsonl<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  const out: T[] = [];
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      // A line torn by SIGKILL: the run it starts is still found through its claim.
    }
  }
  return out;
}

function withDb<T>(path: string, fn: (db: Database.Database) => T, readonly = true): T {
  const db = new Database(path, { readonly, fileMustExist: true, timeout: 2_000 });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

const claimsOf = (path: string): ClaimRow[] => withDb(path, (db) => db.prepare<[], ClaimRow>(`SELECT * FROM run_claim`).all());

/**
 * Frames at the end of the WAL that belong to the current WAL generation (salts match the
 * header) but come after its last commit frame: a transaction the kill interrupted while
 * its pages were being written. A torn last frame counts too.
 */
function uncommittedWalFrames(dbPath: string): number {
  const walPath = `${dbPath}-wal`;
  if (!existsSync(walPath)) return 0;
  const wal = readFileSync(walPath);
  if (wal.length < 32) return 0;
  const pageSize = wal.readUInt32BE(8);
  const salt1 = wal.readUInt32BE(16);
  const salt2 = wal.readUInt32BE(20);
  const frameSize = 24 + pageSize;
  let sinceCommit = 0;
  for (let off = 32; off < wal.length; off += frameSize) {
    if (off + frameSize > wal.length) return sinceCommit + 1; // a torn frame
    if (wal.readUInt32BE(off + 8) !== salt1 || wal.readUInt32BE(off + 12) !== salt2) break; // an older generation
    sinceCommit = wal.readUInt32BE(off + 4) !== 0 ? 0 : sinceCommit + 1;
  }
  return sinceCommit;
}

function spawnHost(dbPath: string, runsPath: string, eventsPath: string, owner: string, seed: number): { child: ChildProcess; ready: Promise<number>; stderr: () => string } {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", HOST, dbPath, runsPath, eventsPath, owner, String(TTL), String(AGENTS), String(seed)],
    { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] },
  );
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const ready = new Promise<number>((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`${owner}: not ready after ${READY_TIMEOUT_MS} ms\n${err}`)), READY_TIMEOUT_MS);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const m = /^ready (\d+)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolveReady(Number(m[1]));
      }
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${owner}: exited (${code ?? signal}) before ready\n${err}`));
    });
  });
  return { child, ready, stderr: () => err };
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((r) => child.once("exit", (code, signal) => r({ code, signal })));
}

async function runLane(lane: number, seed: number): Promise<LaneResult> {
  const random = rng(seed);
  const dir = tempDir(`hb-crash-${lane}-`);
  const dbPath = join(dir, "state.db");
  const runsPath = join(dir, "runs.jsonl");
  const eventsPath = join(dir, "events.jsonl");
  const procs: Proc[] = [];
  const failures: string[] = [];
  const kills: KillReport[] = [];
  const reapLatencies: number[] = [];
  /** Claims left open by killed processes and not yet seen closed: key → the killed owner. */
  const inherited = new Map<string, string>();
  const lastRunCount = new Map<string, number>();
  const fail = (msg: string): void => {
    failures.push(`lane ${lane}: ${msg}`);
  };
  const claimKey = (c: Pick<ClaimRow, "agent_id" | "slot_key">): string => `${c.agent_id}/${c.slot_key}`;

  /** Wait until every inherited claim is closed, or until the deadline; record what was seen. */
  const awaitReaped = async (deadline: number): Promise<void> => {
    while (inherited.size > 0 && Date.now() < deadline) {
      await sleep(50);
      for (const c of claimsOf(dbPath)) if (inherited.has(claimKey(c)) && c.status !== "open") inherited.delete(claimKey(c));
    }
  };

  for (let n = 0; n <= KILLS_PER_LANE; n++) {
    const last = n === KILLS_PER_LANE;
    const owner = `L${lane}-P${n}`;
    const host = spawnHost(dbPath, runsPath, eventsPath, owner, seed * 1_000 + n);
    const readyAt = await host.ready;
    const proc: Proc = { owner, readyAt, killedAt: Number.POSITIVE_INFINITY, early: false };
    procs.push(proc);

    const early = !last && n % 5 === 4;
    if (early) {
      proc.early = true;
      await sleep(50 + random() * 250);
    } else {
      const killAt = readyAt + 300 + random() * 2_200;
      await awaitReaped(readyAt + 2 * TTL + WAIT_SLACK_MS);
      if (inherited.size > 0) fail(`${owner}: ${inherited.size} inherited claim(s) still open ${2 * TTL + WAIT_SLACK_MS} ms after ready`);
      const wait = Math.max(killAt - Date.now(), random() * 300);
      await sleep(last ? Math.max(wait, 2_500) : wait);
    }

    if (last) {
      host.child.kill("SIGTERM");
      const { code } = await exited(host.child);
      proc.killedAt = Date.now();
      if (code !== 0) fail(`${owner}: graceful stop exited ${code}\n${host.stderr()}`);
      break;
    }

    // SIGKILL, at a random point.
    if (host.child.exitCode !== null) fail(`${owner}: exited by itself (${host.child.exitCode})\n${host.stderr()}`);
    host.child.kill("SIGKILL");
    await exited(host.child);
    proc.killedAt = Date.now();

    // What the kill interrupted, looked at before anything reopens the file.
    const walFrames = uncommittedWalFrames(dbPath);
    const calls = readJsonl<{ kind: string; agentId: string; runId: number; owner: string }>(runsPath).filter((r) => r.owner === owner);
    const ended = new Set(calls.filter((r) => r.kind === "end").map((r) => `${r.agentId}#${r.runId}`));
    const inFlight = calls.filter((r) => r.kind === "start" && !ended.has(`${r.agentId}#${r.runId}`)).length;

    // 1. The database opens cleanly (a read-write connection recovers the WAL).
    const integrity = withDb(dbPath, (db) => String(db.pragma("integrity_check", { simple: true })), false);
    if (integrity !== "ok") fail(`after killing ${owner}: integrity_check = ${integrity}`);

    // 2. No schedule lost: every agent stored, with a due time; counters never go backwards.
    const states = withDb(dbPath, (db) =>
      db.prepare<[], { agent_id: string; state: string }>(`SELECT agent_id, state FROM agent_state`).all(),
    ).map((r) => ({ id: r.agent_id, ...(JSON.parse(r.state) as { dueAt: number | null; runCount: number }) }));
    for (let i = 0; i < AGENTS; i++) {
      const s = states.find((x) => x.id === `a${i}`);
      if (!s) fail(`after killing ${owner}: agent a${i} has no stored state`);
      else {
        if (s.dueAt === null || !Number.isFinite(s.dueAt)) fail(`after killing ${owner}: agent a${i} has no stored due time`);
        const before = lastRunCount.get(s.id) ?? 0;
        if (s.runCount < before) fail(`after killing ${owner}: a${i} runCount went back ${before} → ${s.runCount}`);
        lastRunCount.set(s.id, s.runCount);
      }
    }

    const open = claimsOf(dbPath).filter((c) => c.status === "open");
    for (const c of open) {
      if (c.lease_expires_at === null) fail(`${claimKey(c)}: an open claim with a null lease (seed 003)`);
      if (c.owner === owner) inherited.set(claimKey(c), owner);
    }
    const report: KillReport = {
      lane,
      n: n + 1,
      owner,
      afterMs: proc.killedAt - readyAt,
      early,
      hostCallsInFlight: inFlight,
      openClaims: open.filter((c) => c.owner === owner).length,
      uncommittedWalFrames: walFrames,
      integrity,
    };
    kills.push(report);
    console.log(
      `[crash] lane ${lane} kill ${report.n}/${KILLS_PER_LANE} ${owner} after ${report.afterMs} ms${early ? " (early)" : ""}: ` +
        `${inFlight} host call(s) in flight, ${report.openClaims} claim(s) left open, ${walFrames} uncommitted WAL frame(s), integrity ${integrity}`,
    );
  }

  // --- Checks over the whole lane -------------------------------------------------------
  const claims = claimsOf(dbPath);
  const calls = readJsonl<{ kind: string; agentId: string; runId: number; owner: string; at: number }>(runsPath).filter((r) => r.kind === "start");
  const events = readJsonl<{ owner: string; type: string; agentId: string; kind?: string; state?: string; reason?: string }>(eventsPath);
  const procAt = (t: number): Proc | undefined => procs.find((p) => p.readyAt <= t && t <= p.killedAt + 50);

  // 3. Everything is closed at the end, and every reaped claim was reaped within 2×TTL of its reaper's start.
  const stillOpen = claims.filter((c) => c.status === "open");
  if (stillOpen.length > 0) fail(`claims still open at the end: ${stillOpen.map(claimKey).join(", ")}`);
  const killedOwners = new Set(procs.slice(0, -1).map((p) => p.owner));
  let reaped = 0;
  for (const c of claims) {
    if (c.lease_expires_at === null) fail(`${claimKey(c)}: null lease`);
    if (c.reason !== "lease-expired") continue;
    reaped += 1;
    if (c.status !== "aborted") fail(`${claimKey(c)}: reaped with status ${c.status}`);
    if (!killedOwners.has(c.owner)) fail(`${claimKey(c)}: a live process's claim was reaped (owner ${c.owner})`);
    const reaper = procAt(c.finished_at ?? 0);
    if (!reaper) {
      fail(`${claimKey(c)}: reaped at ${c.finished_at}, when no process was alive`);
      continue;
    }
    const latency = (c.finished_at ?? 0) - reaper.readyAt;
    reapLatencies.push(latency);
    if (latency > 2 * TTL) fail(`${claimKey(c)} of ${c.owner}: reaped ${latency} ms after ${reaper.owner} started (> 2×TTL)`);
  }
  // Every claim a killed process left open was reaped, none finished by anyone else.
  for (const k of kills) {
    for (const c of claims.filter((x) => x.owner === k.owner && x.finished_at !== null && x.finished_at > procs[k.n - 1]!.killedAt)) {
      if (c.reason !== "lease-expired") fail(`${claimKey(c)} of killed ${k.owner}: closed after the kill as ${c.status}/${c.reason}`);
    }
  }

  // 4. No slot ran twice: every host call has its own claim; one logical slot has one key.
  const byRun = new Map(claims.map((c) => [`${c.agent_id}|${c.owner}|${c.run_id}`, c]));
  const served = new Set<string>();
  for (const call of calls) {
    const c = byRun.get(`${call.agentId}|${call.owner}|${call.runId}`);
    if (!c) {
      fail(`host call ${call.agentId} run ${call.runId} of ${call.owner} has no claim (an unclaimed run)`);
      continue;
    }
    if (served.has(claimKey(c))) fail(`claim ${claimKey(c)} served two host calls`);
    served.add(claimKey(c));
  }
  for (let i = 0; i < AGENTS; i++) {
    const slots = claims
      .filter((c) => c.agent_id === `a${i}` && c.slot_key.startsWith("slot:"))
      .map((c) => Number(c.slot_key.slice(5)))
      .sort((a, b) => a - b);
    for (let j = 1; j < slots.length; j++) {
      if (slots[j]! - slots[j - 1]! < CADENCE / 2) fail(`a${i}: slots ${slots[j - 1]} and ${slots[j]} are one slot run twice (${slots[j]! - slots[j - 1]!} ms apart)`);
    }
  }
  // Every process that lived 2.5 s ran every agent (the schedule resumed, none silenced).
  for (const p of procs) {
    if (p.killedAt - p.readyAt < 2_500) continue;
    for (let i = 0; i < AGENTS; i++) {
      if (!calls.some((c) => c.owner === p.owner && c.agentId === `a${i}`)) fail(`${p.owner} lived ${p.killedAt - p.readyAt} ms and never ran a${i}`);
    }
  }
  // The store stayed available throughout.
  for (const e of events) if (e.type === "alert" && e.kind === "store-unavailable") fail(`${e.owner}: store-unavailable (${e.state})`);
  const slotTaken = events.filter((e) => e.type === "run-finished" && e.reason === "slot-taken").length;

  return { kills, reapLatencies, reaped, slotTaken, hostCalls: calls.length, claims: claims.length, failures };
}

afterAll(() => removeTempDirs());

describe("crash tests: a gateway on SQLite, killed with SIGKILL at random points", () => {
  it(`survives ${LANES * KILLS_PER_LANE} kills: clean file, no schedule lost, no slot run twice, killed claims reaped within 2×TTL`, { timeout: 150_000 }, async () => {
    const t0 = Date.now();
    const baseSeed = Number(process.env.CRASH_SEED ?? Date.now() % 100_000);
    console.log(`[crash] seed ${baseSeed} (CRASH_SEED=${baseSeed} replays the kill points)`);
    const results = await Promise.all(Array.from({ length: LANES }, (_, lane) => runLane(lane, baseSeed + lane)));

    const kills = results.flatMap((r) => r.kills);
    const latencies = results.flatMap((r) => r.reapLatencies);
    const summary = {
      seed: baseSeed,
      seconds: Math.round((Date.now() - t0) / 100) / 10,
      kills: kills.length,
      earlyKills: kills.filter((k) => k.early).length,
      midRunKills: kills.filter((k) => k.hostCallsInFlight > 0).length,
      killsWithOpenClaims: kills.filter((k) => k.openClaims > 0).length,
      midWriteKills: kills.filter((k) => k.uncommittedWalFrames > 0).length,
      hostCalls: results.reduce((n, r) => n + r.hostCalls, 0),
      claims: results.reduce((n, r) => n + r.claims, 0),
      reapedClaims: results.reduce((n, r) => n + r.reaped, 0),
      reapLatencyMaxMs: latencies.length ? Math.max(...latencies) : null,
      reapLatencyMeanMs: latencies.length ? Math.round(latencies.reduce((a, b) => a + b, 0) / latencies.length) : null,
      slotTakenRefusals: results.reduce((n, r) => n + r.slotTaken, 0),
      integrityOk: kills.filter((k) => k.integrity === "ok").length,
    };
    console.log(`[crash] summary ${JSON.stringify(summary)}`);

    expect(results.flatMap((r) => r.failures)).toEqual([]);
    expect(kills.length).toBeGreaterThanOrEqual(20);
    expect(summary.midRunKills).toBeGreaterThan(0);
    expect(summary.reapedClaims).toBeGreaterThan(0);
  });
});
