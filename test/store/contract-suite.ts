import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { HeartbeatStore, RunClaim, RunRecord, StoredAgentState } from "../../src/store/types.ts";

/**
 * The HeartbeatStore contract, written against the port only (src/store/types.ts), so
 * every store — memory, SQLite, and a Postgres store later — is held to the same rules:
 *
 * - open(owner) takes ownership and returns a new, larger fencing epoch each time;
 * - saveAgents/loadAgents round-trip; saveAgents upserts; deleteAgents removes;
 * - fencing: a write carrying an older epoch than the store's is refused and writes nothing;
 * - claims are unique per (agentId, slotKey), forever (finished or reaped slots stay taken);
 * - renew extends and never clears or shortens a lease (seed 003);
 * - finish closes a claim; a closed claim can be neither renewed nor finished again;
 * - reap(now) returns exactly the open claims whose lease has passed (lease <= now), once;
 * - run history: appendRuns/loadRuns, newest first, bounded per agent, fenced like every write;
 * - close + reopen keeps the data (for the in-memory store: the same instance) and a
 *   reopen takes a new epoch that fences the old one.
 *
 * Every call is awaited: results are MaybePromise, so a networked store fits as it is.
 * The lease a store holds is observed through the port: reap(t) returns a claim, with its
 * stored `leaseExpiresAt`, exactly when that lease is <= t.
 */

export interface StoreFixture {
  /** A fresh store, not yet opened. */
  readonly store: HeartbeatStore;
  /**
   * Another handle on the same data, as a restarted process would get: a new instance for
   * a durable store, the same instance for the in-memory one.
   */
  reopen(): HeartbeatStore;
  /** Remove whatever the fixture created (files). */
  cleanup?(): void | Promise<void>;
}

export type StoreFactory = () => StoreFixture | Promise<StoreFixture>;

export const TTL = 30_000;
const T = Date.UTC(2026, 0, 5, 12, 0, 0);

export function agentState(agentId: string, over: Partial<StoredAgentState> = {}): StoredAgentState {
  return {
    agentId,
    configKey: `cfg:${agentId}`,
    dueAt: T + 60_000,
    lastRunAt: T - 60_000,
    lastRunStartAt: T - 60_000,
    lastStatus: "ran",
    runStarts: [T - 120_000, T - 60_000],
    pending: ["exec-event", "acp:spawn:x"],
    busy: { lane: "session", attempt: 2, since: T - 5_000 },
    floodHeldAt: null,
    runCount: 7,
    skipCount: 2,
    consecutiveZeroWork: 1,
    openAlerts: ["zero-work-streak"],
    timedOut: false,
    paused: null,
    updatedAt: T,
    ...over,
  };
}

export function runClaim(over: Partial<RunClaim> & Pick<RunClaim, "epoch">): RunClaim {
  return {
    agentId: "a",
    slotKey: `slot:${T}`,
    runId: 1,
    owner: "owner-1",
    claimedAt: T,
    leaseExpiresAt: T + TTL,
    ...over,
  };
}

export function runRecord(agentId: string, runId: number, over: Partial<RunRecord> = {}): RunRecord {
  return {
    agentId,
    runId,
    startedAt: T + runId * 60_000,
    finishedAt: T + runId * 60_000 + 1_500,
    durationMs: 1_500,
    status: "ran",
    reasons: ["interval"],
    usage: { inputTokens: 120, outputTokens: 30 },
    reason: null,
    error: null,
    ...over,
  };
}

const byId = (list: readonly StoredAgentState[]): StoredAgentState[] =>
  [...list].sort((a, b) => a.agentId.localeCompare(b.agentId));
const keysOf = (claims: readonly RunClaim[]): string[] => claims.map((c) => `${c.agentId}/${c.slotKey}`).sort();

export function storeContract(factory: StoreFactory): void {
  let fx: StoreFixture;
  let store: HeartbeatStore;
  const handles: HeartbeatStore[] = [];
  /** A second process on the same data. */
  const reopen = (): HeartbeatStore => {
    const h = fx.reopen();
    handles.push(h);
    return h;
  };

  beforeEach(async () => {
    fx = await factory();
    store = fx.store;
    handles.length = 0;
    handles.push(store);
  });
  afterEach(async () => {
    for (const h of new Set(handles)) await h.close();
    await fx.cleanup?.();
  });

  describe("open and the fencing epoch", () => {
    it("names where its data lives", () => {
      expect(typeof store.location).toBe("string");
      expect(store.location.length).toBeGreaterThan(0);
    });

    it("returns a positive integer epoch, larger on every open (same handle or another)", async () => {
      const e1 = await store.open("owner-1");
      expect(Number.isInteger(e1)).toBe(true);
      expect(e1).toBeGreaterThan(0);
      const e2 = await store.open("owner-1");
      expect(e2).toBe(e1 + 1);
      const other = reopen();
      const e3 = await other.open("owner-2");
      expect(e3).toBe(e2 + 1);
    });
  });

  describe("agent state", () => {
    it("starts empty", async () => {
      await store.open("owner-1");
      expect(await store.loadAgents()).toEqual([]);
    });

    it("round-trips every field of every agent", async () => {
      const e = await store.open("owner-1");
      const states = [
        agentState("a"),
        agentState("b", { dueAt: null, lastRunAt: null, lastRunStartAt: null, lastStatus: null, busy: null, pending: [], openAlerts: [] }),
        agentState("c", { lastStatus: "timed-out", timedOut: true, floodHeldAt: T - 1, openAlerts: ["run-timed-out", "flood"] }),
        agentState("d", { paused: { reason: "maintenance", since: T - 30_000 } }),
      ];
      expect(await store.saveAgents(states, e)).toBe(true);
      expect(byId(await store.loadAgents())).toEqual(states);
    });

    it("saveAgents upserts: a later save replaces an agent's state and leaves the others", async () => {
      const e = await store.open("owner-1");
      await store.saveAgents([agentState("a"), agentState("b")], e);
      const a2 = agentState("a", { runCount: 8, dueAt: T + 120_000, pending: [], updatedAt: T + 60_000 });
      expect(await store.saveAgents([a2], e)).toBe(true);
      expect(byId(await store.loadAgents())).toEqual([a2, agentState("b")]);
    });

    it("saving an empty list is a no-op that succeeds", async () => {
      const e = await store.open("owner-1");
      expect(await store.saveAgents([], e)).toBe(true);
      expect(await store.loadAgents()).toEqual([]);
    });

    it("deleteAgents removes exactly the listed agents (unknown ids are ignored)", async () => {
      const e = await store.open("owner-1");
      await store.saveAgents([agentState("a"), agentState("b"), agentState("c")], e);
      expect(await store.deleteAgents(["a", "c", "nope"], e)).toBe(true);
      expect(await store.loadAgents()).toEqual([agentState("b")]);
    });
  });

  describe("fencing: a write with an older epoch than the store's is refused", () => {
    it("saveAgents and deleteAgents from the old owner return false and write nothing", async () => {
      const old = await store.open("owner-1");
      await store.saveAgents([agentState("a")], old);
      const next = reopen();
      const e2 = await next.open("owner-2");
      expect(e2).toBeGreaterThan(old);

      expect(await store.saveAgents([agentState("a", { runCount: 99 }), agentState("z")], old)).toBe(false);
      expect(await store.deleteAgents(["a"], old)).toBe(false);
      expect(await next.loadAgents()).toEqual([agentState("a")]);
      // The new owner writes.
      expect(await next.saveAgents([agentState("a", { runCount: 8 })], e2)).toBe(true);
      expect(await next.loadAgents()).toEqual([agentState("a", { runCount: 8 })]);
    });

    it("claim from the old owner returns { ok: false, reason: 'fenced', currentEpoch } and claims nothing", async () => {
      const old = await store.open("owner-1");
      const next = reopen();
      const e2 = await next.open("owner-2");
      expect(await store.claim(runClaim({ epoch: old }))).toEqual({ ok: false, reason: "fenced", currentEpoch: e2 });
      // Nothing was claimed: the new owner can take the slot.
      expect(await next.claim(runClaim({ epoch: e2, owner: "owner-2" }))).toEqual({ ok: true });
    });

    it("renew and finish from the old owner return false; its claim keeps its lease, stays open and is reaped", async () => {
      const old = await store.open("owner-1");
      expect(await store.claim(runClaim({ epoch: old }))).toEqual({ ok: true });
      const next = reopen();
      await next.open("owner-2");

      expect(await store.renew("a", `slot:${T}`, old, T + 10 * TTL)).toBe(false);
      expect(await store.finish("a", `slot:${T}`, old, "ran", T + 1_000)).toBe(false);
      // Still open with the original lease: not reaped a moment before it, reaped at it.
      expect(await next.reap(T + TTL - 1)).toEqual([]);
      expect(await next.reap(T + TTL)).toEqual([runClaim({ epoch: old })]);
    });

    it("the current epoch is never fenced, whichever handle writes", async () => {
      await store.open("owner-1");
      const e2 = await store.open("owner-1");
      expect(await store.saveAgents([agentState("a")], e2)).toBe(true);
      expect(await store.claim(runClaim({ epoch: e2 }))).toEqual({ ok: true });
      expect(await store.renew("a", `slot:${T}`, e2, T + 2 * TTL)).toBe(true);
      expect(await store.finish("a", `slot:${T}`, e2, "ran", T + 1_000)).toBe(true);
    });
  });

  describe("claims: unique per (agentId, slotKey)", () => {
    it("a second claim on the same slot is 'slot-taken', from any owner or epoch", async () => {
      const e1 = await store.open("owner-1");
      expect(await store.claim(runClaim({ epoch: e1 }))).toEqual({ ok: true });
      expect(await store.claim(runClaim({ epoch: e1, runId: 2 }))).toEqual({ ok: false, reason: "slot-taken" });
      const next = reopen();
      const e2 = await next.open("owner-2");
      expect(await next.claim(runClaim({ epoch: e2, owner: "owner-2", runId: 9 }))).toEqual({ ok: false, reason: "slot-taken" });
    });

    it("another slot of the same agent, or the same slot of another agent, is free", async () => {
      const e = await store.open("owner-1");
      expect(await store.claim(runClaim({ epoch: e }))).toEqual({ ok: true });
      expect(await store.claim(runClaim({ epoch: e, slotKey: `slot:${T + 60_000}`, runId: 2 }))).toEqual({ ok: true });
      expect(await store.claim(runClaim({ epoch: e, agentId: "b" }))).toEqual({ ok: true });
    });

    it("a finished slot stays taken (a slot runs at most once)", async () => {
      const e = await store.open("owner-1");
      await store.claim(runClaim({ epoch: e }));
      expect(await store.finish("a", `slot:${T}`, e, "ran", T + 1_000)).toBe(true);
      expect(await store.claim(runClaim({ epoch: e, runId: 2, claimedAt: T + 2_000 }))).toEqual({ ok: false, reason: "slot-taken" });
    });

    it("a reaped slot stays taken too (the next run is the agent's next slot)", async () => {
      const e = await store.open("owner-1");
      await store.claim(runClaim({ epoch: e }));
      expect(await store.reap(T + TTL)).toHaveLength(1);
      expect(await store.claim(runClaim({ epoch: e, runId: 2, claimedAt: T + TTL }))).toEqual({ ok: false, reason: "slot-taken" });
    });
  });

  describe("renew: extends, never clears or shortens (seed 003)", () => {
    it("extends the lease: the claim is reaped at the new expiry, not the old one", async () => {
      const e = await store.open("owner-1");
      await store.claim(runClaim({ epoch: e }));
      expect(await store.renew("a", `slot:${T}`, e, T + 2 * TTL)).toBe(true);
      expect(await store.reap(T + TTL)).toEqual([]);
      expect(await store.reap(T + 2 * TTL - 1)).toEqual([]);
      expect(await store.reap(T + 2 * TTL)).toEqual([runClaim({ epoch: e, leaseExpiresAt: T + 2 * TTL })]);
    });

    it("a renew to an earlier time keeps the later expiry (and is not a failure)", async () => {
      const e = await store.open("owner-1");
      await store.claim(runClaim({ epoch: e }));
      await store.renew("a", `slot:${T}`, e, T + 3 * TTL);
      expect(await store.renew("a", `slot:${T}`, e, T + 2 * TTL)).toBe(true);
      expect(await store.renew("a", `slot:${T}`, e, T + 1)).toBe(true);
      expect(await store.renew("a", `slot:${T}`, e, T - TTL)).toBe(true);
      expect(await store.reap(T + 3 * TTL - 1)).toEqual([]);
      expect(await store.reap(T + 3 * TTL)).toEqual([runClaim({ epoch: e, leaseExpiresAt: T + 3 * TTL })]);
    });

    it("renewing to the current expiry changes nothing", async () => {
      const e = await store.open("owner-1");
      await store.claim(runClaim({ epoch: e }));
      expect(await store.renew("a", `slot:${T}`, e, T + TTL)).toBe(true);
      expect(await store.reap(T + TTL - 1)).toEqual([]);
      expect(await store.reap(T + TTL)).toEqual([runClaim({ epoch: e })]);
    });

    it("an unknown claim cannot be renewed", async () => {
      const e = await store.open("owner-1");
      expect(await store.renew("a", "slot:nope", e, T + TTL)).toBe(false);
      expect(await store.renew("nobody", `slot:${T}`, e, T + TTL)).toBe(false);
    });

    it("a claim cannot be renewed by a newer owner either (only its own epoch renews it)", async () => {
      const old = await store.open("owner-1");
      await store.claim(runClaim({ epoch: old }));
      const e2 = await store.open("owner-2");
      expect(await store.renew("a", `slot:${T}`, e2, T + 5 * TTL)).toBe(false);
      expect(await store.reap(T + TTL)).toEqual([runClaim({ epoch: old })]);
    });

    // A lease that is not a finite time is one no reaper can ever expire (seed 003 by another road):
    // the store refuses it — by throwing or by answering "no" — and the stored lease stays as it was.
    const refused = async (fn: () => unknown): Promise<boolean> => {
      try {
        const r = await fn();
        return r === false || (typeof r === "object" && r !== null && (r as { ok?: unknown }).ok === false);
      } catch {
        return true;
      }
    };

    it.each([
      ["NaN", Number.NaN],
      ["Infinity", Number.POSITIVE_INFINITY],
    ])("a claim whose lease is %s is refused, and nothing is left open that no reaper can expire", async (_n, lease) => {
      const e = await store.open("owner-1");
      expect(await refused(() => store.claim(runClaim({ epoch: e, leaseExpiresAt: lease })))).toBe(true);
      expect(await store.reap(Number.MAX_SAFE_INTEGER)).toEqual([]);
      // ...and the slot was not taken by the refused claim.
      expect(await store.claim(runClaim({ epoch: e }))).toEqual({ ok: true });
    });

    it.each([
      ["NaN", Number.NaN],
      ["Infinity", Number.POSITIVE_INFINITY],
      ["undefined (the seed's heartbeat passed no expiry)", undefined as unknown as number],
      ["null", null as unknown as number],
    ])("a renew to %s keeps the stored lease: the claim is still reaped when it passes", async (_n, lease) => {
      const e = await store.open("owner-1");
      await store.claim(runClaim({ epoch: e }));
      await refused(() => store.renew("a", `slot:${T}`, e, lease));
      expect(await store.reap(T + TTL - 1)).toEqual([]);
      expect(await store.reap(T + TTL)).toEqual([runClaim({ epoch: e })]);
    });
  });

  describe("finish: closes the claim with its outcome", () => {
    it("finish returns true once; renew or finish after it return false; it is never reaped", async () => {
      const e = await store.open("owner-1");
      await store.claim(runClaim({ epoch: e }));
      expect(await store.finish("a", `slot:${T}`, e, "ran", T + 1_000)).toBe(true);
      expect(await store.finish("a", `slot:${T}`, e, "failed", T + 2_000)).toBe(false);
      expect(await store.renew("a", `slot:${T}`, e, T + 2 * TTL)).toBe(false);
      expect(await store.reap(T + 10 * TTL)).toEqual([]);
    });

    it.each(["ran", "skipped", "failed", "timed-out", "aborted"] as const)("accepts the outcome %s", async (outcome) => {
      const e = await store.open("owner-1");
      await store.claim(runClaim({ epoch: e }));
      expect(await store.finish("a", `slot:${T}`, e, outcome, T + 1_000)).toBe(true);
    });

    it("an unknown claim cannot be finished", async () => {
      const e = await store.open("owner-1");
      expect(await store.finish("a", "slot:nope", e, "ran", T)).toBe(false);
    });
  });

  describe("reap: expires the open claims whose lease has passed", () => {
    it("returns exactly the expired open claims (lease <= now), with their stored fields", async () => {
      const e = await store.open("owner-1");
      const c1 = runClaim({ epoch: e, agentId: "a", slotKey: "s1", runId: 1, leaseExpiresAt: T + 1_000 });
      const c2 = runClaim({ epoch: e, agentId: "b", slotKey: "s1", runId: 1, leaseExpiresAt: T + 2_000 });
      const c3 = runClaim({ epoch: e, agentId: "a", slotKey: "s2", runId: 2, leaseExpiresAt: T + 3_000 });
      const c4 = runClaim({ epoch: e, agentId: "c", slotKey: "s1", runId: 1, leaseExpiresAt: T + 500 });
      for (const c of [c1, c2, c3, c4]) expect(await store.claim(c)).toEqual({ ok: true });
      await store.finish("c", "s1", e, "ran", T + 100); // finished: never reaped

      expect(await store.reap(T + 999)).toEqual([]);
      expect(await store.reap(T + 2_000)).toEqual(expect.arrayContaining([c1, c2]));
      expect(await store.reap(T + 2_000)).toEqual([]); // not twice
      expect(await store.reap(T + 10_000)).toEqual([c3]);
      expect(await store.reap(T + 20_000)).toEqual([]);
    });

    it("reaps claims of any owner and epoch (the killed process's)", async () => {
      const old = await store.open("owner-1");
      await store.claim(runClaim({ epoch: old, owner: "owner-1" }));
      const next = reopen();
      await next.open("owner-2");
      expect(await next.reap(T + TTL)).toEqual([runClaim({ epoch: old, owner: "owner-1" })]);
    });

    it("a reaped claim can be neither renewed nor finished", async () => {
      const e = await store.open("owner-1");
      await store.claim(runClaim({ epoch: e }));
      expect(await store.reap(T + TTL)).toHaveLength(1);
      expect(await store.renew("a", `slot:${T}`, e, T + 5 * TTL)).toBe(false);
      expect(await store.finish("a", `slot:${T}`, e, "ran", T + TTL + 1)).toBe(false);
      expect(await store.reap(T + 10 * TTL)).toEqual([]);
    });

    it("reaping with nothing open returns an empty list", async () => {
      await store.open("owner-1");
      expect(await store.reap(T)).toEqual([]);
    });
  });

  describe("run history", () => {
    it("loadRuns gives an agent's runs newest first, at most `limit`, every field as appended", async () => {
      const e = await store.open("owner-1");
      const runs = [
        runRecord("a", 1),
        runRecord("b", 1),
        runRecord("a", 2, { status: "failed", error: "boom", usage: null }),
        runRecord("a", 3, { status: "aborted", reason: "lease-expired", reasons: [], usage: null }),
      ];
      expect(await store.appendRuns(runs, e, 100)).toBe(true);
      expect(await store.loadRuns("a", 10)).toEqual([runs[3], runs[2], runs[0]]);
      expect(await store.loadRuns("a", 2)).toEqual([runs[3], runs[2]]);
      expect(await store.loadRuns("b", 10)).toEqual([runs[1]]);
      expect(await store.loadRuns("nobody", 10)).toEqual([]);
    });

    it("keeps the newest `keepPerAgent` runs of each agent", async () => {
      const e = await store.open("owner-1");
      for (let i = 1; i <= 5; i++) await store.appendRuns([runRecord("a", i), runRecord("b", i)], e, 3);
      expect((await store.loadRuns("a", 100)).map((r) => r.runId)).toEqual([5, 4, 3]);
      expect((await store.loadRuns("b", 100)).map((r) => r.runId)).toEqual([5, 4, 3]);
    });

    it("an older epoch's appendRuns is refused and writes nothing", async () => {
      const old = await store.open("owner-1");
      const next = reopen();
      const e2 = await next.open("owner-2");
      expect(await store.appendRuns([runRecord("a", 1)], old, 100)).toBe(false);
      expect(await next.loadRuns("a", 100)).toEqual([]);
      expect(await next.appendRuns([runRecord("a", 1)], e2, 100)).toBe(true);
    });
  });

  describe("close and reopen", () => {
    it("keeps agent state and claims; the reopened store takes a new epoch that fences the old one", async () => {
      const e1 = await store.open("owner-1");
      await store.saveAgents([agentState("a"), agentState("b")], e1);
      await store.appendRuns([runRecord("a", 1)], e1, 100);
      await store.claim(runClaim({ epoch: e1 })); // open, as a killed run leaves it
      await store.claim(runClaim({ epoch: e1, agentId: "b", slotKey: "done" }));
      await store.finish("b", "done", e1, "ran", T + 1_000);
      await store.close();

      const again = reopen();
      const e2 = await again.open("owner-2");
      expect(e2).toBeGreaterThan(e1);
      expect(byId(await again.loadAgents())).toEqual([agentState("a"), agentState("b")]);
      expect(await again.loadRuns("a", 10)).toEqual([runRecord("a", 1)]);
      // Both slots are still taken; the open one is still open and is reaped at its lease.
      expect(await again.claim(runClaim({ epoch: e2, owner: "owner-2" }))).toEqual({ ok: false, reason: "slot-taken" });
      expect(await again.claim(runClaim({ epoch: e2, owner: "owner-2", agentId: "b", slotKey: "done" }))).toEqual({
        ok: false,
        reason: "slot-taken",
      });
      expect(await again.saveAgents([agentState("c")], e1)).toBe(false);
      expect(await again.reap(T + TTL)).toEqual([runClaim({ epoch: e1 })]);
    });

    it("close is idempotent", async () => {
      await store.open("owner-1");
      await store.close();
      await store.close();
    });
  });
}
