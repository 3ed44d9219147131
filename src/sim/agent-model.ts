import { cadenceOf, isSlotReason, nextSlot, WALL_RECHECK_MS, type RefAgent, type RefPolicy } from "./reference.ts";
import type { KnownBug, Rule } from "./rules.ts";

/**
 * The reference model of one agent: what the runtime should remember about it (last run,
 * recent starts), when its next slot can be due at the latest, and what is in flight.
 * Deliberately simple; the rules compare the runtime's events against it.
 */

export interface RunRec {
  readonly runId: number;
  readonly start: number;
  /** The runTimeout when it started: a reload during the run does not move its deadline. */
  readonly timeoutMs: number;
  end: number | undefined;
  watchdogReported: boolean;
}

export interface AgentModel {
  spec: RefAgent;
  /** Configured, enabled and not failed: it may run. */
  live: boolean;
  failed: boolean;
  /** Policy memory the runtime keeps (reset when the runtime starts the agent fresh). */
  lastRunStart: number | undefined;
  recentStarts: number[];
  /** False when the runtime's memory may differ from ours (then only one-sided checks run). */
  certain: boolean;
  /** Scheduled runs in this schedule segment. */
  slotRuns: number[];
  lastSlotWall: number | undefined;
  segmentWall: number;
  /** Silence: the latest the next slot can be due (interval: mono; cron: wall). */
  expectMono: number;
  expectWall: number;
  overdueSince: number | undefined;
  silentReported: boolean;
  run: RunRec | undefined;
  runs: RunRec[];
  maxRunId: number;
  /** Not in the config (removed by a reload); its stored state is deleted. */
  removed: boolean;
  alerts: Set<string>;
  zeroStreak: number;
  /** Deferral obligation: reasons held, to be decided again by `by` (mono). */
  held: { reasons: readonly string[]; by: number } | undefined;
  /** During a reload: the session key the new config gives it (either may be in force). */
  nextSessionKey: string | undefined | null;
}

export type Fail = (rule: Rule, agentId: string, detail: string, known?: KnownBug) => void;


interface Now {
  readonly mono: number;
  readonly wall: number;
}

/** `prev`: the agent existed before in this store's life (its run ids and claims are remembered). */
export function freshModel(spec: RefAgent, now: Now, prev: AgentModel | undefined): AgentModel {
  return {
    spec,
    live: spec.enabled,
    failed: false,
    lastRunStart: undefined,
    recentStarts: [],
    certain: true,
    slotRuns: [],
    lastSlotWall: undefined,
    segmentWall: now.wall,
    expectMono: now.mono + intervalOf(spec),
    expectWall: firstSlotWall(spec, now.wall),
    overdueSince: undefined,
    silentReported: false,
    run: prev?.run,
    runs: prev?.runs ?? [],
    maxRunId: prev?.maxRunId ?? 0,
    removed: false,
    alerts: new Set(),
    zeroStreak: 0,
    held: undefined,
    nextSessionKey: null,
  };
}

/** The schedule starts over (new agent, new schedule, re-enabled): a new first slot. */
export function newSegment(m: AgentModel, now: Now): void {
  m.slotRuns = [];
  m.lastSlotWall = undefined;
  m.segmentWall = now.wall;
  m.expectMono = now.mono + intervalOf(m.spec);
  m.expectWall = firstSlotWall(m.spec, now.wall);
  m.overdueSince = undefined;
  m.silentReported = false;
  // A slot held under the old schedule is gone with it (held wakes are decided again at once).
  if (m.held?.reasons.every(isSlotReason)) m.held = undefined;
}

function intervalOf(spec: RefAgent): number {
  return spec.schedule.kind === "interval" ? spec.schedule.everyMs : 0;
}

function firstSlotWall(spec: RefAgent, wall: number): number {
  return spec.schedule.kind === "cron" ? nextSlot(spec.schedule, wall) : Number.NEGATIVE_INFINITY;
}

/**
 * A scheduled run: never more than the schedule allows. Intervals: k+1 slot runs span at
 * least (k-1) cadences (the grid allows one short gap after a late run). Cron: each slot
 * run is at or after the first slot following the previous one (no double slot, no
 * backfill after a sleep, whatever the wall clock did).
 */
export function slotRan(m: AgentModel, runId: number, now: Now, fail: Fail): void {
  const s = m.spec.schedule;
  if (s.kind === "interval") {
    const runs = m.slotRuns;
    for (let i = runs.length - 1, k = 1; i >= 0 && k <= 4; i--, k++) {
      if (now.mono - runs[i]! < (k - 1) * s.everyMs) {
        fail("slot-budget", m.spec.id, `slot run ${runId}: ${k + 1} scheduled runs within ${now.mono - runs[i]!} ms (every ${s.everyMs} ms)`);
        break;
      }
    }
    runs.push(now.mono);
    if (runs.length > 5) runs.shift();
    return;
  }
  const after = m.lastSlotWall ?? m.segmentWall;
  const slot = nextSlot(s, after - (m.lastSlotWall === undefined ? 1 : 0));
  if (now.wall < slot) fail("slot-budget", m.spec.id, `cron slot run ${runId} at ${iso(now.wall)} before the slot after ${iso(after)} (${iso(slot)})`);
  m.lastSlotWall = now.wall;
  m.expectWall = nextSlot(s, now.wall);
}

/** A due slot skipped with a reason (quiet hours, missed after a sleep, paused) is accounted for. */
export function slotSkipped(m: AgentModel, now: Now): void {
  const s = m.spec.schedule;
  if (s.kind === "interval") m.expectMono = now.mono + s.everyMs;
  else {
    m.lastSlotWall = now.wall;
    m.expectWall = nextSlot(s, now.wall);
  }
  m.overdueSince = undefined;
  m.silentReported = false;
}

const EXPLAINS_LATENESS = new Set(["past-due", "busy-wedged", "restart-limit", "store-unavailable"]);

/**
 * No silent gap: once the next slot is more than `pastDueCadences` cadences late (plus the
 * detector's latency: one sweep, and for cron the 30 s wall re-check), either a run
 * happened or an alert that explains the lateness is open.
 */
export function checkSilence(m: AgentModel, now: Now, p: RefPolicy, fail: Fail): void {
  if (m.silentReported || [...m.alerts].some((k) => EXPLAINS_LATENESS.has(k))) return;
  const k = p.pastDueCadences;
  const s = m.spec.schedule;
  if (s.kind === "interval") {
    if (now.mono > m.expectMono + k * s.everyMs + p.sweepMs + 1) {
      m.silentReported = true;
      fail("silent-gap", m.spec.id, `no run and no alert ${now.mono - m.expectMono} ms after the slot was due (every ${s.everyMs} ms)`);
    }
    return;
  }
  if (!(now.wall > m.expectWall)) {
    m.overdueSince = undefined;
    return;
  }
  const cadence = Math.max(cadenceOf(m.spec, m.expectWall - 1), cadenceOf(m.spec, now.wall));
  if (!(now.wall > m.expectWall + k * cadence)) {
    m.overdueSince = undefined;
    return;
  }
  m.overdueSince ??= now.mono;
  if (now.mono - m.overdueSince > WALL_RECHECK_MS + p.sweepMs + 1) {
    m.silentReported = true;
    fail("silent-gap", m.spec.id, `cron slot ${iso(m.expectWall)} not run and no alert ${Math.round((now.wall - m.expectWall) / 1000)} s later`);
  }
}

export function iso(wall: number): string {
  return Number.isFinite(wall) ? new Date(wall).toISOString() : String(wall);
}
