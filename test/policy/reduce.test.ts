import { describe, expect, it } from "vitest";
import { DEFAULT_POLICY } from "../../src/policy/config.ts";
import { type Decision, decide } from "../../src/policy/decide.ts";
import type { RunOutcome } from "../../src/policy/outcome.ts";
import { addWakes, deferred, floodEpisodeOver, runFinished, runStarted, skipped } from "../../src/policy/reduce.ts";
import type { AgentPolicyState } from "../../src/policy/state.ts";
import { type Instant, MINUTE, SECOND } from "../../src/policy/time.ts";
import type { ResolvedAgent } from "../../src/policy/types.ts";
import { agentOf, mono, never, policyOf, stateOf, utc, wakes, wall } from "./fixtures.ts";

const T = 10_000_000;
const NOW: Instant = { wall: utc(12), mono: T };
const E = 30 * MINUTE;
const every30m = agentOf({ every: "30m" });
const office = agentOf({ every: "30m", activeHours: { start: "09:00", end: "17:00", timezone: "UTC" } });

type RunDecision = Extract<Decision, { kind: "run" }>;
type DeferDecision = Extract<Decision, { kind: "defer" }>;
type SkipDecision = Extract<Decision, { kind: "skip" }>;

const runOf = (reasons: string[], ranSlot: boolean): RunDecision => ({ kind: "run", reasons, ranSlot });
const deferOf = (reason: DeferDecision["reason"], lane?: "main" | "session"): DeferDecision => ({
  kind: "defer",
  reason,
  retryMono: T + SECOND,
  floodTripped: reason === "flood",
  lane,
  reasons: ["wake"],
});

describe("addWakes", () => {
  it.each<[string, string[], string[], string[]]>([
    ["into an empty set", [], ["wake"], ["wake"]],
    ["keeps arrival order", ["wake"], ["exec-event", "acp:spawn:a"], ["wake", "exec-event", "acp:spawn:a"]],
    ["dedupes by reason, against pending and within the batch", ["wake"], ["exec-event", "wake", "exec-event"], ["wake", "exec-event"]],
    ["same kind, different reasons are both kept", ["acp:spawn:a"], ["acp:spawn:b"], ["acp:spawn:a", "acp:spawn:b"]],
    ["a storm of one reason stays one entry", [], Array.from({ length: 500 }, () => "exec-event"), ["exec-event"]],
    ["unknown strings dedupe by their raw text", ["x"], ["x", "X", "x "], ["x", "X", "x "]],
  ])("%s: %j + %j → %j", (_name, before, added, after) => {
    const state = stateOf({ pending: wakes(...before) });
    const next = addWakes(state, wakes(...added));
    expect(next.pending.map((w) => w.reason)).toEqual(after);
    expect(next.pending).toEqual(wakes(...after));
    expect(state.pending.map((w) => w.reason)).toEqual(before); // input untouched
  });

  it.each<[string, string[], string[]]>([
    ["nothing added", ["wake"], []],
    ["only repeats added", ["wake", "exec-event"], ["exec-event", "wake"]],
  ])("%s → the same state object (no needless change)", (_name, before, added) => {
    const state = stateOf({ pending: wakes(...before) });
    expect(addWakes(state, wakes(...added))).toBe(state);
  });
});

describe("runStarted", () => {
  const base = stateOf({
    due: mono(T),
    lastRunStartMono: T - 20 * MINUTE,
    lastRunAt: utc(11, 40),
    pending: wakes("wake", "exec-event"),
    busy: { lane: "main", attempt: 3, sinceMono: T - MINUTE },
    runCount: 7,
    skipCount: 2,
    consecutiveZeroWork: 1,
  });

  it.each<[string, Partial<AgentPolicyState>, RunDecision, Partial<AgentPolicyState>]>([
    [
      "slot run on time: grid kept, pending/busy cleared, starts pruned to the window",
      { runStarts: [T - 70 * SECOND, T - 60 * SECOND, T - 59 * SECOND] },
      runOf(["interval", "wake", "exec-event"], true),
      { due: mono(T + E), lastRunStartMono: T, runStarts: [T - 59 * SECOND, T], pending: [], busy: undefined },
    ],
    [
      "wake run restarts the interval from now",
      { due: mono(T + 10 * MINUTE), runStarts: [] },
      runOf(["wake"], false),
      { due: mono(T + E), lastRunStartMono: T, runStarts: [T], pending: [], busy: undefined },
    ],
    [
      "starts are capped at flood.maxRuns (newest kept)",
      { runStarts: [T - 50 * SECOND, T - 40 * SECOND, T - 30 * SECOND, T - 20 * SECOND, T - 10 * SECOND] },
      runOf(["manual"], false),
      { runStarts: [T - 40 * SECOND, T - 30 * SECOND, T - 20 * SECOND, T - 10 * SECOND, T] },
    ],
    ["flood episode still open (held 30 s ago) → kept", { floodHeldMono: T - 30 * SECOND }, runOf(["wake"], false), { floodHeldMono: T - 30 * SECOND }],
    ["flood held exactly one window ago → episode over, cleared", { floodHeldMono: T - 60 * SECOND }, runOf(["wake"], false), { floodHeldMono: undefined }],
    [
      "counters do not move at the start (only a finished run counts)",
      {},
      runOf(["interval"], true),
      { runCount: 7, skipCount: 2, consecutiveZeroWork: 1, lastRunAt: utc(11, 40), lastStatus: undefined },
    ],
  ])("%s", (_name, overrides, decision, expected) => {
    const next = runStarted(every30m, { ...base, ...overrides }, decision, NOW, DEFAULT_POLICY);
    for (const [key, value] of Object.entries(expected)) {
      expect(next[key as keyof AgentPolicyState]).toEqual(value);
    }
  });

  it("a custom flood window prunes by that window", () => {
    const next = runStarted(
      every30m,
      { ...base, runStarts: [T - 11 * SECOND, T - 10 * SECOND, T - 9 * SECOND] },
      runOf(["wake"], false),
      NOW,
      policyOf({ flood: { maxRuns: 5, windowMs: 10_000 } }),
    );
    expect(next.runStarts).toEqual([T - 9 * SECOND, T]);
  });

  it("a disabled agent's next due is never", () => {
    expect(runStarted(agentOf({ enabled: false }), base, runOf(["manual"], false), NOW, DEFAULT_POLICY).due).toEqual(never);
  });
});

describe("runFinished (seed 001: a skip never counts as a run)", () => {
  const STARTED = utc(11, 59);
  const base = stateOf({
    due: mono(T + E),
    lastRunAt: utc(11),
    lastStatus: "ran",
    runCount: 7,
    skipCount: 2,
    consecutiveZeroWork: 1,
  });
  type Counters = Pick<AgentPolicyState, "lastStatus" | "runCount" | "skipCount" | "lastRunAt" | "consecutiveZeroWork">;
  const counters = (s: AgentPolicyState): Counters => ({
    lastStatus: s.lastStatus,
    runCount: s.runCount,
    skipCount: s.skipCount,
    lastRunAt: s.lastRunAt,
    consecutiveZeroWork: s.consecutiveZeroWork,
  });

  it.each<[string, RunOutcome, Counters]>([
    ["ran, no usage (unknown, not zero) → zero-work unchanged", { status: "ran", usage: undefined }, { lastStatus: "ran", runCount: 8, skipCount: 2, lastRunAt: STARTED, consecutiveZeroWork: 1 }],
    ["ran, 0 + 0 tokens → zero-work +1", { status: "ran", usage: { inputTokens: 0, outputTokens: 0 } }, { lastStatus: "ran", runCount: 8, skipCount: 2, lastRunAt: STARTED, consecutiveZeroWork: 2 }],
    ["ran, input tokens only → zero-work reset", { status: "ran", usage: { inputTokens: 5, outputTokens: 0 } }, { lastStatus: "ran", runCount: 8, skipCount: 2, lastRunAt: STARTED, consecutiveZeroWork: 0 }],
    ["ran, output tokens only → zero-work reset", { status: "ran", usage: { inputTokens: 0, outputTokens: 3 } }, { lastStatus: "ran", runCount: 8, skipCount: 2, lastRunAt: STARTED, consecutiveZeroWork: 0 }],
    ["skipped by the host → only skipCount moves", { status: "skipped", reason: "requests-in-flight" }, { lastStatus: "skipped", runCount: 7, skipCount: 3, lastRunAt: utc(11), consecutiveZeroWork: 1 }],
    ["failed → reached the host: runCount and lastRunAt move", { status: "failed", error: "boom" }, { lastStatus: "failed", runCount: 8, skipCount: 2, lastRunAt: STARTED, consecutiveZeroWork: 1 }],
    ["timed-out → counts as a run", { status: "timed-out" }, { lastStatus: "timed-out", runCount: 8, skipCount: 2, lastRunAt: STARTED, consecutiveZeroWork: 1 }],
    ["aborted → counts as a run", { status: "aborted", reason: "stopped" }, { lastStatus: "aborted", runCount: 8, skipCount: 2, lastRunAt: STARTED, consecutiveZeroWork: 1 }],
  ])("%s", (_name, outcome, expected) => {
    const next = runFinished(base, outcome, STARTED);
    expect(counters(next)).toEqual(expected);
    expect(next.due).toEqual(base.due); // finishing never moves the schedule (runStarted did)
  });

  it.each<[string, RunOutcome[], Counters]>([
    [
      "three zero-token runs make a streak of 3",
      [0, 0, 0].map((n): RunOutcome => ({ status: "ran", usage: { inputTokens: n, outputTokens: n } })),
      { lastStatus: "ran", runCount: 3, skipCount: 0, lastRunAt: STARTED, consecutiveZeroWork: 3 },
    ],
    [
      "skips and unknown usage between zero-token runs neither break nor extend the streak",
      [
        { status: "ran", usage: { inputTokens: 0, outputTokens: 0 } },
        { status: "skipped", reason: "busy" },
        { status: "ran", usage: undefined },
        { status: "ran", usage: { inputTokens: 0, outputTokens: 0 } },
      ],
      { lastStatus: "ran", runCount: 3, skipCount: 1, lastRunAt: STARTED, consecutiveZeroWork: 2 },
    ],
    [
      "a run with work resets the streak",
      [
        { status: "ran", usage: { inputTokens: 0, outputTokens: 0 } },
        { status: "ran", usage: { inputTokens: 0, outputTokens: 0 } },
        { status: "ran", usage: { inputTokens: 1, outputTokens: 1 } },
      ],
      { lastStatus: "ran", runCount: 3, skipCount: 0, lastRunAt: STARTED, consecutiveZeroWork: 0 },
    ],
    [
      "35 h of host skips (seed 001): runCount stays 0",
      Array.from({ length: 70 }, (): RunOutcome => ({ status: "skipped", reason: "requests-in-flight" })),
      { lastStatus: "skipped", runCount: 0, skipCount: 70, lastRunAt: undefined, consecutiveZeroWork: 0 },
    ],
  ])("%s", (_name, outcomes, expected) => {
    const end = outcomes.reduce((s, o) => runFinished(s, o, STARTED), stateOf());
    expect(counters(end)).toEqual(expected);
  });
});

describe("deferred", () => {
  const pending = wakes("wake", "exec-event");
  it.each<[string, Partial<AgentPolicyState>, DeferDecision, Pick<AgentPolicyState, "busy" | "floodHeldMono">]>([
    ["first busy answer → attempt 1 since now", {}, deferOf("main-lane-busy", "main"), { busy: { lane: "main", attempt: 1, sinceMono: T }, floodHeldMono: undefined }],
    [
      "busy again on the same lane → attempt +1, since kept",
      { busy: { lane: "main", attempt: 2, sinceMono: T - 5 * SECOND } },
      deferOf("main-lane-busy", "main"),
      { busy: { lane: "main", attempt: 3, sinceMono: T - 5 * SECOND }, floodHeldMono: undefined },
    ],
    [
      "session lane, attempt 9 → 10",
      { busy: { lane: "session", attempt: 9, sinceMono: T - MINUTE } },
      deferOf("session-lane-busy", "session"),
      { busy: { lane: "session", attempt: 10, sinceMono: T - MINUTE }, floodHeldMono: undefined },
    ],
    [
      "lane switched → attempt restarts at 1, the busy episode's start is kept",
      { busy: { lane: "main", attempt: 2, sinceMono: T - 5 * SECOND } },
      deferOf("session-lane-busy", "session"),
      { busy: { lane: "session", attempt: 1, sinceMono: T - 5 * SECOND }, floodHeldMono: undefined },
    ],
    ["a non-busy deferral clears the busy state", { busy: { lane: "main", attempt: 4, sinceMono: T - MINUTE } }, deferOf("not-due"), { busy: undefined, floodHeldMono: undefined }],
    ["flood → held now", {}, deferOf("flood"), { busy: undefined, floodHeldMono: T }],
    ["flood again → held time refreshed", { floodHeldMono: T - 10 * SECOND }, deferOf("flood"), { busy: undefined, floodHeldMono: T }],
    ["other deferral within the episode → held time kept", { floodHeldMono: T - 10 * SECOND }, deferOf("min-spacing"), { busy: undefined, floodHeldMono: T - 10 * SECOND }],
    ["other deferral a full window after the hold → episode over", { floodHeldMono: T - 60 * SECOND }, deferOf("not-due"), { busy: undefined, floodHeldMono: undefined }],
    ["busy deferral a full window after the hold → episode over", { floodHeldMono: T - 61 * SECOND }, deferOf("main-lane-busy", "main"), { busy: { lane: "main", attempt: 1, sinceMono: T }, floodHeldMono: undefined }],
  ])("%s", (_name, overrides, decision, expected) => {
    const before = stateOf({ due: mono(T + E), pending, runCount: 4, skipCount: 1, ...overrides });
    const next = deferred(before, decision, NOW, DEFAULT_POLICY);
    expect({ busy: next.busy, floodHeldMono: next.floodHeldMono }).toEqual(expected);
    // a deferral never drops a wake, never moves the schedule, and never counts as a run or a skip
    expect(next.pending).toEqual(pending);
    expect(next.due).toEqual(mono(T + E));
    expect([next.runCount, next.skipCount]).toEqual([4, 1]);
  });
});

describe("skipped", () => {
  it.each<[string, ResolvedAgent, SkipDecision, Instant, Partial<AgentPolicyState>]>([
    ["disabled → due never, pending dropped, skipCount +1", every30m, { kind: "skip", reason: "disabled", dropped: ["interval", "wake"] }, NOW, { due: never, pending: [], skipCount: 3, runCount: 7 }],
    [
      "quiet hours at 20:00 UTC → due at tomorrow's 09:00 opening, pending kept, skipCount +1",
      office,
      { kind: "skip", reason: "quiet-hours", dropped: ["interval"] },
      { wall: utc(20), mono: T },
      { due: wall(Date.UTC(2026, 0, 16, 9)), pending: wakes("wake"), skipCount: 3, runCount: 7 },
    ],
    [
      "quiet hours at 07:00 UTC → due at today's 09:00",
      office,
      { kind: "skip", reason: "quiet-hours", dropped: ["interval"] },
      { wall: utc(7), mono: T },
      { due: wall(utc(9)), pending: wakes("wake"), skipCount: 3, runCount: 7 },
    ],
  ])("%s", (_name, agent, decision, now, expected) => {
    const before = stateOf({ due: mono(T), pending: wakes("wake"), runCount: 7, skipCount: 2, lastRunAt: utc(11) });
    const next = skipped(agent, before, decision, now);
    expect({ due: next.due, pending: next.pending, skipCount: next.skipCount, runCount: next.runCount }).toEqual(expected);
    expect(next.lastRunAt).toBe(utc(11));
  });
});

describe("floodEpisodeOver", () => {
  it.each<[string, number | undefined, number, boolean]>([
    ["no episode", undefined, T, false],
    ["held just now", T, T, false],
    ["held 59.999 s ago", T - 59_999, T, false],
    ["held exactly one window ago", T - 60_000, T, true],
    ["held long ago", T - 10 * MINUTE, T, true],
  ])("%s → %s", (_name, held, nowMono, expected) => {
    expect(floodEpisodeOver(stateOf({ floodHeldMono: held }), { wall: utc(12), mono: nowMono }, DEFAULT_POLICY)).toBe(expected);
  });

  it("uses the configured window", () => {
    const state = stateOf({ floodHeldMono: T - 10_000 });
    expect(floodEpisodeOver(state, NOW, policyOf({ flood: { maxRuns: 5, windowMs: 10_000 } }))).toBe(true);
    expect(floodEpisodeOver(state, NOW, policyOf({ flood: { maxRuns: 5, windowMs: 10_001 } }))).toBe(false);
  });
});

describe("a flood episode, step by step (decide + reduce)", () => {
  const FREE = { mainBusy: false, sessionBusy: false };
  const at = (mono: number): Instant => ({ wall: utc(12) + (mono - T), mono });

  /** Wake at `now`, decide, and apply the decision the way the machine does. */
  function wakeAt(state: AgentPolicyState, mono: number, reason = "wake"): { state: AgentPolicyState; decision: Decision } {
    const now = at(mono);
    const s = addWakes(state, wakes(reason));
    const decision = decide(every30m, s, now, DEFAULT_POLICY, FREE);
    if (decision.kind === "run") return { state: runStarted(every30m, s, decision, now, DEFAULT_POLICY), decision };
    if (decision.kind === "defer") return { state: deferred(s, decision, now, DEFAULT_POLICY), decision };
    throw new Error(`unexpected ${decision.kind}`);
  }

  it("five runs pass, the sixth is held and trips once, the episode ends a full window after the last hold", () => {
    let state = stateOf({ due: mono(T + E) });
    for (const dt of [0, 5, 10, 15, 20]) {
      const r = wakeAt(state, T + dt * SECOND);
      expect(r.decision.kind).toBe("run");
      state = r.state;
    }
    const held = wakeAt(state, T + 25 * SECOND);
    expect(held.decision).toMatchObject({ kind: "defer", reason: "flood", retryMono: T + 60 * SECOND, floodTripped: true });
    state = held.state;
    expect(state.floodHeldMono).toBe(T + 25 * SECOND);
    expect(state.pending.map((w) => w.reason)).toEqual(["wake"]);

    const again = wakeAt(state, T + 30 * SECOND, "hook:wake");
    expect(again.decision).toMatchObject({ kind: "defer", reason: "flood", floodTripped: false });
    state = again.state;
    expect(state.floodHeldMono).toBe(T + 30 * SECOND);

    // the held wakes run when the window allows, and the episode is still open
    const retry = wakeAt(state, T + 60 * SECOND);
    expect(retry.decision).toEqual({ kind: "run", reasons: ["wake", "hook:wake"], ranSlot: false });
    state = retry.state;
    expect(state.floodHeldMono).toBe(T + 30 * SECOND);

    // a full window after the last hold, the next run start closes the episode
    const later = wakeAt(state, T + 90 * SECOND);
    expect(later.decision.kind).toBe("run");
    expect(later.state.floodHeldMono).toBeUndefined();
  });
});
