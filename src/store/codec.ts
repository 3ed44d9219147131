import type { AgentAlertKind } from "../policy/alerts.ts";
import type { AgentPolicyState, Due } from "../policy/state.ts";
import { dueWall } from "../policy/schedule.ts";
import type { Instant } from "../policy/time.ts";
import { wakeFromReason } from "../policy/wake.ts";
import type { StoredAgentState } from "./types.ts";

/** What a heartbeat actor carries besides its policy state. */
export interface CarriedState {
  readonly s: AgentPolicyState;
  readonly openAlerts: readonly AgentAlertKind[];
  readonly timedOut: boolean;
  /** The last run id used. */
  readonly runSeq: number;
}

const toWall = (mono: number, now: Instant): number => Math.round(now.wall + (mono - now.mono));
const toMono = (wall: number, now: Instant): number => now.mono + (wall - now.wall);
/**
 * A time that was in the past when saved. If the wall clock stepped back while the process
 * was down it would come back in the future (a busy lane that never looks wedged, a flood
 * window that never ends): it is at most now.
 */
const pastMono = (wall: number, now: Instant): number => Math.min(toMono(wall, now), now.mono);

/** Monotonic times become wall times: the only clock that means anything after a restart. */
export function encodeAgent(agentId: string, configKey: string, c: CarriedState, now: Instant): StoredAgentState {
  const s = c.s;
  const due = dueWall(s.due, now);
  return {
    agentId,
    configKey,
    dueAt: due === undefined ? null : Math.round(due),
    lastRunAt: s.lastRunAt ?? null,
    lastRunStartAt: s.lastRunStartMono === undefined ? null : toWall(s.lastRunStartMono, now),
    lastStatus: s.lastStatus ?? null,
    runStarts: s.runStarts.map((t) => toWall(t, now)),
    pending: s.pending.map((w) => w.reason),
    busy: s.busy ? { lane: s.busy.lane, attempt: s.busy.attempt, since: toWall(s.busy.sinceMono, now) } : null,
    floodHeldAt: s.floodHeldMono === undefined ? null : toWall(s.floodHeldMono, now),
    runCount: s.runCount,
    skipCount: s.skipCount,
    consecutiveZeroWork: s.consecutiveZeroWork,
    openAlerts: [...c.openAlerts],
    timedOut: c.timedOut,
    lastRunId: c.runSeq,
    paused: s.paused ? { reason: s.paused.reason, since: s.paused.sinceWall } : null,
    updatedAt: now.wall,
  };
}

/**
 * Back to a live state. The stored due slot is a wall time (so a slot missed while down
 * is due at once, and runs once); `freshDue` replaces it when the agent's schedule changed
 * while the process was down.
 */
export function decodeAgent(stored: StoredAgentState, now: Instant, freshDue: Due | undefined, intervalMs?: number): CarriedState {
  // An interval slot is a span of elapsed time: once restored it counts on the monotonic
  // clock, or a wall step after the restart would silence the agent (or run it early). It
  // is never more than one interval away: further means the wall clock stepped back while
  // the process was down, and the agent would be silent for the length of the step.
  const restored: Due =
    stored.dueAt === null
      ? { kind: "never" }
      : intervalMs !== undefined
        ? { kind: "mono", at: Math.min(toMono(stored.dueAt, now), now.mono + intervalMs) }
        : { kind: "wall", at: stored.dueAt };
  const due: Due = freshDue ?? restored;
  return {
    s: {
      due,
      lastRunStartMono: stored.lastRunStartAt === null ? undefined : pastMono(stored.lastRunStartAt, now),
      lastRunAt: stored.lastRunAt ?? undefined,
      runStarts: stored.runStarts.map((t) => pastMono(t, now)),
      pending: stored.pending.map(wakeFromReason),
      busy: stored.busy ? { lane: stored.busy.lane, attempt: stored.busy.attempt, sinceMono: pastMono(stored.busy.since, now) } : undefined,
      floodHeldMono: stored.floodHeldAt === null ? undefined : pastMono(stored.floodHeldAt, now),
      lastStatus: stored.lastStatus ?? undefined,
      runCount: stored.runCount,
      skipCount: stored.skipCount,
      consecutiveZeroWork: stored.consecutiveZeroWork,
      // Stores written before pausing existed have no field: not paused.
      paused: stored.paused ? { reason: stored.paused.reason, sinceWall: stored.paused.since } : undefined,
    },
    openAlerts: stored.openAlerts,
    timedOut: stored.timedOut,
    // Rows from before lastRunId was kept: every run counted, so this is at least the last id.
    runSeq: stored.lastRunId ?? stored.runCount + stored.skipCount,
  };
}
