import type { RunStatus } from "./outcome.ts";
import type { Wake } from "./wake.ts";

/** The next scheduled slot: intervals on the monotonic clock, cron slots and window openings on wall time. */
export type Due =
  | { readonly kind: "mono"; readonly at: number }
  | { readonly kind: "wall"; readonly at: number }
  | { readonly kind: "never" };

export type Lane = "main" | "session";

/** Everything the pure policy needs to know about one agent's past. */
export interface AgentPolicyState {
  readonly due: Due;
  /** Monotonic start of the last run that reached the host. */
  readonly lastRunStartMono: number | undefined;
  /** Wall time of the last run that reached the host (reported, never used for spacing). */
  readonly lastRunAt: number | undefined;
  /** Monotonic starts of recent runs, newest last, pruned to the flood window. */
  readonly runStarts: readonly number[];
  /** Wakes folded together, waiting for a run. Never dropped silently. */
  readonly pending: readonly Wake[];
  /** Present while a lane keeps answering busy. */
  readonly busy: { readonly lane: Lane; readonly attempt: number; readonly sinceMono: number } | undefined;
  /** Monotonic time the flood guard last held a wake; set while an episode is open. */
  readonly floodHeldMono: number | undefined;
  /** Status of the last run that reached the host (a host skip included). */
  readonly lastStatus: RunStatus | undefined;
  readonly runCount: number;
  readonly skipCount: number;
  readonly consecutiveZeroWork: number;
  /** Paused by an operator: due slots are skipped (`paused`), only forced manual wakes run. */
  readonly paused: { readonly reason: string; readonly sinceWall: number } | undefined;
}

export function initialPolicyState(due: Due): AgentPolicyState {
  return {
    due,
    lastRunStartMono: undefined,
    lastRunAt: undefined,
    runStarts: [],
    pending: [],
    busy: undefined,
    floodHeldMono: undefined,
    lastStatus: undefined,
    runCount: 0,
    skipCount: 0,
    consecutiveZeroWork: 0,
    paused: undefined,
  };
}
