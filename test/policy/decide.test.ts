import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_POLICY } from "../../src/policy/config.ts";
import { type Decision, decide, type LaneState, slotReason } from "../../src/policy/decide.ts";
import { dueMono, isDue } from "../../src/policy/schedule.ts";
import type { AgentPolicyState, Due } from "../../src/policy/state.ts";
import { DAY, HOUR, type Instant, MINUTE, SECOND } from "../../src/policy/time.ts";
import type { ResolvedAgent, ResolvedPolicy } from "../../src/policy/types.ts";
import { classifyWake, intentOf, wakeFromReason, type Wake } from "../../src/policy/wake.ts";
import { agentOf, mono, never, policyOf, stateOf, utc, wakes, wall } from "./fixtures.ts";

/** Monotonic "now" for every row: far enough from 0 that every window fits before it. */
const T = 10_000_000;
const NOW: Instant = { wall: utc(12), mono: T };
const FREE: LaneState = { mainBusy: false, sessionBusy: false };
const MAIN_BUSY: LaneState = { mainBusy: true, sessionBusy: false };
const SESSION_BUSY: LaneState = { mainBusy: false, sessionBusy: true };
const BOTH_BUSY: LaneState = { mainBusy: true, sessionBusy: true };

const every30m = agentOf({ every: "30m" });
const hourlyCron = agentOf({ cron: "0 * * * *", timezone: "UTC" });
const office = agentOf({ every: "30m", activeHours: { start: "09:00", end: "17:00", timezone: "UTC" } });
const overnight = agentOf({ every: "30m", activeHours: { start: "22:00", end: "06:00", timezone: "UTC" } });
const berlinCronOffice = agentOf({ cron: "*/5 * * * *", timezone: "Europe/Berlin", activeHours: { start: "09:00", end: "17:00" } });

/** Not due for another 10 minutes; the last run was 1 s ago (well inside the 30 s spacing floor). */
const NOT_DUE = mono(T + 10 * MINUTE);
const JUST_RAN = T - SECOND;
/** Five run starts inside the last 60 s: the flood guard is full. */
const FIVE_IN_WINDOW = [T - 50 * SECOND, T - 40 * SECOND, T - 30 * SECOND, T - 20 * SECOND, T - 10 * SECOND];

interface Row {
  readonly name: string;
  readonly agent?: ResolvedAgent;
  readonly state: AgentPolicyState;
  readonly now?: Instant;
  readonly lanes?: LaneState;
  readonly policy?: ResolvedPolicy;
  readonly expected: Decision;
}

function check(row: Row): void {
  const decision = decide(row.agent ?? every30m, row.state, row.now ?? NOW, row.policy ?? DEFAULT_POLICY, row.lanes ?? FREE);
  expect(decision).toEqual(row.expected);
}

/** Rows as [name, row] so the full name is the test title (a `$name` title is truncated). */
const cases = (rows: Row[]): (readonly [string, Row])[] => rows.map((row) => [row.name, row] as const);

const run = (reasons: string[], ranSlot: boolean): Decision => ({ kind: "run", reasons, ranSlot });
const defer = (
  reason: Extract<Decision, { kind: "defer" }>["reason"],
  retryMono: number,
  reasons: string[],
  extra: { floodTripped?: boolean; lane?: "main" | "session" } = {},
): Decision => ({ kind: "defer", reason, retryMono, floodTripped: extra.floodTripped ?? false, lane: extra.lane, reasons });
const skip = (reason: "disabled" | "quiet-hours", dropped: string[]): Decision => ({ kind: "skip", reason, dropped });
const WAIT: Decision = { kind: "wait" };

describe("decide: disabled and idle", () => {
  it.each(cases([
    { name: "disabled, nothing pending → skip disabled", agent: agentOf({ enabled: false }), state: stateOf({ due: never }), expected: skip("disabled", []) },
    {
      name: "disabled with a due slot and pending wakes → skip disabled, dropping all of them",
      agent: agentOf({ enabled: false }),
      state: stateOf({ due: mono(T), pending: wakes("manual", "exec-event") }),
      expected: skip("disabled", ["interval", "manual", "exec-event"]),
    },
    { name: "every 0m (off) with a manual wake → skip disabled", agent: agentOf({ every: "0m" }), state: stateOf({ pending: wakes("manual") }), expected: skip("disabled", ["manual"]) },
    {
      name: "disabled beats quiet hours",
      agent: agentOf({ enabled: false, activeHours: { start: "09:00", end: "17:00", timezone: "UTC" } }),
      state: stateOf({ due: mono(T) }),
      now: { wall: utc(20), mono: T },
      expected: skip("disabled", ["interval"]),
    },
    { name: "nothing pending, slot 1 ms away → wait", state: stateOf({ due: mono(T + 1) }), expected: WAIT },
    { name: "nothing pending, due never → wait", state: stateOf({ due: never }), expected: WAIT },
    { name: "nothing pending, cron slot not reached on the wall clock → wait", agent: hourlyCron, state: stateOf({ due: wall(utc(13)) }), expected: WAIT },
    { name: "nothing pending, busy lanes do not matter → wait", state: stateOf({ due: NOT_DUE }), lanes: BOTH_BUSY, expected: WAIT },
    { name: "only a scheduled-intent wake pending (\"interval\"), slot not due → wait (it runs with its slot)", state: stateOf({ due: NOT_DUE, pending: wakes("interval") }), expected: WAIT },
  ]))("%s", (_name, row) => check(row));
});

describe("decide: scheduled slot", () => {
  it.each(cases([
    { name: "slot due exactly now → run [interval], ranSlot", state: stateOf({ due: mono(T) }), expected: run(["interval"], true) },
    { name: "slot overdue → run [interval]", state: stateOf({ due: mono(T - 5 * MINUTE) }), expected: run(["interval"], true) },
    {
      name: "slot due 1 s after the last run → runs (scheduled wakes are not spaced)",
      state: stateOf({ due: mono(T), lastRunStartMono: JUST_RAN }),
      expected: run(["interval"], true),
    },
    { name: "cron slot due on the wall clock → run [cron-slot]", agent: hourlyCron, state: stateOf({ due: wall(utc(12)) }), expected: run(["cron-slot"], true) },
    {
      name: "slot first, then pending reasons in arrival order, without repeats",
      state: stateOf({ due: mono(T), pending: wakes("exec-event", "wake", "exec-event", "interval") }),
      expected: run(["interval", "exec-event", "wake"], true),
    },
    {
      name: "slot due with event wakes 1 s after the last run → runs, carrying them",
      state: stateOf({ due: mono(T), lastRunStartMono: JUST_RAN, pending: wakes("exec-event", "acp:spawn:x") }),
      expected: run(["interval", "exec-event", "acp:spawn:x"], true),
    },
  ]))("%s", (_name, row) => check(row));
});

describe("decide: immediate wakes run now, not spaced", () => {
  it.each(["manual", "wake", "hook:wake", "background-task", "background-task-blocked", "cron:nightly", "cron:a:b"])(
    "%j, slot not due, last run 1 s ago → run",
    (reason) => {
      check({ name: reason, state: stateOf({ due: NOT_DUE, lastRunStartMono: JUST_RAN, runStarts: [JUST_RAN], pending: wakes(reason) }), expected: run([reason], false) });
    },
  );

  it.each(["manual", "wake", "hook:wake", "background-task", "background-task-blocked", "cron:nightly"])(
    "%j with an event wake folded in → run both (the event rides along)",
    (reason) => {
      check({
        name: reason,
        state: stateOf({ due: NOT_DUE, lastRunStartMono: JUST_RAN, pending: wakes("exec-event", reason) }),
        expected: run(["exec-event", reason], false),
      });
    },
  );
});

describe("decide: event wakes (seed 002)", () => {
  const EVENTS = ["exec-event", "acp:spawn:worker", "acp:spawn:", "cron:", "something-unknown", "Manual", ""];

  it.each(EVENTS)("%j with no prior run (bootstrap) → run", (reason) => {
    check({ name: reason, state: stateOf({ due: NOT_DUE, pending: wakes(reason) }), expected: run([reason], false) });
  });

  it.each(EVENTS)("%j after a run 10 min ago, slot in 10 min → defer not-due until the slot", (reason) => {
    check({
      name: reason,
      state: stateOf({ due: NOT_DUE, lastRunStartMono: T - 10 * MINUTE, pending: wakes(reason) }),
      expected: defer("not-due", T + 10 * MINUTE, [reason]),
    });
  });

  it.each(cases([
    {
      name: "slot in 10 s but last run 5 s ago → defer min-spacing until lastRun + 30 s",
      state: stateOf({ due: mono(T + 10 * SECOND), lastRunStartMono: T - 5 * SECOND, pending: wakes("exec-event") }),
      expected: defer("min-spacing", T + 25 * SECOND, ["exec-event"]),
    },
    {
      name: "slot in 1 ms, last run 1 s ago → min-spacing wins (29 s)",
      state: stateOf({ due: mono(T + 1), lastRunStartMono: JUST_RAN, pending: wakes("acp:spawn:x") }),
      expected: defer("min-spacing", JUST_RAN + 30 * SECOND, ["acp:spawn:x"]),
    },
    {
      name: "slot exactly at the spacing floor → not-due",
      state: stateOf({ due: mono(T + 20 * SECOND), lastRunStartMono: T - 10 * SECOND, pending: wakes("exec-event") }),
      expected: defer("not-due", T + 20 * SECOND, ["exec-event"]),
    },
    {
      name: "custom minSpacing 5 min, slot in 2 min, last run 1 min ago → min-spacing at lastRun + 5 min",
      policy: policyOf({ minSpacingMs: 5 * MINUTE }),
      state: stateOf({ due: mono(T + 2 * MINUTE), lastRunStartMono: T - MINUTE, pending: wakes("exec-event") }),
      expected: defer("min-spacing", T + 4 * MINUTE, ["exec-event"]),
    },
    {
      name: "minSpacing 0: still waits for the slot",
      policy: policyOf({ minSpacingMs: 0 }),
      state: stateOf({ due: mono(T + 2 * MINUTE), lastRunStartMono: JUST_RAN, pending: wakes("exec-event") }),
      expected: defer("not-due", T + 2 * MINUTE, ["exec-event"]),
    },
    {
      name: "cron agent: the wall due is converted to mono for the retry",
      agent: hourlyCron,
      state: stateOf({ due: wall(utc(12, 1)), lastRunStartMono: T - 10 * MINUTE, pending: wakes("exec-event") }),
      expected: defer("not-due", T + MINUTE, ["exec-event"]),
    },
    {
      name: "several event wakes together are still deferred",
      state: stateOf({ due: NOT_DUE, lastRunStartMono: T - 10 * MINUTE, pending: wakes("exec-event", "acp:spawn:a", "x") }),
      expected: defer("not-due", T + 10 * MINUTE, ["exec-event", "acp:spawn:a", "x"]),
    },
    {
      name: "event deferral comes before busy lanes (no backoff for a wake that is not due)",
      lanes: MAIN_BUSY,
      state: stateOf({ due: NOT_DUE, lastRunStartMono: T - 10 * MINUTE, pending: wakes("exec-event") }),
      expected: defer("not-due", T + 10 * MINUTE, ["exec-event"]),
    },
    {
      name: "bootstrap event wake still respects a busy lane",
      lanes: SESSION_BUSY,
      state: stateOf({ due: NOT_DUE, pending: wakes("exec-event") }),
      expected: defer("session-lane-busy", T + SECOND, ["exec-event"], { lane: "session" }),
    },
  ]))("%s", (_name, row) => check(row));
});

describe("decide: flood guard (5 starts in 60 s)", () => {
  it.each(cases([
    {
      name: "6th wake-driven start → defer flood until oldest + window, first trip",
      state: stateOf({ due: NOT_DUE, lastRunStartMono: T - 10 * SECOND, runStarts: FIVE_IN_WINDOW, pending: wakes("wake") }),
      expected: defer("flood", T + 10 * SECOND, ["wake"], { floodTripped: true }),
    },
    {
      name: "already held in this episode → flood, not tripped again",
      state: stateOf({ due: NOT_DUE, lastRunStartMono: T - 10 * SECOND, runStarts: FIVE_IN_WINDOW, floodHeldMono: T - 5 * SECOND, pending: wakes("hook:wake") }),
      expected: defer("flood", T + 10 * SECOND, ["hook:wake"], { floodTripped: false }),
    },
    {
      name: "every immediate source is flood-guarded (cron:<job>)",
      state: stateOf({ due: NOT_DUE, lastRunStartMono: T - 10 * SECOND, runStarts: FIVE_IN_WINDOW, pending: wakes("cron:job") }),
      expected: defer("flood", T + 10 * SECOND, ["cron:job"], { floodTripped: true }),
    },
    {
      name: "a start exactly 60 s ago is outside the window → only 4 count → run",
      state: stateOf({
        due: NOT_DUE,
        lastRunStartMono: T - 10 * SECOND,
        runStarts: [T - 60 * SECOND, T - 40 * SECOND, T - 30 * SECOND, T - 20 * SECOND, T - 10 * SECOND],
        pending: wakes("wake"),
      }),
      expected: run(["wake"], false),
    },
    {
      name: "4 starts in the window → run",
      state: stateOf({ due: NOT_DUE, lastRunStartMono: T - 10 * SECOND, runStarts: FIVE_IN_WINDOW.slice(1), pending: wakes("wake") }),
      expected: run(["wake"], false),
    },
    {
      name: "manual bypasses the flood guard",
      state: stateOf({ due: NOT_DUE, lastRunStartMono: T - 10 * SECOND, runStarts: FIVE_IN_WINDOW, floodHeldMono: T - 5 * SECOND, pending: wakes("manual") }),
      expected: run(["manual"], false),
    },
    {
      name: "manual carries other folded wakes past the guard",
      state: stateOf({ due: NOT_DUE, lastRunStartMono: T - 10 * SECOND, runStarts: FIVE_IN_WINDOW, pending: wakes("wake", "manual") }),
      expected: run(["wake", "manual"], false),
    },
    {
      name: "a due scheduled slot is never flood-held",
      state: stateOf({ due: mono(T), lastRunStartMono: T - 10 * SECOND, runStarts: FIVE_IN_WINDOW, floodHeldMono: T - 5 * SECOND, pending: wakes("wake") }),
      expected: run(["interval", "wake"], true),
    },
    {
      name: "more starts than maxRuns (maxRuns lowered to 3) → retry when the 3rd newest leaves the window",
      policy: policyOf({ flood: { maxRuns: 3, windowMs: 60_000 } }),
      state: stateOf({ due: NOT_DUE, lastRunStartMono: T - 10 * SECOND, runStarts: FIVE_IN_WINDOW, pending: wakes("wake") }),
      expected: defer("flood", T - 30 * SECOND + 60 * SECOND, ["wake"], { floodTripped: true }),
    },
    {
      name: "custom window 10 s: starts older than 10 s do not count",
      policy: policyOf({ flood: { maxRuns: 2, windowMs: 10_000 } }),
      state: stateOf({ due: NOT_DUE, lastRunStartMono: T - 10 * SECOND, runStarts: FIVE_IN_WINDOW, pending: wakes("wake") }),
      expected: run(["wake"], false),
    },
    {
      name: "custom maxRuns 1: one start in the window holds the next",
      policy: policyOf({ flood: { maxRuns: 1, windowMs: 10_000 } }),
      state: stateOf({ due: NOT_DUE, lastRunStartMono: T - 4 * SECOND, runStarts: [T - 4 * SECOND], pending: wakes("wake") }),
      expected: defer("flood", T + 6 * SECOND, ["wake"], { floodTripped: true }),
    },
    {
      name: "flood comes before busy lanes",
      lanes: MAIN_BUSY,
      state: stateOf({ due: NOT_DUE, lastRunStartMono: T - 10 * SECOND, runStarts: FIVE_IN_WINDOW, pending: wakes("wake") }),
      expected: defer("flood", T + 10 * SECOND, ["wake"], { floodTripped: true }),
    },
    {
      // DESIGN: "one flood alert per episode, which ends after a full window without a held wake".
      // Held at T-65 s, manual runs at T-55..T-15 s (they bypass the guard and count): by T the
      // episode is over (65 s without a held wake), so this hold is the first trip of a new episode.
      name: "a hold after a full window without a held wake starts a new episode → floodTripped",
      state: stateOf({
        due: NOT_DUE,
        lastRunStartMono: T - 15 * SECOND,
        runStarts: [T - 55 * SECOND, T - 45 * SECOND, T - 35 * SECOND, T - 25 * SECOND, T - 15 * SECOND],
        floodHeldMono: T - 65 * SECOND,
        pending: wakes("wake"),
      }),
      expected: defer("flood", T + 5 * SECOND, ["wake"], { floodTripped: true }),
    },
  ]))("%s", (_name, row) => check(row));
});

describe("decide: busy lanes (capped exponential backoff, seed 004)", () => {
  const busy = (lane: "main" | "session", attempt: number) => ({ lane, attempt, sinceMono: T - MINUTE });
  it.each(cases([
    { name: "main busy, first attempt → main-lane-busy in 1 s", lanes: MAIN_BUSY, state: stateOf({ due: NOT_DUE, pending: wakes("wake") }), expected: defer("main-lane-busy", T + 1_000, ["wake"], { lane: "main" }) },
    { name: "session busy, first attempt → session-lane-busy in 1 s", lanes: SESSION_BUSY, state: stateOf({ due: NOT_DUE, pending: wakes("wake") }), expected: defer("session-lane-busy", T + 1_000, ["wake"], { lane: "session" }) },
    { name: "both busy → main (global) first", lanes: BOTH_BUSY, state: stateOf({ due: NOT_DUE, pending: wakes("wake") }), expected: defer("main-lane-busy", T + 1_000, ["wake"], { lane: "main" }) },
    { name: "main busy, attempt 1 → 2 s", lanes: MAIN_BUSY, state: stateOf({ due: NOT_DUE, pending: wakes("wake"), busy: busy("main", 1) }), expected: defer("main-lane-busy", T + 2_000, ["wake"], { lane: "main" }) },
    { name: "main busy, attempt 3 → 8 s", lanes: MAIN_BUSY, state: stateOf({ due: NOT_DUE, pending: wakes("wake"), busy: busy("main", 3) }), expected: defer("main-lane-busy", T + 8_000, ["wake"], { lane: "main" }) },
    { name: "session busy, attempt 5 → 32 s", lanes: SESSION_BUSY, state: stateOf({ due: NOT_DUE, pending: wakes("wake"), busy: busy("session", 5) }), expected: defer("session-lane-busy", T + 32_000, ["wake"], { lane: "session" }) },
    { name: "session busy, attempt 6 → capped at 60 s", lanes: SESSION_BUSY, state: stateOf({ due: NOT_DUE, pending: wakes("wake"), busy: busy("session", 6) }), expected: defer("session-lane-busy", T + 60_000, ["wake"], { lane: "session" }) },
    { name: "session busy, attempt 20 → 60 s", lanes: SESSION_BUSY, state: stateOf({ due: NOT_DUE, pending: wakes("wake"), busy: busy("session", 20) }), expected: defer("session-lane-busy", T + 60_000, ["wake"], { lane: "session" }) },
    { name: "lane switched main → session: backoff restarts at 1 s", lanes: SESSION_BUSY, state: stateOf({ due: NOT_DUE, pending: wakes("wake"), busy: busy("main", 3) }), expected: defer("session-lane-busy", T + 1_000, ["wake"], { lane: "session" }) },
    { name: "a due slot waits for a busy lane", lanes: MAIN_BUSY, state: stateOf({ due: mono(T) }), expected: defer("main-lane-busy", T + 1_000, ["interval"], { lane: "main" }) },
    { name: "manual waits for a busy session lane (never interrupts a user turn)", lanes: SESSION_BUSY, state: stateOf({ due: NOT_DUE, pending: wakes("manual") }), expected: defer("session-lane-busy", T + 1_000, ["manual"], { lane: "session" }) },
    {
      name: "custom retry 250 ms → 1 s, attempt 2 → 1 s",
      policy: policyOf({ retry: { initialMs: 250, maxMs: 1_000 } }),
      lanes: MAIN_BUSY,
      state: stateOf({ due: NOT_DUE, pending: wakes("wake"), busy: busy("main", 2) }),
      expected: defer("main-lane-busy", T + 1_000, ["wake"], { lane: "main" }),
    },
    { name: "lanes free again with busy state left over → run", state: stateOf({ due: NOT_DUE, pending: wakes("wake"), busy: busy("main", 4) }), expected: run(["wake"], false) },
  ]))("%s", (_name, row) => check(row));
});

describe("decide: quiet hours (active 09:00–17:00 UTC)", () => {
  const at = (h: number, m = 0): Instant => ({ wall: utc(h, m), mono: T });
  it.each(cases([
    { name: "slot due at 20:00 → skip quiet-hours", agent: office, now: at(20), state: stateOf({ due: mono(T) }), expected: skip("quiet-hours", ["interval"]) },
    { name: "slot due at 08:59 → skip quiet-hours", agent: office, now: at(8, 59), state: stateOf({ due: mono(T) }), expected: skip("quiet-hours", ["interval"]) },
    { name: "slot due at 09:00 (start is inside) → run", agent: office, now: at(9), state: stateOf({ due: mono(T) }), expected: run(["interval"], true) },
    { name: "slot due at 16:59 → run", agent: office, now: at(16, 59), state: stateOf({ due: mono(T) }), expected: run(["interval"], true) },
    { name: "slot due at 17:00 (end is outside) → skip", agent: office, now: at(17), state: stateOf({ due: mono(T) }), expected: skip("quiet-hours", ["interval"]) },
    {
      name: "slot due with an immediate wake in quiet hours → run",
      agent: office,
      now: at(20),
      state: stateOf({ due: mono(T), pending: wakes("wake") }),
      expected: run(["interval", "wake"], true),
    },
    { name: "slot due with a manual wake in quiet hours → run", agent: office, now: at(3), state: stateOf({ due: mono(T), pending: wakes("manual") }), expected: run(["interval", "manual"], true) },
    {
      name: "slot due with only an event wake in quiet hours → skip the slot (the event stays pending)",
      agent: office,
      now: at(20),
      state: stateOf({ due: mono(T), lastRunStartMono: T - HOUR, pending: wakes("exec-event") }),
      expected: skip("quiet-hours", ["interval"]),
    },
    { name: "immediate wake, slot not due, quiet hours → run (only due slots are gated)", agent: office, now: at(20), state: stateOf({ due: NOT_DUE, pending: wakes("wake") }), expected: run(["wake"], false) },
    { name: "overnight 22–06: slot due at 23:00 → run", agent: overnight, now: at(23), state: stateOf({ due: mono(T) }), expected: run(["interval"], true) },
    { name: "overnight 22–06: slot due at 05:59 → run", agent: overnight, now: at(5, 59), state: stateOf({ due: mono(T) }), expected: run(["interval"], true) },
    { name: "overnight 22–06: slot due at 12:00 → skip", agent: overnight, now: at(12), state: stateOf({ due: mono(T) }), expected: skip("quiet-hours", ["interval"]) },
    // Europe/Berlin is UTC+1 in January: 08:30 UTC is 09:30 local (inside), 16:30 UTC is 17:30 (outside)
    { name: "cron agent, window in the agent zone: 08:30 UTC (09:30 Berlin) → run", agent: berlinCronOffice, now: at(8, 30), state: stateOf({ due: wall(utc(8, 30)) }), expected: run(["cron-slot"], true) },
    { name: "cron agent, window in the agent zone: 16:30 UTC (17:30 Berlin) → skip", agent: berlinCronOffice, now: at(16, 30), state: stateOf({ due: wall(utc(16, 30)) }), expected: skip("quiet-hours", ["cron-slot"]) },
  ]))("%s", (_name, row) => check(row));
});


// ---------------------------------------------------------------------------------------------
// Properties over arbitrary states and pending wake sets.

const KNOWN = [
  "interval",
  "cron-slot",
  "manual",
  "wake",
  "hook:wake",
  "background-task",
  "background-task-blocked",
  "cron:job",
  "exec-event",
  "acp:spawn:x",
  "cron:",
];

const eventReasonArb = fc.oneof(
  fc.constantFrom("exec-event", "acp:spawn:x", "acp:spawn:", "cron:", "unknown-reason"),
  fc.string().filter((s) => intentOf(classifyWake(s)) === "event"),
);
const anyReasonArb = fc.oneof(fc.constantFrom(...KNOWN), fc.string());

/** A pending set as addWakes leaves it: one entry per reason. */
const pendingArb = (reason: fc.Arbitrary<string>, minLength: number): fc.Arbitrary<Wake[]> =>
  fc.uniqueArray(reason, { minLength, maxLength: 6 }).map((rs) => rs.map(wakeFromReason));

const dueArb: fc.Arbitrary<Due> = fc.oneof(
  fc.integer({ min: T - 2 * HOUR, max: T + 2 * HOUR }).map(mono),
  fc.integer({ min: utc(12) - 2 * HOUR, max: utc(12) + 2 * HOUR }).map(wall),
  fc.constant(never),
);

const nowArb: fc.Arbitrary<Instant> = fc
  .tuple(fc.integer({ min: -DAY, max: DAY }), fc.integer({ min: 0, max: 10 * MINUTE }))
  .map(([dw, dm]) => ({ wall: utc(12) + dw, mono: T + dm }));

const enabledAgents = [
  every30m,
  agentOf({ id: "fast", every: "1s" }),
  hourlyCron,
  office,
  overnight,
  agentOf({ id: "sess", every: "5m", sessionKey: "s1" }),
];
const agentArb = fc.constantFrom(...enabledAgents);

const policyArb: fc.Arbitrary<ResolvedPolicy> = fc
  .record({
    minSpacingMs: fc.integer({ min: 0, max: 5 * MINUTE }),
    maxRuns: fc.integer({ min: 1, max: 8 }),
    windowMs: fc.integer({ min: 1, max: 5 * MINUTE }),
  })
  .map(({ minSpacingMs, maxRuns, windowMs }) => policyOf({ minSpacingMs, flood: { maxRuns, windowMs } }));

const lanesArb: fc.Arbitrary<LaneState> = fc.record({ mainBusy: fc.boolean(), sessionBusy: fc.boolean() });

const stateArb = (pending: fc.Arbitrary<Wake[]>, lastRun: fc.Arbitrary<number | undefined>): fc.Arbitrary<AgentPolicyState> =>
  fc
    .record({
      due: dueArb,
      lastRunStartMono: lastRun,
      runStarts: fc.array(fc.integer({ min: T - 5 * MINUTE, max: T }), { maxLength: 8 }).map((xs) => [...xs].sort((a, b) => a - b)),
      pending,
      busy: fc.option(
        fc.record({ lane: fc.constantFrom<"main" | "session">("main", "session"), attempt: fc.nat(30), sinceMono: fc.integer({ min: T - HOUR, max: T }) }),
        { nil: undefined },
      ),
      floodHeldMono: fc.option(fc.integer({ min: T - 5 * MINUTE, max: T }), { nil: undefined }),
    })
    .map((r) => stateOf(r));

describe("decide properties", () => {
  it("seed 002: event-only wakes never run before max(due, lastRun + minSpacing) unless the slot itself is due", () => {
    fc.assert(
      fc.property(
        agentArb,
        stateArb(pendingArb(eventReasonArb, 1), fc.integer({ min: T - HOUR, max: T })),
        nowArb,
        policyArb,
        lanesArb,
        (agent, state, now, policy, lanes) => {
          const lastRun = state.lastRunStartMono;
          if (lastRun === undefined) throw new Error("generator gives a last run");
          const dueAt = dueMono(state.due, now) ?? Number.POSITIVE_INFINITY;
          const spacedAt = lastRun + policy.minSpacingMs;
          const floor = Math.max(dueAt, spacedAt);
          fc.pre(now.mono < floor);
          const d = decide(agent, state, now, policy, lanes);
          if (isDue(state.due, now)) {
            // Scheduled slots are not spaced: a run here is the slot's run, with the events folded in.
            if (d.kind === "run") {
              expect(d.ranSlot).toBe(true);
              expect(d.reasons[0]).toBe(slotReason(agent));
            }
          } else {
            expect(d).toEqual({
              kind: "defer",
              reason: dueAt >= spacedAt ? "not-due" : "min-spacing",
              retryMono: floor,
              floodTripped: false,
              lane: undefined,
              reasons: state.pending.map((w) => w.reason),
            });
          }
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it("a disabled agent never runs, whatever is pending", () => {
    const disabled = fc.constantFrom(agentOf({ enabled: false }), agentOf({ every: "0m" }), agentOf({ cron: "0 * * * *", enabled: false }));
    fc.assert(
      fc.property(
        disabled,
        stateArb(pendingArb(anyReasonArb, 0), fc.option(fc.integer({ min: T - HOUR, max: T }), { nil: undefined })),
        nowArb,
        policyArb,
        lanesArb,
        (agent, state, now, policy, lanes) => {
          const d = decide(agent, state, now, policy, lanes);
          expect(d.kind).toBe("skip");
          if (d.kind === "skip") {
            expect(d.reason).toBe("disabled");
            // every pending wake is reported as dropped, none silently lost
            for (const w of state.pending) expect(d.dropped).toContain(w.reason);
          }
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it("no non-manual wake-driven run while maxRuns starts are inside the flood window", () => {
    fc.assert(
      fc.property(
        agentArb,
        stateArb(
          pendingArb(anyReasonArb, 1).filter((ws) => ws.every((w) => w.source.kind !== "manual")),
          fc.option(fc.integer({ min: T - HOUR, max: T }), { nil: undefined }),
        ),
        nowArb,
        policyArb,
        lanesArb,
        (agent, state, now, policy, lanes) => {
          const inWindow = state.runStarts.filter((t) => t > now.mono - policy.flood.windowMs).length;
          fc.pre(!isDue(state.due, now) && inWindow >= policy.flood.maxRuns);
          expect(decide(agent, state, now, policy, lanes).kind).not.toBe("run");
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it("a run's reasons are exactly the slot (when due) plus every pending reason", () => {
    fc.assert(
      fc.property(
        agentArb,
        stateArb(pendingArb(anyReasonArb, 0), fc.option(fc.integer({ min: T - HOUR, max: T }), { nil: undefined })),
        nowArb,
        policyArb,
        (agent, state, now, policy) => {
          const d = decide(agent, state, now, policy, FREE);
          fc.pre(d.kind === "run");
          if (d.kind !== "run") return;
          const expected = new Set(state.pending.map((w) => w.reason));
          if (isDue(state.due, now)) expected.add(slotReason(agent));
          expect(new Set(d.reasons)).toEqual(expected);
          expect(d.reasons.length).toBe(expected.size);
          expect(d.ranSlot).toBe(isDue(state.due, now));
        },
      ),
      { numRuns: 1_000 },
    );
  });
});
