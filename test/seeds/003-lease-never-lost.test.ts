import Database from "better-sqlite3";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { memoryStore } from "../../src/store/memory.ts";
import { sqliteStore } from "../../src/store/sqlite.ts";
import type { ClaimOutcome, HeartbeatStore, RunClaim } from "../../src/store/types.ts";
import { removeTempDirs, tempDbPath } from "../support/temp-db.ts";

/**
 * Seed 003 — "a heartbeat write nulled the lease of a claim, so no reaper could ever expire it".
 *
 * Property, over random sequences of claim / renew (at random times, earlier ones included) /
 * finish / reap / crash (the owning process is dropped and a new one opens: a new epoch) /
 * advance-time operations, against both stores:
 *
 *   (1) while a claim is open its lease_expires_at is never null (nor NaN, nor missing) and
 *       never moves backwards;
 *   (2) a renew takes the lease to max(stored, asked) — extends, never shortens;
 *   (3) reap(now) returns exactly the open claims whose lease <= now, with their lease;
 *   (4) every claim is eventually released or reaped: after time passes every lease and the
 *       reaper runs, nothing is open.
 *
 * How it is observed: for SQLite, (1) reads the run_claim row after every operation through
 * a separate better-sqlite3 connection. For both stores, a model tracks what each lease must
 * be, and (2)-(4) are checked through the port: reap(t) gives a claim back exactly when its
 * stored lease is <= t, and gives its stored leaseExpiresAt.
 *
 * How the seed's bug would fail it: the seed's heartbeat wrote `lease_expires_at = input ?? null`
 * with no input. In SQLite, a renew that writes NULL either trips the NOT NULL column (the
 * operation throws: the property fails at once) or — without that constraint — leaves the row
 * open with a null lease: (1) fails on the row read, and (4) fails because `NULL <= now` is
 * never true, so the reaper never takes it. In the memory store a lease written as undefined
 * becomes NaN (`NaN <= now` is false, never reaped: (3) and (4) fail) and one written as null
 * compares as 0 and is reaped at once, before its time ((3) fails). The last test here runs
 * the same property against a store with exactly the seed's renew and checks that it fails.
 */

const TTL = 3_000;
const T0 = Date.UTC(2026, 0, 5, 12, 0, 0);
const AGENTS = ["a", "b", "c"] as const;
const OUTCOMES: readonly ClaimOutcome[] = ["ran", "skipped", "failed", "timed-out", "aborted"];

type Op =
  | { readonly kind: "claim"; readonly agent: number; readonly slot: number }
  /** Renew claim #pick of the live owner to now + delta (delta may be negative: an earlier time). */
  | { readonly kind: "renew"; readonly pick: number; readonly delta: number }
  /** A renew attempted by a dead (fenced) owner. */
  | { readonly kind: "stale-renew"; readonly pick: number; readonly delta: number }
  | { readonly kind: "finish"; readonly pick: number; readonly outcome: number }
  | { readonly kind: "reap" }
  | { readonly kind: "crash" }
  | { readonly kind: "advance"; readonly ms: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("claim" as const), agent: fc.nat(AGENTS.length - 1), slot: fc.nat(5) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("renew" as const), pick: fc.nat(), delta: fc.integer({ min: -2 * TTL, max: 2 * TTL }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("stale-renew" as const), pick: fc.nat(), delta: fc.integer({ min: -TTL, max: 3 * TTL }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("finish" as const), pick: fc.nat(), outcome: fc.nat(OUTCOMES.length - 1) }) },
  { weight: 2, arbitrary: fc.constant({ kind: "reap" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "crash" as const }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 2 * TTL }) }) },
);

interface Target {
  readonly name: string;
  /** A fresh store; `reopen` is the process after a crash (same data, new handle). */
  create(): { store: HeartbeatStore; reopen(): HeartbeatStore; path?: string };
}

const targets: Target[] = [
  {
    name: "memoryStore()",
    create() {
      const store = memoryStore();
      return { store, reopen: () => store };
    },
  },
  {
    name: "sqliteStore({ path })",
    create() {
      const path = tempDbPath();
      return { store: sqliteStore({ path }), reopen: () => sqliteStore({ path }), path };
    },
  },
];

interface ModelClaim {
  readonly claim: RunClaim;
  /** What the store's lease must be now: the claim's, raised by every accepted renew. */
  lease: number;
  state: "open" | "finished" | "reaped";
}

const keyOf = (agentId: string, slotKey: string): string => `${agentId}/${slotKey}`;

/** Run one sequence; throws (an expect failure) at the first broken invariant. */
async function runSequence(target: Target, ops: readonly Op[]): Promise<void> {
  const made = target.create();
  const handles = new Set<HeartbeatStore>([made.store]);
  let store = made.store;
  let epoch = await store.open("p1");
  let stale: { store: HeartbeatStore; epoch: number } | undefined;
  let proc = 1;
  let now = T0;
  let runId = 0;
  const model = new Map<string, ModelClaim>();
  const peek = made.path === undefined ? undefined : new Database(made.path, { readonly: true });
  const lastSeenLease = new Map<string, number>();
  const rowOf = peek?.prepare<[string, string], { lease_expires_at: number | null; status: string }>(
    `SELECT lease_expires_at, status FROM run_claim WHERE agent_id = ? AND slot_key = ?`,
  );

  const open = (): ModelClaim[] => [...model.values()].filter((m) => m.state === "open");
  const ownOpen = (): ModelClaim[] => open().filter((m) => m.claim.epoch === epoch);
  const pick = <T>(list: readonly T[], n: number): T | undefined => (list.length === 0 ? undefined : list[n % list.length]);

  /** (1) Row-level (SQLite): every open claim has a real lease that never moved backwards. */
  const checkRows = (): void => {
    if (!rowOf) return;
    for (const m of model.values()) {
      const k = keyOf(m.claim.agentId, m.claim.slotKey);
      const row = rowOf.get(m.claim.agentId, m.claim.slotKey);
      expect(row, `row ${k}`).toBeDefined();
      expect(row!.status === "open", `row ${k} status ${row!.status} vs model ${m.state}`).toBe(m.state === "open");
      if (m.state !== "open") continue;
      const lease = row!.lease_expires_at;
      expect(lease, `lease of open claim ${k}`).not.toBeNull();
      expect(Number.isFinite(lease), `lease of open claim ${k} is a finite time`).toBe(true);
      expect(lease, `lease of ${k} as renewed`).toBe(m.lease);
      const before = lastSeenLease.get(k);
      if (before !== undefined) expect(lease!, `lease of ${k} moved backwards`).toBeGreaterThanOrEqual(before);
      lastSeenLease.set(k, lease!);
    }
  };

  /** (3) reap(now) returns exactly the open claims with lease <= now, each with its stored lease. */
  const reapAndCheck = async (reaper: HeartbeatStore): Promise<void> => {
    const expected = open()
      .filter((m) => m.lease <= now)
      .map((m) => ({ ...m.claim, leaseExpiresAt: m.lease }));
    const got = await reaper.reap(now);
    const sort = (l: RunClaim[]) => [...l].sort((x, y) => keyOf(x.agentId, x.slotKey).localeCompare(keyOf(y.agentId, y.slotKey)));
    expect(sort(got), `reap(${now - T0})`).toEqual(sort(expected));
    for (const c of got) model.get(keyOf(c.agentId, c.slotKey))!.state = "reaped";
  };

  try {
    for (const op of ops) {
      switch (op.kind) {
        case "claim": {
          const agentId = AGENTS[op.agent]!;
          const slotKey = `slot:${op.slot}`;
          const claim: RunClaim = { agentId, slotKey, runId: ++runId, owner: `p${proc}`, epoch, claimedAt: now, leaseExpiresAt: now + TTL };
          const result = await store.claim(claim);
          const k = keyOf(agentId, slotKey);
          if (model.has(k)) expect(result, `claim ${k} again`).toEqual({ ok: false, reason: "slot-taken" });
          else {
            expect(result, `claim ${k}`).toEqual({ ok: true });
            model.set(k, { claim, lease: claim.leaseExpiresAt, state: "open" });
          }
          break;
        }
        case "renew": {
          const m = pick(ownOpen(), op.pick);
          if (!m) break;
          const ok = await store.renew(m.claim.agentId, m.claim.slotKey, epoch, now + op.delta);
          expect(ok, "renew of an own open claim").toBe(true);
          m.lease = Math.max(m.lease, now + op.delta); // (2)
          break;
        }
        case "stale-renew": {
          if (!stale) break;
          const m = pick(open().filter((x) => x.claim.epoch === stale!.epoch), op.pick);
          if (!m) break;
          expect(await stale.store.renew(m.claim.agentId, m.claim.slotKey, stale.epoch, now + op.delta), "a fenced renew").toBe(false);
          break;
        }
        case "finish": {
          const m = pick(ownOpen(), op.pick);
          if (!m) break;
          expect(await store.finish(m.claim.agentId, m.claim.slotKey, epoch, OUTCOMES[op.outcome]!, now), "finish").toBe(true);
          m.state = "finished";
          break;
        }
        case "reap":
          await reapAndCheck(store);
          break;
        case "crash": {
          // The process dies holding its claims; a new one opens the same data. The dead one's
          // handle stays around only to try a late (fenced) renew.
          stale = { store, epoch };
          store = made.reopen();
          handles.add(store);
          proc += 1;
          epoch = await store.open(`p${proc}`);
          break;
        }
        case "advance":
          now += op.ms;
          break;
      }
      checkRows();
    }

    // (4) Eventually: time passes every lease (renews reach at most now + 2 TTL), the reaper runs.
    now += 3 * TTL;
    await reapAndCheck(store);
    checkRows();
    expect(open(), "claims still open after every lease passed and the reaper ran").toEqual([]);
    expect(await store.reap(Number.MAX_SAFE_INTEGER), "nothing left for a later reaper").toEqual([]);
    if (peek) {
      const left = peek.prepare<[], { n: number }>(`SELECT count(*) AS n FROM run_claim WHERE status = 'open'`).get();
      expect(left?.n, "open rows in run_claim").toBe(0);
    }
  } finally {
    peek?.close();
    for (const h of handles) await h.close();
  }
}

afterAll(() => removeTempDirs());

describe("seed 003: a lease is never cleared, never shortened, and every claim is released or reaped", () => {
  describe.each(targets)("$name", (target) => {
    it("holds over random claim/renew/finish/reap/crash/advance sequences", async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => runSequence(target, ops)),
        { numRuns: target.name.startsWith("sqlite") ? 30 : 150 },
      );
    });

    it("the seed's scenario: claimed, renewed by heartbeats, the process dies before done — reaped after the lease", async () => {
      await runSequence(target, [
        { kind: "claim", agent: 0, slot: 0 },
        { kind: "advance", ms: TTL / 3 },
        { kind: "renew", pick: 0, delta: TTL },
        { kind: "advance", ms: TTL / 3 },
        { kind: "renew", pick: 0, delta: TTL },
        { kind: "crash" },
        { kind: "stale-renew", pick: 0, delta: 5 * TTL },
        { kind: "advance", ms: TTL - 1 },
        { kind: "reap" },
        { kind: "advance", ms: 1 },
        { kind: "reap" },
      ]);
    });
  });

  it("is not vacuous: it fails against a store whose renew writes no expiry (exactly the seed's heartbeat)", async () => {
    const seedBug: Target = {
      name: "seed-003 renew",
      create() {
        const inner = memoryStore();
        const store: HeartbeatStore = {
          ...inner,
          // The seed: `leaseExpiresAt: input.leaseExpiresAt ?? null`, called with no input.
          renew: (agentId, slotKey, epoch) => inner.renew(agentId, slotKey, epoch, undefined as unknown as number),
        };
        return { store, reopen: () => store };
      },
    };
    const result = await fc.check(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => runSequence(seedBug, ops)),
      { numRuns: 100, seed: 3 },
    );
    expect(result.failed).toBe(true);
    // The shrunk counterexample is the seed itself: a claim, a renew, and the lease is gone.
    const shrunk = result.counterexample?.[0] ?? [];
    expect(shrunk.map((o) => o.kind)).toEqual(expect.arrayContaining(["claim", "renew"]));
  });
});
