import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { carried, HOUR, MIN, world, type Repro } from "../support/sim-repro.ts";

/**
 * Runtime bugs the fleet simulator found and that are fixed: their reproductions from
 * known-bugs.test.ts, now regression tests (the trap is still set; the behaviour is right).
 *  - wall-jump-collides-interval-claims: an interval slot's claim key was its due time as
 *    wall time; after the wall clock stepped back, new slots got the keys of slots that had
 *    run and were skipped 'slot-taken' for the length of the step, with no alert. Interval
 *    runs now claim themselves (`run:<epoch>:<id>`); cron slots keep wall keys (a cron slot
 *    is a wall instant every process agrees on).
 *  - crash-leaves-run-unaborted: an actor that crashed with a run in flight left the host's
 *    run going (nothing aborted its signal) while the restarted actor started the next one.
 *    The supervisor now aborts it through the gateway's run registry.
 *  - stop-drops-wakes: stop() dropped wakes still coalescing, and removing or disabling an
 *    agent dropped the wakes folded into its run, without a wake-skipped. Both are recorded.
 *  - run-ids-not-unique: an agent disabled then enabled (or removed and added back) got a
 *    fresh actor whose run ids started again at 1; its wake-driven runs claimed keys the
 *    earlier runs still held and were skipped 'slot-taken'. The supervisor keeps every
 *    stopped agent's last run id and a new actor continues from it.
 *  - repeat-crash-loses-wake / crash-delays-wake: a wake whose decision crashed the actor
 *    was re-sent to the restarted actor before it started (so it waited for the next event,
 *    up to a sweep later) and dropped without a record if it crashed that one too, or if the
 *    restart limit was reached. Such wakes are now held (src/runtime/crash-carry.ts) and
 *    handed over the moment the successor starts, or recorded skipped 'failed'.
 *  - crash-loses-config-update: an actor that crashed deciding a reload's UPDATE restarted
 *    from its pre-UPDATE snapshot, with the old config. The supervisor keeps every agent's
 *    latest config and re-applies it to the restarted actor.
 *  - restored-interval-follows-wall: a restored interval slot stayed a wall time until its
 *    next run, so a wall step back after a restart silenced the agent. It is now restored
 *    onto the monotonic clock (cron slots stay wall times).
 */

const FIXED: Record<string, Repro> = {
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
    // 5 runs before the restart, a run a minute after it (bug: none for the hour of the step, health() ok).
    correct: (w) => expect(w.log.filter((e) => e.type === "run-started").length).toBeGreaterThanOrEqual(14),
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

describe("fixed runtime bugs (regressions of the simulator's findings)", () => {
  for (const [bug, repro] of Object.entries(FIXED)) {
    it(`${bug}: the scenario sets the trap and the runtime does the right thing`, async () => {
      const w = await repro.run();
      repro.trap(w);
      repro.correct(w);
    });
  }
});
