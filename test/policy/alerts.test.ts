import { describe, expect, it } from "vitest";
import { type AgentAlertKind, type AlertFlags, type AlertKind, alertMessage, openAgentAlerts } from "../../src/policy/alerts.ts";
import { DEFAULT_POLICY } from "../../src/policy/config.ts";
import { runFinished, runStarted } from "../../src/policy/reduce.ts";
import type { AgentPolicyState } from "../../src/policy/state.ts";
import { type Instant, MINUTE, SECOND } from "../../src/policy/time.ts";
import type { ResolvedAgent, ResolvedPolicy } from "../../src/policy/types.ts";
import { agentOf, mono, never, policyOf, stateOf, utc, wall } from "./fixtures.ts";

const T = 10_000_000;
const NOW: Instant = { wall: utc(12), mono: T };
/** Cadence 60 s: past-due opens after more than 120 s late, busy-wedged after more than 120 s busy. */
const every1m = agentOf({ every: "1m" });
const every5mCron = agentOf({ cron: "*/5 * * * *", timezone: "UTC" });
const IDLE: AlertFlags = { timedOut: false, running: false };
const RUNNING: AlertFlags = { timedOut: false, running: true };
const TIMED_OUT: AlertFlags = { timedOut: true, running: false };

interface Row {
  readonly name: string;
  readonly agent?: ResolvedAgent;
  readonly state: AgentPolicyState;
  readonly flags?: AlertFlags;
  readonly policy?: ResolvedPolicy;
  readonly open: AgentAlertKind[];
}
const cases = (rows: Row[]): (readonly [string, Row])[] => rows.map((row) => [row.name, row] as const);
const check = (row: Row): void => {
  expect(openAgentAlerts(row.agent ?? every1m, row.state, NOW, row.policy ?? DEFAULT_POLICY, row.flags ?? IDLE)).toEqual(row.open);
};

describe("openAgentAlerts: past-due (more than pastDueCadences × cadence late)", () => {
  it.each(cases([
    { name: "due in the future → none", state: stateOf({ due: mono(T + 10 * SECOND) }), open: [] },
    { name: "due now → none", state: stateOf({ due: mono(T) }), open: [] },
    { name: "exactly 2 cadences late → not yet", state: stateOf({ due: mono(T - 2 * MINUTE) }), open: [] },
    { name: "2 cadences + 1 ms late → past-due", state: stateOf({ due: mono(T - 2 * MINUTE - 1) }), open: ["past-due"] },
    { name: "35 h late (seed 001) → past-due", state: stateOf({ due: mono(T - 35 * 60 * MINUTE) }), open: ["past-due"] },
    { name: "late but a run is in flight → not late", state: stateOf({ due: mono(T - 10 * MINUTE) }), flags: RUNNING, open: [] },
    { name: "due never → none", state: stateOf({ due: never }), open: [] },
    { name: "pastDueCadences 5: 4 cadences late → none", policy: policyOf({ pastDueCadences: 5 }), state: stateOf({ due: mono(T - 4 * MINUTE) }), open: [] },
    { name: "pastDueCadences 5: 5 cadences + 1 ms late → past-due", policy: policyOf({ pastDueCadences: 5 }), state: stateOf({ due: mono(T - 5 * MINUTE - 1) }), open: ["past-due"] },
    { name: "cron every 5 min, slot 10 min ago (wall) → not yet", agent: every5mCron, state: stateOf({ due: wall(utc(11, 50)) }), open: [] },
    { name: "cron every 5 min, slot 10 min + 1 ms ago → past-due", agent: every5mCron, state: stateOf({ due: wall(utc(11, 50) - 1) }), open: ["past-due"] },
    { name: "disabled agent, very late → none", agent: agentOf({ every: "1m", enabled: false }), state: stateOf({ due: mono(T - 60 * MINUTE) }), open: [] },
  ]))("%s", (_name, row) => check(row));

  it("re-arms after the next run: a run moves the due into the future and closes it", () => {
    const late = stateOf({ due: mono(T - 3 * MINUTE) });
    expect(openAgentAlerts(every1m, late, NOW, DEFAULT_POLICY, IDLE)).toEqual(["past-due"]);
    const started = runStarted(every1m, late, { kind: "run", reasons: ["interval"], ranSlot: true }, NOW, DEFAULT_POLICY);
    expect(openAgentAlerts(every1m, started, NOW, DEFAULT_POLICY, RUNNING)).toEqual([]);
    const finished = runFinished(started, { status: "ran", usage: undefined }, NOW.wall);
    expect(openAgentAlerts(every1m, finished, NOW, DEFAULT_POLICY, IDLE)).toEqual([]);
  });
});

describe("openAgentAlerts: zero-work streak", () => {
  it.each(cases([
    { name: "2 zero-work runs → none", state: stateOf({ due: mono(T + MINUTE), consecutiveZeroWork: 2 }), open: [] },
    { name: "3 zero-work runs (threshold) → open", state: stateOf({ due: mono(T + MINUTE), consecutiveZeroWork: 3 }), open: ["zero-work-streak"] },
    { name: "10 zero-work runs → open", state: stateOf({ due: mono(T + MINUTE), consecutiveZeroWork: 10 }), open: ["zero-work-streak"] },
    { name: "threshold 5: 4 → none", policy: policyOf({ zeroWorkStreak: 5 }), state: stateOf({ due: mono(T + MINUTE), consecutiveZeroWork: 4 }), open: [] },
    { name: "threshold 5: 5 → open", policy: policyOf({ zeroWorkStreak: 5 }), state: stateOf({ due: mono(T + MINUTE), consecutiveZeroWork: 5 }), open: ["zero-work-streak"] },
    { name: "open while running too", state: stateOf({ due: mono(T + MINUTE), consecutiveZeroWork: 3 }), flags: RUNNING, open: ["zero-work-streak"] },
  ]))("%s", (_name, row) => check(row));
});

describe("openAgentAlerts: busy-wedged (a lane busy more than busyWedgedCadences × cadence)", () => {
  const busySince = (sinceMono: number, lane: "main" | "session" = "session") => ({ lane, attempt: 5, sinceMono });
  it.each(cases([
    { name: "not busy → none", state: stateOf({ due: mono(T + MINUTE) }), open: [] },
    { name: "busy for exactly 2 cadences → not yet", state: stateOf({ due: mono(T + MINUTE), busy: busySince(T - 2 * MINUTE) }), open: [] },
    { name: "busy for 2 cadences + 1 ms → busy-wedged", state: stateOf({ due: mono(T + MINUTE), busy: busySince(T - 2 * MINUTE - 1) }), open: ["busy-wedged"] },
    { name: "main lane too", state: stateOf({ due: mono(T + MINUTE), busy: busySince(T - 5 * MINUTE, "main") }), open: ["busy-wedged"] },
    { name: "busyWedgedCadences 1: 1 cadence + 1 ms → busy-wedged", policy: policyOf({ busyWedgedCadences: 1 }), state: stateOf({ due: mono(T + MINUTE), busy: busySince(T - MINUTE - 1) }), open: ["busy-wedged"] },
    { name: "busyWedgedCadences 10: 5 cadences → none", policy: policyOf({ busyWedgedCadences: 10 }), state: stateOf({ due: mono(T + MINUTE), busy: busySince(T - 5 * MINUTE) }), open: [] },
  ]))("%s", (_name, row) => check(row));
});

describe("openAgentAlerts: flood", () => {
  it.each(cases([
    { name: "no hold → none", state: stateOf({ due: mono(T + MINUTE) }), open: [] },
    { name: "held 1 s ago → open", state: stateOf({ due: mono(T + MINUTE), floodHeldMono: T - SECOND }), open: ["flood"] },
    { name: "held 59.999 s ago → still open", state: stateOf({ due: mono(T + MINUTE), floodHeldMono: T - 59_999 }), open: ["flood"] },
    // DESIGN: the flood episode "ends after a full window without a held wake", and "an alert stays
    // open until its episode ends (... the flood window passed)".
    { name: "held exactly one window ago, nothing held since → episode over, closed", state: stateOf({ due: mono(T + MINUTE), floodHeldMono: T - 60 * SECOND }), open: [] },
    { name: "held 10 min ago, nothing held since → closed", state: stateOf({ due: mono(T + MINUTE), floodHeldMono: T - 10 * MINUTE }), open: [] },
  ]))("%s", (_name, row) => check(row));
});

describe("openAgentAlerts: run-timed-out and combinations", () => {
  it.each(cases([
    { name: "the last run timed out → open", state: stateOf({ due: mono(T + MINUTE) }), flags: TIMED_OUT, open: ["run-timed-out"] },
    { name: "timed out and running again → still open until a run ends otherwise", state: stateOf({ due: mono(T + MINUTE) }), flags: { timedOut: true, running: true }, open: ["run-timed-out"] },
    {
      name: "everything at once, in a stable order",
      state: stateOf({ due: mono(T - 3 * MINUTE), consecutiveZeroWork: 3, floodHeldMono: T - SECOND, busy: { lane: "main", attempt: 9, sinceMono: T - 3 * MINUTE } }),
      flags: TIMED_OUT,
      open: ["past-due", "zero-work-streak", "flood", "busy-wedged", "run-timed-out"],
    },
    {
      name: "a disabled agent raises nothing",
      agent: agentOf({ every: "1m", enabled: false }),
      state: stateOf({ due: mono(T - 3 * MINUTE), consecutiveZeroWork: 3, floodHeldMono: T - SECOND, busy: { lane: "main", attempt: 9, sinceMono: T - 3 * MINUTE } }),
      flags: TIMED_OUT,
      open: [],
    },
    {
      name: "an off schedule (every 0m) raises nothing",
      agent: agentOf({ every: "0m" }),
      state: stateOf({ due: never, consecutiveZeroWork: 9 }),
      open: [],
    },
  ]))("%s", (_name, row) => check(row));
});

describe("alertMessage", () => {
  it.each<AlertKind>(["past-due", "zero-work-streak", "flood", "busy-wedged", "run-timed-out", "restart-limit", "store-unavailable"])(
    "%s names the agent",
    (kind) => {
      expect(alertMessage(kind, "agent-Ω")).toContain("agent-Ω");
    },
  );

  it("every kind has its own message", () => {
    const kinds: AlertKind[] = ["past-due", "zero-work-streak", "flood", "busy-wedged", "run-timed-out", "restart-limit", "store-unavailable"];
    expect(new Set(kinds.map((k) => alertMessage(k, "a"))).size).toBe(kinds.length);
  });
});
