import { cadenceMs, dueMono } from "./schedule.ts";
import type { AgentPolicyState } from "./state.ts";
import type { Instant } from "./time.ts";
import type { ResolvedAgent, ResolvedPolicy } from "./types.ts";

export type AlertKind =
  | "past-due"
  | "zero-work-streak"
  | "flood"
  | "busy-wedged"
  | "run-timed-out"
  | "restart-limit"
  | "store-unavailable";

/** Agent-level alerts the heartbeat machine derives from its own state. */
export type AgentAlertKind = Extract<AlertKind, "past-due" | "zero-work-streak" | "flood" | "busy-wedged" | "run-timed-out">;

export interface AlertFlags {
  /** The last run ended at its deadline; cleared when a later run finishes otherwise. */
  readonly timedOut: boolean;
  /** A run is in flight (a running agent is not late). */
  readonly running: boolean;
}

/**
 * The set of alerts that are open for this agent now. An alert is an episode: it opens
 * when its condition first holds and closes when the condition ends, so diffing the set
 * before and after each step raises each alert once and re-arms it after recovery.
 */
export function openAgentAlerts(
  agent: ResolvedAgent,
  state: AgentPolicyState,
  now: Instant,
  policy: ResolvedPolicy,
  flags: AlertFlags,
): AgentAlertKind[] {
  const open: AgentAlertKind[] = [];
  if (!agent.enabled) return open;
  // The cadence of a cron agent costs two slot look-ups: only ask when a detector could fire.
  let cadence: number | undefined | null = null;
  const cadenceNow = (): number | undefined => (cadence === null ? (cadence = cadenceMs(agent.schedule, now.wall)) : cadence);
  const due = dueMono(state.due, now);
  // A paused agent is late on purpose: no past-due or busy-wedged while paused.
  if (!flags.running && !state.paused && due !== undefined && now.mono > due) {
    const c = cadenceNow();
    if (c !== undefined && now.mono - due > policy.pastDueCadences * c) open.push("past-due");
  }
  if (state.consecutiveZeroWork >= policy.zeroWorkStreak) open.push("zero-work-streak");
  // The episode ends after a full window without a held wake.
  if (state.floodHeldMono !== undefined && now.mono - state.floodHeldMono < policy.flood.windowMs) open.push("flood");
  if (state.busy && !state.paused) {
    const c = cadenceNow();
    if (c !== undefined && now.mono - state.busy.sinceMono > policy.busyWedgedCadences * c) open.push("busy-wedged");
  }
  if (flags.timedOut) open.push("run-timed-out");
  return open;
}

export function alertMessage(kind: AlertKind, agentId: string): string {
  switch (kind) {
    case "past-due":
      return `heartbeat for ${agentId} is more than its allowed cadences late`;
    case "zero-work-streak":
      return `heartbeat for ${agentId} ran several times in a row without doing any work (0 tokens)`;
    case "flood":
      return `wakes for ${agentId} are arriving faster than the flood guard allows; extra runs are held`;
    case "busy-wedged":
      return `a lane for ${agentId} has reported busy for longer than its allowed cadences`;
    case "run-timed-out":
      return `a heartbeat run for ${agentId} hit its runTimeout and was aborted`;
    case "restart-limit":
      return `the heartbeat actor for ${agentId} crashed too often and was marked failed`;
    case "store-unavailable":
      return `the store is unavailable; state for ${agentId} is kept in memory`;
  }
}
