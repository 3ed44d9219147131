import Database from "better-sqlite3";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { StoreError } from "../../src/errors.ts";
import type { HeartbeatEvent } from "../../src/events.ts";
import { phaseOffset } from "../../src/policy/phase.ts";
import { sqliteStore } from "../../src/store/sqlite.ts";
import type { HeartbeatStore } from "../../src/store/types.ts";
import { advance, useFakeTime } from "../support/fake-time.ts";
import { MIN, SEC, settle, startGateway, stopAllGateways, T0, TestHost, WORK, ZERO, type Harness, type HarnessOptions } from "../support/gateway.ts";
import { claimRows, removeTempDirs, storedStates, tempDbPath, tempDir } from "../support/temp-db.ts";

/**
 * createGateway on sqliteStore, on fake time: what a restart keeps (the schedule, its
 * phase, counters, held wakes, open alerts), what a missed slot does after one (runs
 * once), run claims in the file while a run is alive, a store that cannot be opened or
 * fails on writes (store-unavailable, one episode, resumes), and a second gateway on the
 * same file fencing the first.
 *
 * A "crash" on fake time is `crash()`: the old gateway's timers never fire again and its
 * held host calls never settle, as if the process had been killed; its connection stays
 * open but idle (WAL: it blocks nobody).
 */

beforeEach(() => useFakeTime(T0));
afterEach(async () => {
  await stopAllGateways();
  vi.useRealTimers();
});
afterAll(() => removeTempDirs());

const on = (path: string, options: HarnessOptions): Harness =>
  startGateway({ leaseTtl: "3s", ...options, store: options.store ?? sqliteStore({ path }) });
const now = (): number => Date.now();
/**
 * SIGKILL on fake time: every pending timer of the old gateway is dropped (and the fake
 * monotonic clock starts again from 0, as a new process's does); wall time goes on.
 */
const crash = (): void => {
  const wall = Date.now();
  vi.clearAllTimers();
  vi.setSystemTime(wall);
};
const storeAlerts = (h: Harness): Extract<HeartbeatEvent, { type: "alert" }>[] => h.of("alert", "*").filter((e) => e.kind === "store-unavailable");

describe("a restart resumes from the stored state", () => {
  it("keeps nextDueAt, runCount and the phase: the next run comes at the stored slot, not at a new phase", async () => {
    const path = tempDbPath();
    const agents = [{ id: "alpha", every: "1m" }];
    const h1 = on(path, { agents });
    await advance(3 * MIN + 10 * SEC);
    const before = h1.agent("alpha");
    expect(before.runCount).toBe(3);
    const due = before.nextDueAt!;
    await h1.gw.stop();
    expect(storedStates(path).get("alpha")).toMatchObject({ dueAt: due, runCount: 3 });

    // Down for 7 s (less than a cadence), then a new process on the same file.
    await advance(7 * SEC);
    const restartedAt = now();
    const h2 = on(path, { agents });
    await settle();
    expect(h2.agent("alpha")).toMatchObject({ nextDueAt: due, runCount: 3, state: "idle" });
    // A new phase would put the next run here; the stored one is elsewhere.
    expect(restartedAt + phaseOffset("alpha", MIN)).not.toBe(due);

    await advance(due - now() + 2 * MIN + 1);
    const starts = h2.of("run-started", "alpha").map((e) => e.at);
    expect(starts).toEqual([due, due + MIN, due + 2 * MIN]);
    expect(h2.agent("alpha").runCount).toBe(6);
  });

  it("a slot missed while down (5 cadences) runs exactly once after restart — never a backfill — then the cadence goes on", async () => {
    const path = tempDbPath();
    const agents = [{ id: "beta", every: "1m" }];
    const h1 = on(path, { agents });
    await advance(2 * MIN + 5 * SEC);
    const due = h1.agent("beta").nextDueAt!;
    await h1.gw.stop();

    await advance(5 * MIN);
    expect(now()).toBeGreaterThan(due + 4 * MIN);
    const restartedAt = now();
    const h2 = on(path, { agents });
    await advance(30 * SEC);
    expect(h2.of("run-started", "beta")).toHaveLength(1);
    expect(h2.of("run-started", "beta")[0]!.at - restartedAt).toBeLessThan(SEC);
    await advance(3 * MIN);
    const starts = h2.of("run-started", "beta").map((e) => e.at - restartedAt);
    expect(starts).toHaveLength(4);
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBe(MIN);
    expect(h2.of("wake-deferred", "beta")).toEqual([]);
  });

  it("held (deferred) event wakes survive the restart and are folded into the next run's reasons", async () => {
    const path = tempDbPath();
    const agents = [{ id: "gamma", every: "10m" }];
    const h1 = on(path, { agents });
    await advance(10 * MIN + 1);
    expect(h1.agent("gamma").runCount).toBe(1);
    h1.gw.requestWake({ reason: "exec-event", agentId: "gamma" });
    h1.gw.requestWake({ reason: "acp:spawn:child-7", agentId: "gamma" });
    await advance(2 * SEC);
    expect(h1.of("wake-deferred", "gamma").length).toBeGreaterThan(0);
    expect(h1.agent("gamma").pendingReasons).toEqual(["exec-event", "acp:spawn:child-7"]);
    const due = h1.agent("gamma").nextDueAt!;
    await h1.gw.stop();
    expect(storedStates(path).get("gamma")?.pending).toEqual(["exec-event", "acp:spawn:child-7"]);

    await advance(MIN);
    const host = new TestHost();
    const h2 = on(path, { agents, host });
    await settle();
    expect(h2.agent("gamma").pendingReasons).toEqual(["exec-event", "acp:spawn:child-7"]);
    expect(host.calls).toHaveLength(0); // still held: not run at restart
    await advance(due - now() + SEC);
    expect(host.calls).toHaveLength(1);
    expect(host.calls[0]!.at).toBe(due);
    expect(host.calls[0]!.ctx.reasons).toEqual(expect.arrayContaining(["exec-event", "acp:spawn:child-7"]));
    expect(h2.agent("gamma").pendingReasons).toEqual([]);
  });

  it("open alerts survive: an alert open at stop is open after restart (health, ok false) and resolves when its episode ends", async () => {
    const path = tempDbPath();
    const agents = [{ id: "delta", every: "1m" }];
    const h1 = on(path, { agents, host: new TestHost().set("delta", ZERO) });
    await advance(3 * MIN + 5 * SEC);
    expect(h1.alertTrail("zero-work-streak", "delta")).toEqual(["open"]);
    await h1.gw.stop();
    expect(storedStates(path).get("delta")?.openAlerts).toEqual(["zero-work-streak"]);

    const h2 = on(path, { agents, host: new TestHost().set("delta", WORK) });
    await settle();
    expect(h2.gw.health().alerts).toEqual([expect.objectContaining({ agentId: "delta", kind: "zero-work-streak" })]);
    expect(h2.gw.health().ok).toBe(false);
    await advance(MIN);
    expect(h2.alertTrail("zero-work-streak", "delta")).toEqual(["resolved"]);
    expect(h2.gw.health().ok).toBe(true);
  });

  it("an alert open while a run is in flight at stop survives too (the aborted run's final write keeps it)", async () => {
    const path = tempDbPath();
    const agents = [{ id: "eps", every: "1m" }];
    let n = 0;
    const host = new TestHost().set("eps", (ctx) => (++n <= 3 ? Promise.resolve(ZERO) : new Promise(() => void ctx)));
    const h1 = on(path, { agents, host });
    await advance(4 * MIN + 5 * SEC);
    expect(h1.alertTrail("zero-work-streak", "eps")).toEqual(["open"]);
    expect(h1.agent("eps").state).toBe("running");
    await h1.gw.stop();
    expect(storedStates(path).get("eps")?.openAlerts).toEqual(["zero-work-streak"]);
  });
});

describe("run claims in the file", () => {
  it("a run's claim is open while it runs, its lease renewed every TTL/3 (increasing), and finished with the run's status", async () => {
    const path = tempDbPath();
    const host = new TestHost().set("r", "hold");
    const h = on(path, { agents: [{ id: "r", every: "1m" }], host, leaseTtl: "3s" });
    await advance(phaseOffset("r", MIN), 250);
    expect(host.open("r")).toHaveLength(1);
    const startedAt = h.of("run-started", "r")[0]!.at;
    const rows = () => claimRows(path).filter((r) => r.agent_id === "r");
    expect(rows()).toEqual([
      expect.objectContaining({ status: "open", lease_expires_at: startedAt + 3 * SEC, claimed_at: startedAt, run_id: 1 }),
    ]);
    const leases: number[] = [];
    for (let i = 0; i < 6; i++) {
      await advance(SEC, SEC);
      const row = rows()[0]!;
      expect(row.status).toBe("open");
      expect(row.lease_expires_at).not.toBeNull();
      leases.push(row.lease_expires_at!);
    }
    // Renewed every TTL/3 = 1 s to now + TTL: strictly increasing, always ahead of now.
    for (let i = 1; i < leases.length; i++) expect(leases[i]!).toBeGreaterThan(leases[i - 1]!);
    expect(leases.at(-1)!).toBeGreaterThan(now());
    expect(h.of("run-finished", "r")).toEqual([]); // the reaper never took the live run

    host.open("r")[0]!.resolve(WORK);
    await settle();
    expect(rows()[0]).toMatchObject({ status: "ran", finished_at: now() });
  });

  it("a timed-out run's claim is finished 'timed-out'", async () => {
    const path = tempDbPath();
    const host = new TestHost().set("t", "hold");
    on(path, { agents: [{ id: "t", every: "1m", runTimeout: "10s" }], host });
    await advance(MIN + 11 * SEC);
    expect(claimRows(path).filter((r) => r.agent_id === "t")[0]).toMatchObject({ status: "timed-out" });
  });

  it("a crashed process's open claim is reaped (aborted, lease-expired) by the next process within 2×TTL; its slot never runs again", async () => {
    const path = tempDbPath();
    const agents = [{ id: "k", every: "1m" }];
    const host1 = new TestHost().set("k", "hold");
    on(path, { agents, host: host1, leaseTtl: "3s" });
    await advance(MIN + 2 * SEC);
    expect(host1.open("k")).toHaveLength(1);
    const killed = claimRows(path).find((r) => r.agent_id === "k" && r.status === "open")!;
    expect(killed).toBeDefined();
    crash();

    const restartedAt = now();
    const host2 = new TestHost();
    const h2 = on(path, { agents, host: host2, leaseTtl: "3s" });
    await advance(6 * SEC, 250);
    const reaped = h2.of("run-finished", "k").find((e) => e.reason === "lease-expired");
    expect(reaped).toMatchObject({ status: "aborted", runId: killed.run_id });
    expect(reaped!.at - restartedAt).toBeLessThanOrEqual(2 * 3 * SEC);
    expect(claimRows(path).find((r) => r.slot_key === killed.slot_key)).toMatchObject({ status: "aborted", reason: "lease-expired" });

    // The next slot runs on the new process; the killed slot is never run again.
    await advance(2 * MIN);
    const slots = claimRows(path).filter((r) => r.agent_id === "k").map((r) => r.slot_key);
    expect(new Set(slots).size).toBe(slots.length);
    expect(host2.calls.length).toBeGreaterThanOrEqual(2);
  });

  it("after a crash mid wake-driven run, the next wake-driven run on the new process is not refused as 'slot-taken'", async () => {
    const path = tempDbPath();
    const agents = [{ id: "w", every: "1h" }];
    const host1 = new TestHost().set("w", "hold");
    const h1 = on(path, { agents, host: host1 });
    h1.gw.requestWake({ reason: "manual", agentId: "w", coalesceMs: 0 });
    await advance(SEC);
    expect(host1.open("w")).toHaveLength(1);
    crash(); // mid-run

    const host2 = new TestHost();
    const h2 = on(path, { agents, host: host2 });
    await advance(10 * SEC); // the old claim is reaped meanwhile
    h2.gw.requestWake({ reason: "manual", agentId: "w", coalesceMs: 0 });
    await advance(SEC);
    expect(h2.of("run-finished", "w").filter((e) => e.reason === "slot-taken")).toEqual([]);
    expect(host2.calls).toHaveLength(1);
    const rows = claimRows(path).filter((r) => r.agent_id === "w");
    expect(rows.map((r) => r.status).sort()).toEqual(["aborted", "ran"]);
  });
});

describe("a store that is unavailable", () => {
  it("cannot be opened (a path under a regular file): the gateway runs in memory, raises one store-unavailable alert naming the file, health().ok false", async () => {
    const file = join(tempDir(), "plain-file");
    writeFileSync(file, "not a folder");
    const path = join(file, "state.db");
    const host = new TestHost();
    const h = on(path, { agents: [{ id: "m", every: "1m" }, { id: "n", every: "2m" }], host });
    await advance(10 * MIN);
    const alerts = storeAlerts(h);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ state: "open", agentId: "*" });
    expect(alerts[0]!.message).toContain(path);
    const health = h.gw.health();
    expect(health.ok).toBe(false);
    expect(health.alerts).toEqual([expect.objectContaining({ kind: "store-unavailable", agentId: "*" })]);
    // ...and the heartbeats go on, in memory.
    expect(h.agent("m").runCount).toBe(10);
    expect(h.agent("n").runCount).toBe(5);
  });

  it("locked at start, free later: the gateway opens it when it is back, resolves the alert and persists", async () => {
    const path = tempDbPath();
    const setup = sqliteStore({ path });
    setup.open("setup");
    setup.close();
    const other = new Database(path);
    other.exec("BEGIN IMMEDIATE");
    const h = on(path, { agents: [{ id: "l", every: "1m" }], store: sqliteStore({ path, busyTimeoutMs: 10 }) });
    await settle();
    expect(storeAlerts(h).map((e) => e.state)).toEqual(["open"]);
    other.exec("ROLLBACK");
    other.close();
    await advance(5 * MIN);
    expect(storeAlerts(h).map((e) => e.state)).toEqual(["open", "resolved"]);
    expect(storedStates(path).get("l")).toMatchObject({ runCount: h.agent("l").runCount });
  });

  /** sqliteStore whose saveAgents throws a StoreError the next `n` times it is called (every other method passes through). */
  function failingSaves(path: string): { store: HeartbeatStore; failNext(n: number): void; saves: { ok: number; failed: number } } {
    const inner = sqliteStore({ path });
    let left = 0;
    const saves = { ok: 0, failed: 0 };
    const saveAgents: HeartbeatStore["saveAgents"] = (states, epoch) => {
      if (left > 0) {
        left -= 1;
        saves.failed += 1;
        throw new StoreError(inner.location, "saving agents failed: the disk is full");
      }
      saves.ok += 1;
      return inner.saveAgents(states, epoch);
    };
    const store = new Proxy(inner, { get: (target, prop, receiver) => (prop === "saveAgents" ? saveAgents : Reflect.get(target, prop, receiver)) });
    return { store, failNext: (n) => (left = n), saves };
  }

  it("fails on writes, then recovers: resolves the alert and persists the state written while it was down", async () => {
    const path = tempDbPath();
    const f = failingSaves(path);
    const h = on(path, { agents: [{ id: "s", every: "1m" }], store: f.store });
    await settle();
    f.failNext(4);
    await advance(3 * MIN);
    expect(f.saves.failed).toBe(4);
    const trail = storeAlerts(h).map((e) => e.state);
    expect(trail[0]).toBe("open");
    expect(trail.at(-1)).toBe("resolved");
    expect(storeAlerts(h).find((e) => e.state === "open")!.message).toContain(path);
    expect(h.gw.health().ok).toBe(true);
    // Everything the runs changed while the store was down reached the file.
    const live = h.agent("s");
    expect(live.runCount).toBe(3);
    expect(storedStates(path).get("s")).toMatchObject({ runCount: 3, dueAt: live.nextDueAt });
  });

  it("one episode: while saves keep failing, a successful claim or finish does not resolve store-unavailable", async () => {
    const path = tempDbPath();
    const f = failingSaves(path);
    const h = on(path, { agents: [{ id: "s", every: "1m" }], store: f.store });
    await settle();
    f.failNext(4);
    await advance(3 * MIN);
    expect(f.saves.failed).toBe(4);
    expect(storeAlerts(h).map((e) => e.state)).toEqual(["open", "resolved"]);
    // Resolved only once the state was written again.
    const resolvedAt = storeAlerts(h)[1]!.at;
    expect(f.saves.ok).toBeGreaterThan(0);
    expect(resolvedAt).toBeGreaterThan(storeAlerts(h)[0]!.at + 7 * SEC); // after the 1 s, 2 s, 4 s retries
  });
});

describe("two gateways on one file (a stale process and its successor)", () => {
  it("the second one's open fences the first: its writes are refused, it raises store-unavailable and runs nothing more", async () => {
    const path = tempDbPath();
    const agents = [{ id: "x", every: "1m" }];
    const host1 = new TestHost();
    const h1 = on(path, { agents, host: host1 });
    await advance(MIN + SEC);
    expect(host1.calls).toHaveLength(1);
    const storedBefore = storedStates(path).get("x");

    const host2 = new TestHost();
    const h2 = on(path, { agents, host: host2 });
    await advance(5 * MIN);
    // The stale gateway: fenced on every write, says so once, and never calls its host again.
    const trail = storeAlerts(h1).map((e) => e.state);
    expect(trail[0]).toBe("open");
    expect(storeAlerts(h1)[0]!.message).toMatch(/fenced|epoch/);
    expect(host1.calls).toHaveLength(1);
    expect(h1.of("run-finished", "x").filter((e) => e.reason === "fenced").length).toBeGreaterThan(0);
    // Its state writes never landed: the file holds the successor's view.
    expect(storedStates(path).get("x")).toMatchObject({ runCount: h2.agent("x").runCount });
    expect(storedStates(path).get("x")?.runCount).toBeGreaterThan(storedBefore?.runCount ?? 0);
    // The successor is healthy and runs.
    expect(storeAlerts(h2)).toEqual([]);
    expect(host2.calls.length).toBeGreaterThanOrEqual(4);
  });

  it("the stale gateway's store-unavailable alert stays open while it is fenced (no open/resolved flapping)", async () => {
    const path = tempDbPath();
    const agents = [{ id: "x", every: "1m" }];
    const h1 = on(path, { agents });
    await advance(MIN + SEC);
    on(path, { agents });
    await advance(5 * MIN);
    expect(storeAlerts(h1).map((e) => e.state)).toEqual(["open"]);
    expect(h1.gw.health().ok).toBe(false);
  });
});
