import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { HeartbeatEvent } from "../../src/index.ts";
import type { Plan } from "../../src/sim/host.ts";
import { DEFAULT_REF_POLICY } from "../../src/sim/reference.ts";
import { KNOWN_BUGS, type KnownBug } from "../../src/sim/rules.ts";
import { World } from "../../src/sim/world.ts";

/**
 * Runtime bugs found by the fleet simulator and the property suite, each reduced to a
 * deterministic reproduction on the real runtime (createGateway on the simulated clock).
 *
 * For each bug: a scenario, a check that the scenario really sets the trap (a normal
 * test), and the CORRECT behaviour, marked `it.fails` while the bug is open. The suite
 * stays green; the day a fix lands the `it.fails` test starts failing — then drop the
 * `.fails`, and the bug's entry in src/sim/rules.ts KNOWN_BUGS (the simulator and the
 * property suite then count that bug's symptoms as violations again).
 */

const MIN = 60_000;
const HOUR = 60 * MIN;

type SimWorld = World & { log: HeartbeatEvent[] };

async function world(agents: World["configs"], plan: (agentId: string) => Plan = () => ({ outcome: "ran", durationMs: 0 })): Promise<SimWorld> {
  const log: HeartbeatEvent[] = [];
  const w = new World({ startWall: Date.UTC(2026, 0, 5, 12), agents, refPolicy: DEFAULT_REF_POLICY, plan, tolerateKnown: true, onEvent: (e) => log.push(e) });
  await w.start();
  return Object.assign(w, { log });
}

const carried = (w: SimWorld, reason: string): boolean =>
  w.log.some((e) => (e.type === "run-started" || e.type === "wake-deferred" || e.type === "wake-skipped") && e.reasons.includes(reason));

interface Repro {
  /** Sets the trap; returns the world for the checks. */
  run(): Promise<SimWorld>;
  /** The scenario did what it must to exercise the bug (holds with or without the bug). */
  trap(w: SimWorld): void;
  /** The behaviour the design asks for (fails while the bug is open). */
  correct(w: SimWorld): void;
}

const REPROS: Record<KnownBug, Repro> = {
  "run-ids-not-unique": {
    async run() {
      const w = await world([{ id: "a", every: 30 * MIN }]);
      for (let i = 0; i < 3; i++) {
        w.wake({ reason: "manual", agentId: "a", coalesceMs: 0 }); // runs 1-3, claims run:1..run:3
        await w.clock.advance(MIN);
      }
      await w.reload([{ id: "a", every: 30 * MIN, enabled: false }]);
      await w.reload([{ id: "a", every: 30 * MIN }]); // a fresh actor
      for (let i = 0; i < 3; i++) {
        w.wake({ reason: "manual", agentId: "a", coalesceMs: 0 });
        await w.clock.advance(MIN);
      }
      return w;
    },
    trap: (w) => expect(w.log.filter((e) => e.type === "run-started")).toHaveLength(6),
    correct(w) {
      const ids = w.log.flatMap((e) => (e.type === "run-started" ? [e.runId] : []));
      expect(new Set(ids).size).toBe(ids.length); // bug: ids 1-3 again
      expect(w.host.calls).toHaveLength(6); // bug: 3, the later runs are skipped "slot-taken"
    },
  },
  "wall-jump-collides-interval-claims": {
    async run() {
      const w = await world([{ id: "a", every: 5 * MIN }]);
      await w.clock.advance(2 * HOUR);
      w.jumpWall(-HOUR);
      await w.clock.advance(HOUR);
      return w;
    },
    trap: (w) => expect(w.host.calls.length).toBeGreaterThanOrEqual(23),
    correct: (w) => expect(w.host.calls.length).toBeGreaterThanOrEqual(35), // bug: no host call for the hour after the step
  },
  "repeat-crash-loses-wake": {
    async run() {
      const w = await world([{ id: "a", every: 30 * MIN }]);
      await w.clock.advance(MIN);
      w.lanes.armProbeFailure(2);
      w.wake({ reason: "exec-event", agentId: "a" });
      await w.clock.advance(5 * MIN);
      return w;
    },
    trap: (w) => expect(w.log.filter((e) => e.type === "agent-restarted")).toHaveLength(2),
    correct: (w) => expect(carried(w, "exec-event")).toBe(true), // bug: the wake vanished without a record
  },
  "crash-leaves-run-unaborted": {
    async run() {
      const w = await world([{ id: "a", every: 2 * MIN, runTimeout: 45_000 }], () => ({ outcome: "hang", durationMs: 0 }));
      while (w.host.calls.length === 0) await w.clock.advance(1_000); // the first slot's run hangs
      w.wake({ reason: "manual", agentId: "a", coalesceMs: 0 }); // folded: a follow-up is decided at the timeout
      w.lanes.armProbeFailure(1); // ...and that decision crashes the actor
      await w.clock.advance(MIN);
      return w;
    },
    trap: (w) => expect(w.log.some((e) => e.type === "run-finished" && e.reason === "crashed")).toBe(true),
    correct: (w) => expect(w.host.inFlight("a").length).toBeLessThanOrEqual(1), // bug: the orphaned run and the new one
  },
  "restored-interval-follows-wall": {
    async run() {
      const w = await world([{ id: "a", every: MIN }]);
      await w.clock.advance(5 * MIN);
      await w.stopAndRestart();
      w.jumpWall(-HOUR);
      await w.clock.advance(10 * MIN);
      return w;
    },
    trap: (w) => expect(w.incarnation).toBe(1),
    correct: (w) => expect(w.host.calls.filter((c) => c.incarnation === 1).length).toBeGreaterThanOrEqual(9), // bug: 0, health() ok
  },
  "crash-delays-wake": {
    async run() {
      const w = await world([{ id: "a", every: 30 * MIN }]);
      await w.clock.advance(MIN);
      w.lanes.armProbeFailure(1); // deciding the wake crashes the actor once
      w.wake({ reason: "manual", agentId: "a", coalesceMs: 0 });
      await w.clock.advance(MIN);
      return w;
    },
    trap: (w) => expect(w.log.filter((e) => e.type === "agent-restarted")).toHaveLength(1),
    correct(w) {
      const run = w.log.find((e) => e.type === "run-started" && e.reasons.includes("manual"));
      expect(run?.at).toBe(Date.UTC(2026, 0, 5, 12) + MIN); // bug: at the next sweep, up to 15 s later
    },
  },
  "crash-loses-config-update": {
    async run() {
      const w = await world([{ id: "a", every: MIN }]);
      w.lanes.main = true;
      await w.clock.advance(61_000); // the slot is held: the agent is deferred
      w.lanes.armProbeFailure(1); // the decision after the UPDATE throws
      await w.reload([{ id: "a", every: HOUR }]);
      w.lanes.main = false;
      await w.clock.advance(10 * MIN);
      return w;
    },
    trap: (w) => expect(w.log.filter((e) => e.type === "agent-restarted")).toHaveLength(1),
    correct: (w) => expect(w.host.calls.length).toBeLessThanOrEqual(1), // bug: ~11 runs, still every minute
  },
  "stop-drops-wakes": {
    async run() {
      const w = await world([{ id: "a", every: 30 * MIN }]);
      await w.clock.advance(MIN);
      expect(w.wake({ reason: "manual", agentId: "a" }).accepted).toBe(true); // still coalescing (250 ms)
      await w.stop();
      return w;
    },
    trap: (w) => expect(w.host.calls).toHaveLength(0),
    correct: (w) => expect(carried(w, "manual")).toBe(true), // bug: dropped without a wake-skipped
  },
};

beforeAll(() => void vi.spyOn(console, "warn").mockImplementation(() => {}));
afterAll(() => vi.restoreAllMocks());

describe("known runtime bugs (reproductions; see src/sim/rules.ts)", () => {
  it("every known bug has a reproduction", () => {
    expect(Object.keys(REPROS).sort()).toEqual(Object.keys(KNOWN_BUGS).sort());
  });
  for (const [bug, repro] of Object.entries(REPROS)) {
    it(`${bug}: the reproduction sets the trap`, async () => repro.trap(await repro.run()));
    it.fails(`${bug}: ${KNOWN_BUGS[bug as KnownBug].slice(0, 80)}… (fixed when this fails)`, async () => repro.correct(await repro.run()));
  }
});
