import { nextWindowOpening } from "./active-hours.ts";
import { nextCronSlot } from "./cron.ts";
import { phaseOffset } from "./phase.ts";
import type { Due } from "./state.ts";
import { type Instant, MAX_TIMER_MS, WALL_RECHECK_MS } from "./time.ts";
import type { ResolvedAgent, Schedule } from "./types.ts";
import { assertNever } from "./wake.ts";

const NEVER: Due = { kind: "never" };

/** The first slot after start: intervals get a stable phase in (0, every], never start itself. */
export function firstDue(agent: ResolvedAgent, now: Instant): Due {
  if (!agent.enabled) return NEVER;
  const s = agent.schedule;
  switch (s.kind) {
    case "interval": {
      // Phase in (0, every], shifted by the agent's jitter and kept in (0, every].
      const offset = ((phaseOffset(agent.id, s.everyMs) + agent.jitterMs - 1) % s.everyMs) + 1;
      return { kind: "mono", at: now.mono + offset };
    }
    case "cron":
      return cronSlotAfter(s, now.wall, agent.jitterMs);
    case "off":
      return NEVER;
    default:
      return assertNever(s);
  }
}

/**
 * The slot after a run that started at `now`. Any run restarts an interval (the cadence
 * is the longest gap between turns); a scheduled run keeps the grid unless it ran so
 * late that the next grid point has passed (missed slots are never backfilled).
 * Cron slots move only when the slot itself ran.
 */
export function nextDueAfterRun(agent: ResolvedAgent, due: Due, now: Instant, ranSlot: boolean): Due {
  if (!agent.enabled) return NEVER;
  const s = agent.schedule;
  switch (s.kind) {
    case "interval": {
      if (ranSlot && due.kind === "mono" && due.at + s.everyMs > now.mono) {
        return { kind: "mono", at: due.at + s.everyMs };
      }
      return { kind: "mono", at: now.mono + s.everyMs };
    }
    case "cron":
      return ranSlot || due.kind === "never" ? cronSlotAfter(s, now.wall, agent.jitterMs) : due;
    case "off":
      return NEVER;
    default:
      return assertNever(s);
  }
}

/** The slot after a due slot was skipped: outside active hours, the window's opening. */
export function nextDueAfterSkip(agent: ResolvedAgent, due: Due, now: Instant, quietHours: boolean): Due {
  if (quietHours && agent.activeHours) {
    const opening = nextWindowOpening(agent.activeHours, now.wall, zoneOf(agent));
    if (opening !== undefined) return { kind: "wall", at: opening };
  }
  const s = agent.schedule;
  const at = dueMono(due, now);
  if (s.kind === "interval" && at !== undefined && agent.enabled) {
    // The next point of the agent's grid after now: skipped slots are not made up.
    return { kind: "mono", at: at + Math.max(1, Math.ceil((now.mono - at + 1) / s.everyMs)) * s.everyMs };
  }
  return nextDueAfterRun(agent, due, now, true);
}

export function isDue(due: Due, now: Instant): boolean {
  switch (due.kind) {
    case "mono":
      return now.mono >= due.at;
    case "wall":
      return now.wall >= due.at;
    case "never":
      return false;
    default:
      return assertNever(due);
  }
}

/**
 * How long to wait before looking again. Monotonic waits are capped at the platform
 * timer limit (an over-limit timeout fires after 1 ms); wall waits re-check at least
 * every 30 s so a wall-clock jump or a host that slept is noticed.
 */
export function untilDue(due: Due, now: Instant): number {
  switch (due.kind) {
    case "mono":
      return clampWait(due.at - now.mono, MAX_TIMER_MS);
    case "wall":
      return clampWait(due.at - now.wall, WALL_RECHECK_MS);
    case "never":
      return MAX_TIMER_MS;
    default:
      return assertNever(due);
  }
}

/** A Due as a monotonic instant (wall dues estimated from the current offset). */
export function dueMono(due: Due, now: Instant): number | undefined {
  switch (due.kind) {
    case "mono":
      return due.at;
    case "wall":
      return now.mono + (due.at - now.wall);
    case "never":
      return undefined;
    default:
      return assertNever(due);
  }
}

/** A Due as wall time, for reports. */
export function dueWall(due: Due, now: Instant): number | undefined {
  switch (due.kind) {
    case "mono":
      return now.wall + (due.at - now.mono);
    case "wall":
      return due.at;
    case "never":
      return undefined;
    default:
      return assertNever(due);
  }
}

/** The agent's typical gap between slots, used by detectors (past-due, busy-wedged). */
export function cadenceMs(schedule: Schedule, nowWall: number): number | undefined {
  switch (schedule.kind) {
    case "interval":
      return schedule.everyMs;
    case "cron": {
      const a = nextCronSlot(schedule.pattern, nowWall);
      const b = a === undefined ? undefined : nextCronSlot(schedule.pattern, a);
      return a !== undefined && b !== undefined ? b - a : undefined;
    }
    case "off":
      return undefined;
    default:
      return assertNever(schedule);
  }
}

export function zoneOf(agent: ResolvedAgent): string | undefined {
  return agent.schedule.kind === "cron" ? agent.schedule.timezone : undefined;
}

/** The first jittered cron slot strictly after `wall`. */
function cronSlotAfter(s: Extract<Schedule, { kind: "cron" }>, wall: number, jitterMs: number): Due {
  const at = nextCronSlot(s.pattern, wall - jitterMs);
  return at === undefined ? NEVER : { kind: "wall", at: at + jitterMs };
}

/**
 * Whether the slot now due was missed under the agent's catch-up policy: with "once"
 * the latest slot up to now runs unless it is older than the window (default one
 * cadence, so after any sleep the latest slot runs, once); with "skip" a slot found more
 * than half a cadence (at most a minute) late is skipped and the next runs on time.
 */
export function slotMissed(agent: ResolvedAgent, due: Due, now: Instant): boolean {
  const cadence = cadenceMs(agent.schedule, now.wall);
  if (cadence === undefined) return false;
  const allowed = agent.catchUp === "skip" ? Math.min(cadence / 2, 60_000) : (agent.catchUpWindowMs ?? cadence);
  const s = agent.schedule;
  if (s.kind === "cron") {
    // Is there a (jittered) slot in (now - allowed, now]? That is the latest one, run it.
    const shifted = now.wall - agent.jitterMs;
    const latest = nextCronSlot(s.pattern, shifted - allowed - 1);
    return latest === undefined || latest > shifted;
  }
  const at = dueMono(due, now);
  if (at === undefined) return false;
  // The latest grid point up to now is late by `late % every`.
  return (now.mono - at) % cadence > allowed;
}

/** The due slot after a resume: kept when still ahead, else the next slot after now (never a burst). */
export function dueAfterResume(agent: ResolvedAgent, due: Due, now: Instant): Due {
  if (!isDue(due, now)) return due;
  return nextDueAfterSkip(agent, due, now, false);
}

function clampWait(ms: number, cap: number): number {
  return Math.min(Math.max(0, Math.ceil(ms)), cap);
}
