import type { Decision } from "./decide.ts";
import type { RunOutcome } from "./outcome.ts";
import { isDue, nextDueAfterRun, nextDueAfterSkip } from "./schedule.ts";
import type { AgentPolicyState } from "./state.ts";
import type { Instant } from "./time.ts";
import type { ResolvedAgent, ResolvedPolicy } from "./types.ts";
import type { Wake } from "./wake.ts";

/** Pure state steps the machine applies; each takes the state before and returns the state after. */

/** Fold wakes into the pending set. Same reason twice is one entry: a storm stays bounded. */
export function addWakes(state: AgentPolicyState, wakes: readonly Wake[]): AgentPolicyState {
  let pending = state.pending;
  for (const w of wakes) {
    const i = pending.findIndex((p) => p.reason === w.reason);
    if (i < 0) pending = [...pending, w];
    // A forced manual wake upgrades a plain one already held.
    else if (w.force && !pending[i]?.force) pending = pending.map((p, j) => (j === i ? w : p));
  }
  return pending === state.pending ? state : { ...state, pending };
}

export function runStarted(
  agent: ResolvedAgent,
  state: AgentPolicyState,
  decision: Extract<Decision, { kind: "run" }>,
  now: Instant,
  policy: ResolvedPolicy,
): AgentPolicyState {
  const windowStart = now.mono - policy.flood.windowMs;
  const runStarts = [...state.runStarts.filter((t) => t > windowStart), now.mono].slice(-policy.flood.maxRuns);
  return {
    ...state,
    due: nextDueAfterRun(agent, state.due, now, decision.ranSlot),
    lastRunStartMono: now.mono,
    runStarts,
    pending: [],
    busy: undefined,
    floodHeldMono: floodEpisodeOver(state, now, policy) ? undefined : state.floodHeldMono,
  };
}

/** Counters move only for runs that reached the host and were not skipped by it (seed 001). */
export function runFinished(
  state: AgentPolicyState,
  outcome: RunOutcome,
  startedAtWall: number,
): AgentPolicyState {
  const lastStatus = outcome.status;
  switch (outcome.status) {
    case "skipped":
      return { ...state, lastStatus, skipCount: state.skipCount + 1 };
    case "ran": {
      const tokens = outcome.usage ? outcome.usage.inputTokens + outcome.usage.outputTokens : undefined;
      const consecutiveZeroWork =
        tokens === undefined ? state.consecutiveZeroWork : tokens === 0 ? state.consecutiveZeroWork + 1 : 0;
      return { ...state, lastStatus, runCount: state.runCount + 1, lastRunAt: startedAtWall, consecutiveZeroWork };
    }
    case "failed":
    case "timed-out":
    case "aborted":
      return { ...state, lastStatus, runCount: state.runCount + 1, lastRunAt: startedAtWall };
  }
}

export function deferred(
  state: AgentPolicyState,
  decision: Extract<Decision, { kind: "defer" }>,
  now: Instant,
  policy: ResolvedPolicy,
): AgentPolicyState {
  const lane = decision.lane;
  const busy =
    lane === undefined
      ? undefined
      : {
          lane,
          attempt: state.busy?.lane === lane ? state.busy.attempt + 1 : 1,
          sinceMono: state.busy?.sinceMono ?? now.mono,
        };
  const floodHeldMono =
    decision.reason === "flood" ? now.mono : floodEpisodeOver(state, now, policy) ? undefined : state.floodHeldMono;
  return { ...state, busy, floodHeldMono };
}

export function skipped(
  agent: ResolvedAgent,
  state: AgentPolicyState,
  decision: Extract<Decision, { kind: "skip" }>,
  now: Instant,
): AgentPolicyState {
  const skipCount = state.skipCount + 1;
  switch (decision.reason) {
    case "disabled":
      return { ...state, due: { kind: "never" }, pending: [], skipCount };
    case "quiet-hours":
      return { ...state, due: nextDueAfterSkip(agent, state.due, now, true), skipCount };
    case "paused":
      // Everything held is dropped (and recorded); the schedule moves on to the next slot.
      return { ...state, due: isDue(state.due, now) ? nextDueAfterSkip(agent, state.due, now, false) : state.due, pending: [], skipCount };
    case "missed":
      return { ...state, due: nextDueAfterSkip(agent, state.due, now, false), busy: undefined, skipCount };
  }
}

/** A flood episode ends after a full window without a held wake. */
export function floodEpisodeOver(state: AgentPolicyState, now: Instant, policy: ResolvedPolicy): boolean {
  return state.floodHeldMono !== undefined && now.mono - state.floodHeldMono >= policy.flood.windowMs;
}
