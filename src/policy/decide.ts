import { isWithinActiveHours } from "./active-hours.ts";
import { backoffDelay } from "./backoff.ts";
import { dueMono, isDue, slotMissed, zoneOf } from "./schedule.ts";
import type { AgentPolicyState, Lane } from "./state.ts";
import type { Instant } from "./time.ts";
import type { ResolvedAgent, ResolvedPolicy } from "./types.ts";
import { intentOf, type Wake } from "./wake.ts";

export type DeferReason = "not-due" | "min-spacing" | "flood" | "main-lane-busy" | "session-lane-busy";
export type SkipReason = "disabled" | "quiet-hours" | "paused" | "missed";

export type Decision =
  /** Run now with these reasons; `ranSlot` when the scheduled slot is part of it. */
  | { readonly kind: "run"; readonly reasons: readonly string[]; readonly ranSlot: boolean }
  /** Hold the pending wakes and look again at `retryMono`. */
  | {
      readonly kind: "defer";
      readonly reason: DeferReason;
      readonly retryMono: number;
      /** The flood guard tripped for the first time in this episode: raise one alert. */
      readonly floodTripped: boolean;
      readonly lane: Lane | undefined;
      /** The reasons held (the due slot's included). */
      readonly reasons: readonly string[];
    }
  /** Drop the due slot (and, when disabled, every pending wake) with a recorded reason. */
  | { readonly kind: "skip"; readonly reason: SkipReason; readonly dropped: readonly string[] }
  /** Nothing due and nothing pending (a capped wait elapsed early). */
  | { readonly kind: "wait" };

export interface LaneState {
  readonly mainBusy: boolean;
  readonly sessionBusy: boolean;
}

/**
 * The one wake policy every path goes through (seed 002: a gate on one path only is a
 * runaway on the others). Order: disabled, quiet hours, due/spacing, flood, lanes.
 */
export function decide(
  agent: ResolvedAgent,
  state: AgentPolicyState,
  now: Instant,
  policy: ResolvedPolicy,
  lanes: LaneState,
): Decision {
  const slotDue = isDue(state.due, now);
  const pending = state.pending;
  if (!agent.enabled) {
    return { kind: "skip", reason: "disabled", dropped: reasonsOf(pending, slotDue, agent) };
  }
  if (!slotDue && pending.length === 0) return { kind: "wait" };

  let manual = false;
  let immediate = false;
  let event = false;
  let forced = false;
  for (const w of pending) {
    const intent = intentOf(w.source);
    if (w.source.kind === "manual") manual = true;
    if (w.force) forced = true;
    if (intent === "immediate") immediate = true;
    else if (intent === "event") event = true;
  }

  // Paused by an operator: only a forced manual wake gets through (and only past the lanes).
  if (state.paused && !forced) {
    return { kind: "skip", reason: "paused", dropped: reasonsOf(pending, slotDue, agent) };
  }

  // Scheduled-intent wakes only ever run with their slot.
  if (!slotDue && !immediate && !event) return { kind: "wait" };

  // A slot found late (a host that slept, a process that was down) follows the catch-up
  // policy; a slot made late by a busy lane is not missed, it is waiting.
  if (slotDue && !immediate && !state.busy && slotMissed(agent, state.due, now)) {
    return { kind: "skip", reason: "missed", dropped: [slotReason(agent)] };
  }

  if (slotDue && !immediate && agent.activeHours) {
    if (!isWithinActiveHours(agent.activeHours, now.wall, zoneOf(agent))) {
      return { kind: "skip", reason: "quiet-hours", dropped: [slotReason(agent)] };
    }
  }

  if (!slotDue && !immediate && event && state.lastRunStartMono !== undefined) {
    // Event wakes after the first run wait for the next slot and the spacing floor.
    const dueAt = dueMono(state.due, now) ?? Number.POSITIVE_INFINITY;
    const spacedAt = state.lastRunStartMono + policy.minSpacingMs;
    const retryMono = Math.max(dueAt, spacedAt);
    if (retryMono > now.mono) {
      const reason: DeferReason = dueAt >= spacedAt ? "not-due" : "min-spacing";
      return { kind: "defer", reason, retryMono, floodTripped: false, lane: undefined, reasons: reasonsOf(pending, slotDue, agent) };
    }
  }

  if (!slotDue && !manual && !forced) {
    const windowStart = now.mono - policy.flood.windowMs;
    const recent = state.runStarts.filter((t) => t > windowStart);
    if (recent.length >= policy.flood.maxRuns) {
      const oldest = recent[recent.length - policy.flood.maxRuns] ?? now.mono;
      return {
        kind: "defer",
        reason: "flood",
        retryMono: oldest + policy.flood.windowMs,
        // A hold after a full window without one is a new episode.
        floodTripped: state.floodHeldMono === undefined || now.mono - state.floodHeldMono >= policy.flood.windowMs,
        lane: undefined,
        reasons: reasonsOf(pending, slotDue, agent),
      };
    }
  }

  const busyLane: Lane | undefined = lanes.mainBusy ? "main" : lanes.sessionBusy ? "session" : undefined;
  if (busyLane) {
    const attempt = state.busy?.lane === busyLane ? state.busy.attempt : 0;
    return {
      kind: "defer",
      reason: busyLane === "main" ? "main-lane-busy" : "session-lane-busy",
      retryMono: now.mono + backoffDelay(policy.retry, attempt),
      floodTripped: false,
      lane: busyLane,
      reasons: reasonsOf(pending, slotDue, agent),
    };
  }

  return { kind: "run", reasons: reasonsOf(pending, slotDue, agent), ranSlot: slotDue };
}

/** Reasons in arrival order without repeats; the scheduled slot first when it is due. */
function reasonsOf(pending: readonly Wake[], slotDue: boolean, agent: ResolvedAgent): string[] {
  const out = new Set<string>();
  if (slotDue) out.add(slotReason(agent));
  for (const w of pending) out.add(w.reason);
  return [...out];
}

export function slotReason(agent: ResolvedAgent): string {
  return agent.schedule.kind === "cron" ? "cron-slot" : "interval";
}
